package dev.kiln.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
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

  @TestHTTPResource("/q/health/ready")
  URL health;

  @TestHTTPResource("/q/metrics")
  URL metrics;

  @Test
  void runsTheQuickstartJobThroughBothStages() {
    FakeCluster cluster = new FakeCluster(client);
    MultimodalPretrainJob job = TestJobs.example("quickstart.yaml");
    job.getMetadata().setUid(null);
    client.resource(job).create();

    completeWhenCreated(cluster, "quickstart-filter-shapes", null);
    completeWhenCreated(cluster, "quickstart-prepare-pretrain", null);
    completeWhenCreated(cluster, "quickstart-plan-pretrain", null);
    completeWhenCreated(cluster, "quickstart-write-pretrain", null);
    completeWhenCreated(cluster, "quickstart-pack-pretrain", null);
    completeWhenCreated(cluster, "quickstart-prepare-sft", null);
    completeWhenCreated(cluster, "quickstart-plan-sft", null);
    completeWhenCreated(cluster, "quickstart-write-sft", null);
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
    completeWhenCreated(cluster, "restarting-prepare-pretrain", null);
    completeWhenCreated(cluster, "restarting-plan-pretrain", null);
    completeWhenCreated(cluster, "restarting-write-pretrain", null);
    completeWhenCreated(cluster, "restarting-pack-pretrain", null);
    completeWhenCreated(cluster, "restarting-prepare-sft", null);
    completeWhenCreated(cluster, "restarting-plan-sft", null);
    completeWhenCreated(cluster, "restarting-write-sft", null);
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

  @Test
  void servesReadinessAndPrometheusMetricsOfWhatItDid() throws Exception {
    FakeCluster cluster = new FakeCluster(client);
    MultimodalPretrainJob job = TestJobs.example("quickstart.yaml");
    job.getMetadata().setName("metered");
    job.getMetadata().setUid(null);
    client.resource(job).create();
    completeWhenCreated(cluster, "metered-filter-shapes", null);
    completeWhenCreated(cluster, "metered-prepare-pretrain", null);
    completeWhenCreated(cluster, "metered-plan-pretrain", null);
    completeWhenCreated(cluster, "metered-write-pretrain", null);
    completeWhenCreated(cluster, "metered-pack-pretrain", null);
    completeWhenCreated(cluster, "metered-prepare-sft", null);
    completeWhenCreated(cluster, "metered-plan-sft", null);
    completeWhenCreated(cluster, "metered-write-sft", null);
    completeWhenCreated(cluster, "metered-pack-sft", null);
    await().atMost(WAIT).until(() -> cluster.job(NS, "metered-pretrain-a1") != null);
    cluster.failPod(NS, "metered-pretrain-a1", 0, 1, "Error");
    completeWhenCreated(cluster, "metered-pretrain-a2", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\"}");
    completeWhenCreated(cluster, "metered-sft-a1", "{\"step\":150,\"loss\":0.4}");
    await().atMost(WAIT).until(() -> cluster.get(job).getStatus().getPhase() == JobPhase.Succeeded);

    HttpResponse<String> ready = get(health);
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(ready.body()).contains("\"status\": \"UP\"");

    await().atMost(WAIT).untilAsserted(() -> {
      Map<String, Double> samples = PrometheusText.parse(get(metrics).body());
      assertThat(samples.get("kiln_jobs{phase=\"Succeeded\"}")).isGreaterThanOrEqualTo(1.0);
      assertThat(samples.get("kiln_stage_restarts_total")).isGreaterThanOrEqualTo(1.0);
      assertThat(samples.get("kiln_job_events_total{reason=\"AttemptFailed\",type=\"Warning\"}")).isGreaterThanOrEqualTo(1.0);
      assertThat(samples.get("kiln_reconcile_duration_seconds_count")).isGreaterThan(5.0);
      assertThat(samples).containsKey("kiln_reconcile_errors_total");
      assertThat(samples).containsKey("kiln_stage_disruptions_total");
      assertThat(samples.get("kiln_operator_leader")).as("leader election is off in tests: it leads").isEqualTo(1.0);
      assertThat(samples).containsKey("kiln_queue_admitted_jobs{queue=\"default\"}");
      assertThat(samples).containsKey("kiln_queue_pending_jobs{queue=\"default\"}");
      assertThat(samples).containsKey("kiln_queue_gpus_in_use{queue=\"default\"}");
      // The chart's Grafana dashboard asks only for what the operator serves (kiln_trainer_*: the trainers').
      java.util.Set<String> served = new java.util.TreeSet<>();
      samples.keySet().forEach(k -> served.add(k.contains("{") ? k.substring(0, k.indexOf('{')) : k));
      String dashboard = java.nio.file.Files.readString(TestJobs.root().resolve("charts/kiln/dashboards/kiln.json"));
      java.util.Set<String> asked = new java.util.TreeSet<>();
      java.util.regex.Pattern.compile("kiln_(?!trainer_)[a-z_]+").matcher(dashboard).results()
          .forEach(m -> asked.add(m.group()));
      assertThat(asked).as("positive control: the dashboard has operator panels").contains("kiln_jobs");
      assertThat(served).containsAll(asked);
    });
  }

  private static HttpResponse<String> get(URL url) throws Exception {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(HttpRequest.newBuilder(url.toURI()).build(), HttpResponse.BodyHandlers.ofString());
    }
  }

  private static void completeWhenCreated(FakeCluster cluster, String name, String summary) {
    await().atMost(WAIT).until(() -> cluster.job(NS, name) != null);
    cluster.complete(NS, name, summary);
  }
}
