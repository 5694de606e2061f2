package dev.kiln.trainer.parallel;

import java.io.IOException;

/**
 * Collective operations over the ranks of a stage, on float arrays (summing). Every rank calls
 * the same operations in the same order with arrays of the same length. A peer that dies or
 * hangs makes the call fail with an {@link IOException} instead of waiting forever.
 */
public interface Collectives extends AutoCloseable {

  int rank();

  int world();

  /** Sums {@code data} over all ranks, in place. */
  void allReduce(float[] data) throws IOException;

  /**
   * Sums {@code data} (length world x shard length) over all ranks and leaves segment
   * {@code rank} of the sum in {@code shard}.
   */
  void reduceScatter(float[] data, float[] shard) throws IOException;

  /** Every rank's {@code shard}, in rank order, into {@code data} (length world x shard length). */
  void allGather(float[] shard, float[] data) throws IOException;

  /** {@code root}'s {@code data} into every rank's. */
  void broadcast(float[] data, int root) throws IOException;

  void barrier() throws IOException;

  @Override
  void close() throws IOException;

  /** The single rank of a world of one: every operation leaves the data as it is. */
  static Collectives single() {
    return new Collectives() {
      @Override
      public int rank() {
        return 0;
      }

      @Override
      public int world() {
        return 1;
      }

      @Override
      public void allReduce(float[] data) {}

      @Override
      public void reduceScatter(float[] data, float[] shard) {
        System.arraycopy(data, 0, shard, 0, shard.length);
      }

      @Override
      public void allGather(float[] shard, float[] data) {
        System.arraycopy(shard, 0, data, 0, shard.length);
      }

      @Override
      public void broadcast(float[] data, int root) {}

      @Override
      public void barrier() {}

      @Override
      public void close() {}
    };
  }
}
