package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.api.Crds;
import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.CheckpointsStatus;
import dev.kiln.api.v1alpha1.FailureStatus;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.QueueStatus;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.api.validation.JobValidator;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code kiln status NAME} and {@code kiln pin NAME} against an API server, found through a kubeconfig as kubectl finds it. */
@EnableKubernetesMockClient(crud = true)
@Timeout(120)
class ClusterCommandsTest {

  static final String NS = "research";
  static final String SHA_A = "a".repeat(64);
  static final String SHA_B = "b".repeat(64);
  static final String SHA_T = "c".repeat(64);

  KubernetesClient client;
  KubernetesMockServer server;
  @TempDir
  Path dir;
  Path kubeconfig;

  @BeforeEach
  void setUp() throws IOException {
    CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions()
        .load(new ByteArrayInputStream(Crds.yaml(Crds.JOBS).getBytes(StandardCharsets.UTF_8))).item();
    client.resource(crd).create();
    kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(kubeconfig, """
        apiVersion: v1
        kind: Config
        clusters:
          - name: test
            cluster: {server: "%s", insecure-skip-tls-verify: true}
        users:
          - name: someone
            user: {token: secret-token}
        contexts:
          - name: test
            context: {cluster: test, user: someone, namespace: %s}
        current-context: test
        """.formatted(client.getMasterUrl(), NS));
  }

  @Test
  void statusShowsPhaseProgressQueueTheLastFailureHealthAndWhereTheLogsAre() {
    MultimodalPretrainJob job = create(training());
    client.v1().events().inNamespace(NS).resource(new EventBuilder().withNewMetadata().withName("quickstart.1").endMetadata()
        .withNewInvolvedObject().withKind("MultimodalPretrainJob").withName("quickstart").withNamespace(NS).endInvolvedObject()
        .withType("Warning").withReason("AttemptFailed").withMessage("stage pretrain attempt 1: NCCL timeout (restart 1 of 3)")
        .withLastTimestamp("2026-12-04T10:00:00Z").build()).create();
    client.pods().inNamespace(NS).resource(new PodBuilder().withNewMetadata().withName("quickstart-pretrain-a2-0-x")
        .addToLabels("kiln.dev/job", "quickstart").endMetadata().build()).create();

    KilnCommandTest.Result result = KilnCommandTest.kiln("status", "quickstart", "--kubeconfig", kubeconfig.toString());

    assertThat(result.exit()).as(result.out() + result.err()).isZero();
    assertThat(result.out())
        .startsWith("research/quickstart: Training pretrain: stage pretrain attempt 2\n")
        .contains("  progress   pretrain step 333/800  loss 0.1057  17636 tok/s  ETA 0m47s")
        .contains("  queue      default: admitted")
        .contains("  pretrain   Running            attempt 2, restarts 1, disruptions 0")
        .contains("  last failure  pretrain attempt 1: Error: RuntimeError: NCCL timeout (pod quickstart-pretrain-a1-0-abc)")
        .contains("  health     Ready=False Reconciling=True Stalled=False")
        .contains("  logs       kubectl logs -n research -l kiln.dev/job=quickstart,kiln.dev/stage=pretrain --prefix --tail=50 (1 pod)")
        .contains("    Warning AttemptFailed: stage pretrain attempt 1: NCCL timeout (restart 1 of 3)");
    assertThat(result.out()).doesNotContain("secret-token");
    assertThat(job).isNotNull();
  }

  @Test
  void statusShowsDataPreparationsProgressWhileItRuns() {
    MultimodalPretrainJob job = training();
    job.getStatus().setPhase(JobPhase.DataPrep);
    job.getStatus().setStage(null);
    job.getStatus().setMessage("packing: pretrain prepare (3 of 8 tasks done)");
    ProgressStatus progress = new ProgressStatus();
    progress.setDisplay("pack prepare 3/8 tasks, 260.5 samples/s, ETA 1h05m");
    job.getStatus().setProgress(progress);
    create(job);

    KilnCommandTest.Result result = KilnCommandTest.kiln("status", "quickstart", "--kubeconfig", kubeconfig.toString());

    assertThat(result.out()).startsWith("research/quickstart: DataPrep: packing: pretrain prepare (3 of 8 tasks done)\n")
        .contains("  progress   pack prepare 3/8 tasks, 260.5 samples/s, ETA 1h05m\n");
  }

  @Test
  void watchFollowsTheJobUntilItFinishes() throws Exception {
    MultimodalPretrainJob job = create(training());
    CompletableFuture<KilnCommandTest.Result> watching = CompletableFuture.supplyAsync(() -> KilnCommandTest.kiln(
        "status", "quickstart", "-n", NS, "--kubeconfig", kubeconfig.toString(), "--watch", "--interval", "1"));
    // Positive control: still watching while the job trains.
    Awaitility.await().during(2, TimeUnit.SECONDS).atMost(5, TimeUnit.SECONDS).until(() -> !watching.isDone());

    MultimodalPretrainJob current = client.resource(job).get();
    current.getStatus().setPhase(JobPhase.Succeeded);
    current.getStatus().setMessage("all 2 stages complete");
    client.resource(current).updateStatus();

    KilnCommandTest.Result result = watching.get(30, TimeUnit.SECONDS);
    assertThat(result.exit()).isZero();
    assertThat(result.out()).contains("research/quickstart: Training pretrain")
        .contains("research/quickstart: Succeeded pretrain: all 2 stages complete");
  }

  @Test
  void aJobThatIsNotThereIsSaidSoNamingTheNamespaceAndTheServer() {
    KilnCommandTest.Result result = KilnCommandTest.kiln("status", "nope", "--kubeconfig", kubeconfig.toString());
    assertThat(result.exit()).isEqualTo(StatusCommand.NO_RUN);
    assertThat(result.out()).contains("no MultimodalPretrainJob nope in namespace research on " + client.getMasterUrl());
  }

  @Test
  void pinTurnsAFinishedJobOnTheClusterIntoTheYamlThatReproducesItImagesByDigest() throws IOException {
    MultimodalPretrainJob finished = training();
    finished.getStatus().setPhase(JobPhase.Succeeded);
    ReproducibilityStatus record = new ReproducibilityStatus();
    record.getPackedData().put("pretrain", SHA_A);
    record.getPackedData().put("sft", SHA_B);
    record.setTokenizerSha256(SHA_T);
    record.getImages().put("dataJobs", "ghcr.io/kiln-dev/kiln-data-jobs:0.1.0");
    record.getImages().put("trainer/pretrain", "ghcr.io/kiln-dev/kiln-trainer:0.1.0");
    record.getImages().put("trainer/sft", "ghcr.io/kiln-dev/kiln-trainer:0.1.0");
    record.getImageIds().put("dataJobs", "ghcr.io/kiln-dev/kiln-data-jobs@sha256:" + "1".repeat(64));
    record.getImageIds().put("trainer/pretrain", "docker-pullable://ghcr.io/kiln-dev/kiln-trainer@sha256:" + "2".repeat(64));
    record.getImageIds().put("trainer/sft", "ghcr.io/kiln-dev/kiln-trainer@sha256:" + "2".repeat(64));
    finished.getStatus().setReproducibility(record);
    create(finished);
    Path out = dir.resolve("pinned.yaml");

    KilnCommandTest.Result result = KilnCommandTest.kiln("pin", "quickstart", "--kubeconfig", kubeconfig.toString(),
        "--name", "quickstart-again", "-o", out.toString());

    assertThat(result.exit()).as(result.err()).isZero();
    assertThat(result.err()).doesNotContain("by tag");
    JsonNode pinned = new YAMLMapper().readTree(out.toFile());
    assertThat(pinned.at("/metadata/name").asText()).isEqualTo("quickstart-again");
    assertThat(pinned.at("/metadata/uid").isMissingNode()).isTrue();
    assertThat(pinned.at("/metadata/resourceVersion").isMissingNode()).isTrue();
    assertThat(pinned.has("status")).isFalse();
    assertThat(pinned.at("/spec/reproduce/packedData/0/manifestSha256").asText()).isEqualTo(SHA_A);
    assertThat(pinned.at("/spec/reproduce/packedData/1/stage").asText()).isEqualTo("sft");
    assertThat(pinned.at("/spec/reproduce/tokenizerSha256").asText()).isEqualTo(SHA_T);
    assertThat(pinned.at("/spec/images/trainer").asText()).isEqualTo("ghcr.io/kiln-dev/kiln-trainer@sha256:" + "2".repeat(64));
    assertThat(pinned.at("/spec/images/dataJobs").asText()).isEqualTo("ghcr.io/kiln-dev/kiln-data-jobs@sha256:" + "1".repeat(64));
    assertThat(JobValidator.validate(JobFiles.read(out).getFirst())).isEmpty();
  }

  @Test
  void aJobWhoseDataIsNotPackedYetCannotBePinned() {
    create(training());
    KilnCommandTest.Result result = KilnCommandTest.kiln("pin", "quickstart", "--kubeconfig", kubeconfig.toString());
    assertThat(result.exit()).isEqualTo(PinCommand.NOT_PINNABLE);
    assertThat(result.err()).contains("job quickstart has no packed data recorded for stage(s) pretrain, sft");
  }

  // --- the job -------------------------------------------------------------------------------

  private MultimodalPretrainJob create(MultimodalPretrainJob job) {
    MultimodalPretrainJobStatus status = job.getStatus();
    job.setStatus(null);
    MultimodalPretrainJob created = client.resource(job).create();
    created.setStatus(status);
    return client.resource(created).updateStatus();
  }

  /** The quickstart training its first stage's second attempt, as the operator writes its status. */
  private static MultimodalPretrainJob training() {
    MultimodalPretrainJob job = JobFiles.read(Path.of(System.getProperty("kiln.home", ".."), "examples/quickstart.yaml"))
        .getFirst();
    job.getMetadata().setNamespace(NS);
    MultimodalPretrainJobStatus status = new MultimodalPretrainJobStatus();
    status.setPhase(JobPhase.Training);
    status.setStage("pretrain");
    status.setMessage("stage pretrain attempt 2");
    status.setRestarts(1);
    status.setQueue(new QueueStatus("default", null, "admitted to queue default: CPU only"));
    ProgressStatus progress = new ProgressStatus();
    progress.setStage("pretrain");
    progress.setAttempt(2);
    progress.setStep(333L);
    progress.setTotalSteps(800L);
    progress.setLoss(0.1057);
    progress.setTokensPerSecond(17636.0);
    progress.setEtaSeconds(47L);
    status.setProgress(progress);
    StageStatus pretrain = new StageStatus();
    pretrain.setName("pretrain");
    pretrain.setPhase(StagePhase.Running);
    pretrain.setAttempt(2);
    pretrain.setRestarts(1);
    pretrain.setDisruptions(0);
    FailureStatus failure = new FailureStatus();
    failure.setReason("Error");
    failure.setMessage("RuntimeError: NCCL timeout");
    failure.setAttempt(1);
    failure.setPod("quickstart-pretrain-a1-0-abc");
    failure.setTime("2026-12-04T10:00:00Z");
    pretrain.setLastFailure(failure);
    StageStatus sft = new StageStatus();
    sft.setName("sft");
    sft.setPhase(StagePhase.Pending);
    status.getStages().add(pretrain);
    status.getStages().add(sft);
    status.setCheckpoints(new CheckpointsStatus());
    for (String[] c : new String[][] {{"Ready", "False"}, {"Reconciling", "True"}, {"Stalled", "False"}}) {
      status.getConditions().add(new ConditionBuilder().withType(c[0]).withStatus(c[1]).withReason("Training")
          .withLastTransitionTime("2026-12-04T10:00:00Z").build());
    }
    job.setStatus(status);
    return job;
  }
}
