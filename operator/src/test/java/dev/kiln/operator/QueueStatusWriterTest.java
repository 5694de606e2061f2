package dev.kiln.operator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.TrainingQueueStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Queue statuses are written off the deciding thread: each queue's latest, in order, none lost. */
@Timeout(10)
class QueueStatusWriterTest {

  @Test
  void aStatusDecidedWhileAnotherIsBeingWrittenReplacesThoseNotYetWritten() throws Exception {
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<String> written = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService thread = Executors.newSingleThreadExecutor();
    QueueStatusWriter writer = new QueueStatusWriter((queue, status) -> {
      if (written.isEmpty()) {
        writing.countDown();
        await(release);  // the API server is slow to answer the first write
      }
      written.add(queue + "=" + status.getGpusInUse());
    }, thread);

    writer.accept("research", inUse(8));
    assertThat(writing.await(5, TimeUnit.SECONDS)).isTrue();
    writer.accept("research", inUse(16));
    writer.accept("vision", inUse(4));
    writer.accept("research", inUse(24));
    release.countDown();
    thread.shutdown();
    assertThat(thread.awaitTermination(5, TimeUnit.SECONDS)).isTrue();

    assertThat(written).as("16 was replaced before it was written; every queue ends at its latest")
        .containsExactly("research=8", "research=24", "vision=4");
  }

  private static TrainingQueueStatus inUse(int gpus) {
    TrainingQueueStatus status = new TrainingQueueStatus();
    status.setGpusInUse(gpus);
    return status;
  }

  private static void await(CountDownLatch latch) {
    try {
      assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
