package dev.kiln.trainer.data;

import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.model.PackedBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Builds micro-batches (JPEG decoding, segments, positions, targets) on a background thread, a few ahead of
 * the training loop, and measures how long the loop waits for them.
 */
public final class BatchPrefetcher implements AutoCloseable {

  static final int DEPTH = 4;

  private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(DEPTH);
  private final Thread worker;
  private volatile boolean closed;
  private long waitNanos;

  /**
   * @param cursor global position of this rank's first micro-batch in the data order
   * @param rank this rank; ranks take consecutive slices of each global batch
   */
  public BatchPrefetcher(PackedDataset dataset, DataOrder order, long cursor, int globalBatch, int microBatch, int rank,
      int world, PackedAttention attention, int padToken) {
    int perRank = globalBatch / world;
    worker = Thread.ofPlatform().name("kiln-prefetch").daemon().start(() -> {
      long position = cursor;
      try {
        while (!closed) {
          // One global batch: this rank's slice, split into micro-batches.
          long base = position + (long) rank * perRank;
          for (int m = 0; m < perRank; m += microBatch) {
            List<PackedSequence> rows = new ArrayList<>();
            for (int i = 0; i < microBatch; i++) {
              rows.add(dataset.get(order.at(base + m + i)));
            }
            int length = rows.getFirst().sequenceLength();
            queue.put(PackedBatch.of(rows, length, attention, padToken));
          }
          position += globalBatch;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        queue.offer(e);
      }
    });
  }

  /** The next micro-batch; blocks (and counts the wait) when the worker is behind. */
  public PackedBatch next() {
    long start = System.nanoTime();
    try {
      Object item = queue.poll(10, TimeUnit.MINUTES);
      waitNanos += System.nanoTime() - start;
      if (item instanceof RuntimeException e) {
        throw new IllegalStateException("data loading failed: " + e.getMessage(), e);
      }
      if (item == null) {
        throw new IllegalStateException("data loading stalled for 10 minutes");
      }
      return (PackedBatch) item;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for data", e);
    }
  }

  /** Nanoseconds spent waiting since the last call. */
  public long takeWaitNanos() {
    long w = waitNanos;
    waitNanos = 0;
    return w;
  }

  @Override
  public void close() {
    closed = true;
    worker.interrupt();
  }
}
