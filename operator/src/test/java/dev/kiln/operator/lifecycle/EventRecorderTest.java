package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Events are written off the reconcile, in order, and dropped rather than queued without bound. */
@EnableKubernetesMockClient(crud = true)
@Timeout(30)
class EventRecorderTest {

  KubernetesClient client;

  @Test
  void eventsRecordedInTheBackgroundAreAllWrittenInTheOrderRecorded() {
    AtomicInteger heard = new AtomicInteger();
    EventRecorder events = EventRecorder.inBackground(client, Clock.systemUTC(), (type, reason) -> heard.incrementAndGet());
    MultimodalPretrainJob job = job("quickstart");

    for (int i = 0; i < 20; i++) {
      events.normal(job, "Step" + i, "step " + i);
    }

    assertThat(heard).as("counted as recorded, before any write").hasValue(20);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(client.v1().events().inNamespace("team")
        .list().getItems()).hasSize(20));
    assertThat(client.v1().events().inNamespace("team").list().getItems().stream().map(Event::getReason))
        .as("the store lists in the order written").containsExactly(java.util.stream.IntStream.range(0, 20)
            .mapToObj(i -> "Step" + i).toArray(String[]::new));
  }

  @Test
  void aWriterThatCannotKeepUpDropsNewEventsInsteadOfHoldingTheReconcile() throws Exception {
    ThreadPoolExecutor writer = EventRecorder.writerThread(2);
    CountDownLatch apiServerAnswers = new CountDownLatch(1);
    CountDownLatch writing = new CountDownLatch(1);
    AtomicInteger written = new AtomicInteger();
    writer.execute(() -> {
      writing.countDown();
      try {
        apiServerAnswers.await(10, TimeUnit.SECONDS);  // a slow API server
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      written.incrementAndGet();
    });
    assertThat(writing.await(5, TimeUnit.SECONDS)).isTrue();

    for (int i = 0; i < 5; i++) {
      writer.execute(written::incrementAndGet);  // returns at once: two wait, three are dropped
    }
    assertThat(writer.getQueue()).hasSize(2);
    apiServerAnswers.countDown();
    writer.shutdown();
    assertThat(writer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();

    assertThat(written).as("the one being written and the two waiting").hasValue(3);
  }

  private static MultimodalPretrainJob job(String name) {
    MultimodalPretrainJob job = new MultimodalPretrainJob();
    job.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("team").withUid("uid-" + name).build());
    return job;
  }
}
