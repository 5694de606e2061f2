package dev.kiln.trainer.parallel;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Collective operations over the ranks of a stage, summing float32 values in native memory: a
 * tensor's own memory ({@code MemorySegment.ofBuffer(tensor.toByteBuffer(true))} on the CPU) or
 * a bucket, read and written in place by the transport, with no copies through Java arrays.
 * Floats are in native byte order (every rank of a stage runs on the same architecture). Every
 * rank calls the same operations in the same order with segments of the same size. A peer that
 * dies or hangs makes the call fail with an {@link IOException} instead of waiting forever.
 * The {@code float[]} forms are for small values (a loss, a norm) and copy.
 */
public interface Collectives extends AutoCloseable {

  ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

  int rank();

  int world();

  /** Sums the floats of {@code data} over all ranks, in place. */
  void allReduce(MemorySegment data) throws IOException;

  /**
   * Sums {@code data} (world x the floats of {@code shard}) over all ranks and leaves segment
   * {@code rank} of the sum in {@code shard}; {@code data} is scratch and left undefined.
   */
  void reduceScatter(MemorySegment data, MemorySegment shard) throws IOException;

  /** Every rank's {@code shard}, in rank order, into {@code data} (world x the floats of shard). */
  void allGather(MemorySegment shard, MemorySegment data) throws IOException;

  /** {@code root}'s {@code data} into every rank's. */
  void broadcast(MemorySegment data, int root) throws IOException;

  void barrier() throws IOException;

  default void allReduce(float[] data) throws IOException {
    MemorySegment copy = copyOf(data);
    allReduce(copy);
    MemorySegment.copy(copy, FLOAT, 0, data, 0, data.length);
  }

  default void reduceScatter(float[] data, float[] shard) throws IOException {
    MemorySegment target = Arena.ofAuto().allocate(4L * shard.length, 4);
    reduceScatter(copyOf(data), target);
    MemorySegment.copy(target, FLOAT, 0, shard, 0, shard.length);
  }

  default void allGather(float[] shard, float[] data) throws IOException {
    MemorySegment target = Arena.ofAuto().allocate(4L * data.length, 4);
    allGather(copyOf(shard), target);
    MemorySegment.copy(target, FLOAT, 0, data, 0, data.length);
  }

  default void broadcast(float[] data, int root) throws IOException {
    MemorySegment copy = copyOf(data);
    broadcast(copy, root);
    MemorySegment.copy(copy, FLOAT, 0, data, 0, data.length);
  }

  /** A native copy (transports may touch it from their own threads, so not a confined one). */
  private static MemorySegment copyOf(float[] values) {
    MemorySegment segment = Arena.ofAuto().allocate(4L * values.length, 4);
    MemorySegment.copy(values, 0, segment, FLOAT, 0, values.length);
    return segment;
  }

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
      public void allReduce(MemorySegment data) {}

      @Override
      public void reduceScatter(MemorySegment data, MemorySegment shard) {
        MemorySegment.copy(data, 0, shard, 0, shard.byteSize());
      }

      @Override
      public void allGather(MemorySegment shard, MemorySegment data) {
        MemorySegment.copy(shard, 0, data, 0, shard.byteSize());
      }

      @Override
      public void broadcast(MemorySegment data, int root) {}

      @Override
      public void barrier() {}

      @Override
      public void close() {}
    };
  }
}
