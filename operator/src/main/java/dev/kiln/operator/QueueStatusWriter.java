package dev.kiln.operator;

import dev.kiln.api.v1alpha1.TrainingQueueStatus;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;

/**
 * Writes TrainingQueue statuses on a thread of their own, so that an admission decision never
 * waits for the API server: each queue's latest status, in the order decided, a newer one
 * replacing one not yet written. At 1,000 jobs nearly every decision changed its queue's status,
 * and writing it inside the decision held every other decision back for a quarter of the time.
 */
final class QueueStatusWriter implements BiConsumer<String, TrainingQueueStatus> {

  private final BiConsumer<String, TrainingQueueStatus> write;
  private final Executor writer;
  private final Map<String, TrainingQueueStatus> latest = new ConcurrentHashMap<>();

  /** Writes with {@code write} on one daemon thread. */
  QueueStatusWriter(BiConsumer<String, TrainingQueueStatus> write) {
    this(write, singleThread());
  }

  /** Writes with {@code write} on {@code writer}, which must run its tasks one at a time, in order. */
  QueueStatusWriter(BiConsumer<String, TrainingQueueStatus> write, Executor writer) {
    this.write = write;
    this.writer = writer;
  }

  /** The queue's status is to become {@code status}: written soon, unless a newer one comes first. */
  @Override
  public void accept(String queue, TrainingQueueStatus status) {
    if (latest.put(queue, status) == null) {
      writer.execute(() -> write.accept(queue, latest.remove(queue)));
    }
  }

  private static ExecutorService singleThread() {
    return Executors.newSingleThreadExecutor(task -> {
      Thread thread = new Thread(task, "kiln-queue-status");
      thread.setDaemon(true);
      return thread;
    });
  }
}
