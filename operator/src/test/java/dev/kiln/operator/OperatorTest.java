package dev.kiln.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The operator as it is deployed: Quarkus starts JOSDK, which watches jobs, Jobs and pods on the
 * in-memory API server and drives a two-stage job to Succeeded as the test plays the kubelet.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class OperatorTest {

  static final String NS = "research";
  static final Duration WAIT = Duration.ofSeconds(30);

  @Inject
  KubernetesClient client;

  @Test
  void runsTheQuickstartJobThroughBothStages() {
    FakeCluster cluster = new FakeCluster(client);
    MultimodalPretrainJob job = TestJobs.example("quickstart.yaml");
    job.getMetadata().setUid(null);
    client.resource(job).create();

    completeWhenCreated(cluster, "quickstart-filter-shapes", null);
    completeWhenCreated(cluster, "quickstart-pack-pretrain", null);
    completeWhenCreated(cluster, "quickstart-pack-sft", null);
    completeWhenCreated(cluster, "quickstart-pretrain-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\"}");
    completeWhenCreated(cluster, "quickstart-sft-a1", "{\"step\":150,\"loss\":0.4}");

    await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.get(job).getStatus().getPhase()).isEqualTo(JobPhase.Succeeded));
    MultimodalPretrainJob done = cluster.get(job);
    assertThat(done.getStatus().getCheckpoints().getPromoted().getStage()).isEqualTo("sft");
    assertThat(done.getStatus().getStages()).extracting(s -> s.getName() + "@" + s.getAttempt())
        .containsExactly("pretrain@1", "sft@1");
  }

  @Test
  void restartsAFailedAttemptOnceReadingChildrenFromItsCaches() throws InterruptedException {
    FakeCluster cluster = new FakeCluster(client);
    MultimodalPretrainJob job = TestJobs.example("quickstart.yaml");
    job.getMetadata().setName("restarting");
    job.getMetadata().setUid(null);
    client.resource(job).create();
    completeWhenCreated(cluster, "restarting-filter-shapes", null);
    completeWhenCreated(cluster, "restarting-pack-pretrain", null);
    completeWhenCreated(cluster, "restarting-pack-sft", null);
    await().atMost(WAIT).until(() -> cluster.job(NS, "restarting-pretrain-a1") != null);

    cluster.failPod(NS, "restarting-pretrain-a1", 0, 1, "Error");

    // The operator deletes attempt 1 and creates attempt 2 before its caches hear of either: it
    // must neither adopt the deleted Job nor create a third.
    await().atMost(WAIT).until(() -> cluster.job(NS, "restarting-pretrain-a2") != null);
    Thread.sleep(2_000);
    assertThat(cluster.jobNames(NS)).filteredOn(n -> n.startsWith("restarting-pretrain"))
        .containsExactly("restarting-pretrain-a2");
    var stage = cluster.get(job).getStatus().getStages().getFirst();
    assertThat(stage.getAttempt()).isEqualTo(2);
    assertThat(stage.getRestarts()).isEqualTo(1);
    assertThat(stage.getJobName()).isEqualTo("restarting-pretrain-a2");
  }

  private static void completeWhenCreated(FakeCluster cluster, String name, String summary) {
    await().atMost(WAIT).until(() -> cluster.job(NS, name) != null);
    cluster.complete(NS, name, summary);
  }
}
