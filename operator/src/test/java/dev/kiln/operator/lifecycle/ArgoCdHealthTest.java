package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.TrainerProgress;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec;
import dev.kiln.operator.FakeCluster;
import dev.kiln.operator.TestJobs;
import dev.kiln.operator.admission.ImmediateAdmission;
import dev.kiln.operator.manifests.OperatorSettings;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chart's Argo CD health check, run by a Lua 5.4 interpreter (Argo CD runs the same script in
 * gopher-lua, a Lua 5.1), on the statuses the real lifecycle writes in every phase.
 */
@EnableKubernetesMockClient(crud = true)
@Timeout(120)
class ArgoCdHealthTest {

  static final String NS = "research";
  static final Path SCRIPT = Path.of(System.getProperty("kiln.home", "..")).resolve("charts/kiln/health/multimodalpretrainjob.lua");

  KubernetesClient client;
  KubernetesMockServer server;
  FakeCluster cluster;
  MultimodalPretrainJob job;
  ProgressReader progress = ProgressReader.none();
  @TempDir
  Path work;

  /** What Argo CD shows for an object: its health status and message. */
  record Health(String status, String message) {}

  @BeforeEach
  void setUp() {
    cluster = new FakeCluster(client, server);
    cluster.registerCrd();
  }

  @Test
  void progressingWhilePreparingAndTrainingWithTheStageAndStepThenHealthy() throws Exception {
    job = client.resource(fresh(TestJobs.example("quickstart.yaml"))).create();
    assertThat(health()).isEqualTo(new Health("Progressing", "waiting for the Kiln operator"));

    reconcile();
    assertThat(cluster.get(job).getStatus().getPhase()).isEqualTo(JobPhase.DataPrep);
    assertThat(health().status()).isEqualTo("Progressing");
    assertThat(health().message()).startsWith("DataPrep: ");

    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
    cluster.completePacking(NS, "quickstart", this::reconcile);
    reconcile();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    progress = pod -> Optional.of(new TrainerProgress("pretrain", 1, 333, 800, 333 * 2048, 0.1057, 17636.0, 0.1));
    reconcile();
    assertThat(health()).isEqualTo(new Health("Progressing", "Training: stage pretrain step 333/800, loss 0.1057, ETA 47s"));

    cluster.complete(NS, "quickstart-pretrain-a1", "{\"step\":800,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000800\"}");
    reconcile();
    cluster.complete(NS, "quickstart-sft-a1", "{\"step\":400,\"checkpoint\":\"/kiln/workspace/checkpoints/sft/step-000400\"}");
    reconcile();
    assertThat(cluster.get(job).getStatus().getPhase()).isEqualTo(JobPhase.Succeeded);
    assertThat(health()).isEqualTo(new Health("Healthy", "all 2 stages complete"));
  }

  @Test
  void suspendedThenDegradedWhenItFailsOrCannotGoOn() throws Exception {
    job = client.resource(fresh(TestJobs.example("quickstart.yaml"))).create();
    reconcile();
    edit(j -> suspend(j, true));
    assertThat(health()).as("a spec the operator has not seen yet").isEqualTo(
        new Health("Progressing", "the Kiln operator has not yet acted on generation 2"));
    reconcile();
    assertThat(health().status()).isEqualTo("Suspended");

    edit(j -> suspend(j, false));
    reconcile();
    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
    cluster.completePacking(NS, "quickstart", this::reconcile);
    reconcile();
    assertThat(health().status()).isEqualTo("Progressing");

    edit(j -> withFirstStage(j, "visualTokens", 4));
    reconcile();
    assertThat(health().status()).as("a refused change of a started stage").isEqualTo("Degraded");
    assertThat(health().message()).startsWith("SpecChangeRejected: spec.stages[0]");

    edit(j -> withFirstStage(j, "visualTokens", 16));
    reconcile();
    assertThat(health().status()).isEqualTo("Progressing");
    String attempt = cluster.get(job).getStatus().getStages().getFirst().getJobName();
    cluster.failPod(NS, attempt, 0, ExitCodes.CONFIG, "Error", "pretrain: bad config");
    reconcile();
    assertThat(cluster.get(job).getStatus().getPhase()).isEqualTo(JobPhase.Failed);
    assertThat(health().status()).isEqualTo("Degraded");
    assertThat(health().message()).startsWith("NonRetryableExitCode: stage pretrain: pod quickstart-pretrain-a1-").contains("bad config");
  }

  @Test
  void queuedOrAwaitingPromotionIsProgressingWithWhatItWaitsFor() throws Exception {
    job = client.resource(fresh(TestJobs.example("quickstart.yaml"))).create();
    reconcile();
    MultimodalPretrainJob queued = cluster.get(job);
    queued.getStatus().setPhase(JobPhase.Queued);
    queued.getStatus().setMessage("position 3 in queue research: 16 GPUs in use of 16");
    assertThat(health(queued)).isEqualTo(new Health("Progressing", "Queued: position 3 in queue research: 16 GPUs in use of 16"));
    queued.getStatus().setPhase(JobPhase.AwaitingPromotion);
    queued.getStatus().setMessage("approve stage pretrain to continue");
    assertThat(health(queued)).isEqualTo(new Health("Progressing", "AwaitingPromotion: approve stage pretrain to continue"));
  }

  // --- running the script --------------------------------------------------------------------

  private Health health() throws IOException, InterruptedException {
    return health(cluster.get(job));
  }

  /** Runs the chart's script with {@code obj} as Argo CD builds it: the live object, as Lua tables. */
  private Health health(MultimodalPretrainJob live) throws IOException, InterruptedException {
    JsonNode object = Serialization.jsonMapper().valueToTree(live);
    Path harness = work.resolve("harness.lua");
    Files.writeString(harness, "obj = " + lua(object) + "\n"
        + "local hs = dofile(" + lua(Serialization.jsonMapper().valueToTree(SCRIPT.toAbsolutePath().toString())) + ")\n"
        + "io.write(hs.status, '\\n', hs.message or '')\n");
    Process lua = new ProcessBuilder("lua5.4", harness.toString()).redirectErrorStream(true).start();
    assertThat(lua.waitFor(30, TimeUnit.SECONDS)).as("lua5.4 finished").isTrue();
    String out = new String(lua.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(lua.exitValue()).as("lua5.4 said: %s", out).isZero();
    String[] lines = out.split("\n", 2);
    return new Health(lines[0], lines.length > 1 ? lines[1] : "");
  }

  /** A JSON value as a Lua constructor; null fields are absent, as in the tables Argo CD builds. */
  private static String lua(JsonNode node) {
    if (node.isObject()) {
      StringBuilder out = new StringBuilder("{");
      node.properties().forEach(e -> {
        if (!e.getValue().isNull()) {
          out.append('[').append(lua(Serialization.jsonMapper().valueToTree(e.getKey()))).append("]=")
              .append(lua(e.getValue())).append(',');
        }
      });
      return out.append('}').toString();
    }
    if (node.isArray()) {
      StringBuilder out = new StringBuilder("{");
      node.forEach(v -> out.append(lua(v)).append(','));
      return out.append('}').toString();
    }
    if (node.isTextual()) {
      StringBuilder out = new StringBuilder("\"");
      for (byte b : node.asText().getBytes(StandardCharsets.UTF_8)) {
        int c = b & 0xff;
        out.append(c < 0x20 || c == '"' || c == '\\' || c >= 0x7f ? String.format("\\%03d", c) : Character.toString(c));
      }
      return out.append('"').toString();
    }
    return node.isNull() ? "nil" : node.asText();
  }

  // --- the job -------------------------------------------------------------------------------

  private void reconcile() {
    new JobLifecycle(new ChildResources(client), new EventRecorder(client, java.time.Clock.systemUTC()), new ImmediateAdmission(),
        progress, Duration.ofSeconds(30), OperatorSettings.defaults("0.1.0"), java.time.Clock.systemUTC())
        .reconcile(cluster.get(job));
  }

  private void edit(UnaryOperator<MultimodalPretrainJob> change) {
    client.resource(change.apply(cluster.get(job))).update();
  }

  private static MultimodalPretrainJob fresh(MultimodalPretrainJob fixture) {
    fixture.getMetadata().setUid(null);
    return fixture;
  }

  private static MultimodalPretrainJob suspend(MultimodalPretrainJob job, boolean suspend) {
    MultimodalPretrainJobSpec s = job.getSpec();
    job.setSpec(new MultimodalPretrainJobSpec(s.model(), s.data(), s.stages(), s.checkpoints(), s.scheduling(), s.images(),
        suspend, s.restartNonce(), s.ttlSecondsAfterFinished(), s.seed(), s.reproduce()));
    return job;
  }

  private static MultimodalPretrainJob withFirstStage(MultimodalPretrainJob job, String field, int value) {
    var tree = Serialization.jsonMapper().valueToTree(job);
    ((com.fasterxml.jackson.databind.node.ObjectNode) tree.at("/spec/stages/0")).put(field, value);
    return Serialization.jsonMapper().convertValue(tree, MultimodalPretrainJob.class);
  }
}
