package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.TrainerProgress;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ReproduceSpec;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.operator.FakeCluster;
import dev.kiln.operator.TestJobs;
import dev.kiln.operator.admission.ImmediateAdmission;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The state machine against the in-memory API server: the test plays the Job controller and the
 * kubelet (what each child did), the lifecycle decides everything else. Each {@link #reconcile}
 * is a fresh read of the job, as after an operator restart.
 */
@EnableKubernetesMockClient(crud = true)
class JobLifecycleTest {

  static final String NS = "research";

  KubernetesClient client;
  KubernetesMockServer server;
  FakeCluster cluster;
  TestClock clock;
  MultimodalPretrainJob job;
  /** What rank 0 answers at /progress; nothing unless a test says. */
  ProgressReader progress = ProgressReader.none();

  @BeforeEach
  void setUp() {
    cluster = new FakeCluster(client, server);
    cluster.registerCrd();
    clock = new TestClock();
  }

  // --- the whole journey ---------------------------------------------------------------------

  @Test
  void twoStageJobRunsFromDataPrepThroughARestartAndPromotionToSuccess() {
    create(TestJobs.example("quickstart.yaml"));

    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.DataPrep);
    assertThat(cluster.jobNames(NS)).containsExactly("quickstart-filter-shapes");
    assertThat(client.persistentVolumeClaims().inNamespace(NS).withName("quickstart-work").get()).isNotNull();

    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
    assertThat(cluster.jobNames(NS)).containsExactly("quickstart-filter-shapes", "quickstart-prepare-pretrain",
        "quickstart-prepare-sft");
    assertThat(phase()).isEqualTo(JobPhase.DataPrep);
    assertThat(status().getMessage()).isEqualTo("packing: pretrain prepare (0 of 1 tasks done), sft prepare (0 of 1 tasks done)");
    assertThat(status().getProgress().getDisplay()).as("kubectl's Progress column").isEqualTo("pack prepare 0/2 tasks");

    cluster.complete(NS, "quickstart-prepare-pretrain", "{\"samplesRead\":40,\"samplesKept\":38,\"samplesBad\":2}");
    reconcile();
    assertThat(cluster.jobNames(NS)).as("each stage's steps one after another").contains("quickstart-plan-pretrain")
        .doesNotContain("quickstart-plan-sft", "quickstart-write-pretrain");
    assertThat(status().getDataPrep().getProgress().getStep()).isEqualTo("pack plan, prepare");
    assertThat(status().getProgress().getDisplay()).isEqualTo("pack plan, prepare 0/2 tasks");
    cluster.completePacking(NS, "quickstart", this::reconcile);
    reconcile();
    assertThat(status().getDataPrep().getProgress()).as("none once the data is ready").isNull();
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.DATA_READY, "True"));
    assertThat(phase()).isEqualTo(JobPhase.Training);
    assertThat(status().getStage()).isEqualTo("pretrain");
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNotNull();
    assertThat(client.configMaps().inNamespace(NS).withName("quickstart-pretrain-config").get()).isNotNull();
    assertThat(client.services().inNamespace(NS).withName("quickstart-pretrain").get()).isNotNull();

    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");
    reconcileThroughRestart();
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).as("failed attempt deleted").isNull();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
    StageStatus pretrain = stage("pretrain");
    assertThat(pretrain.getAttempt()).isEqualTo(2);
    assertThat(pretrain.getRestarts()).isEqualTo(1);
    assertThat(pretrain.getLastFailure().getExitCode()).isEqualTo(1);
    assertThat(pretrain.getLastFailure().getMessage()).contains("RuntimeError: NCCL timeout");
    assertThat(status().getRestarts()).isEqualTo(1);

    cluster.complete(NS, "quickstart-pretrain-a2",
        "{\"step\":150,\"tokens\":61440,\"loss\":1.25,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\","
            + "\"manifestSha256\":\"abc123\"}");
    reconcile();
    assertThat(stage("pretrain").getPhase()).isEqualTo(StagePhase.Succeeded);
    assertThat(status().getCheckpoints().getPromoted().getPath()).isEqualTo("/kiln/workspace/checkpoints/pretrain/step-000150");
    assertThat(status().getCheckpoints().getPromoted().getStep()).isEqualTo(150);
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, "StagePretrainComplete", "True"));
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.PROMOTED, "True"));
    assertThat(status().getStage()).isEqualTo("sft");
    assertThat(cluster.job(NS, "quickstart-sft-a1")).isNotNull();
    assertThat(client.configMaps().inNamespace(NS).withName("quickstart-sft-config").get().getData().get("run.json"))
        .contains("\"initFrom\" : \"/kiln/workspace/checkpoints/pretrain/step-000150\"")
        .contains("\"visualTokens\" : 64");

    cluster.complete(NS, "quickstart-sft-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/sft/step-000150\"}");
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Succeeded);
    assertThat(status().getCompletionTime()).isNotNull();
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.SUCCEEDED, "True"));
    assertThat(status().getObservedGeneration()).isEqualTo(1);
    assertThat(status().getReproducibility().getConfigHash()).hasSize(64);
    assertThat(eventReasons()).contains("DataReady", "StageStarted", "AttemptFailed", "AttemptStarted", "StageComplete",
        "Promoted", "Succeeded");

    List<String> childrenBefore = cluster.jobNames(NS);
    reconcile();
    assertThat(cluster.jobNames(NS)).as("a finished job creates nothing more").isEqualTo(childrenBefore);
  }

  // --- progress and stalls --------------------------------------------------------------------

  @Test
  void progressReachesStatusWhileTrainingAboutOncePerInterval() {
    runToFirstAttempt();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    long[] step = {10};
    progress = pod -> Optional.of(new TrainerProgress("pretrain", 1, step[0], 800, step[0] * 2048, 1.5, 20000.0, 0.25));

    reconcile();
    var shown = status().getProgress();
    assertThat(shown.getStep()).isEqualTo(10);
    assertThat(shown.getDisplay()).isEqualTo("pretrain 10/800");
    assertThat(shown.getEtaSeconds()).isEqualTo(198);  // 790 steps at 0.25 s
    assertThat(shown.getAttempt()).isEqualTo(1);

    step[0] = 20;
    clock.advance(Duration.ofSeconds(10));
    reconcile();
    assertThat(status().getProgress().getStep()).as("written at most about once per 30 s interval").isEqualTo(10);
    clock.advance(Duration.ofSeconds(20));
    reconcile();
    assertThat(status().getProgress().getStep()).isEqualTo(20);
  }

  @Test
  void aNonFiniteLossIsShownButNeverWrittenIntoANumberField() {
    runToFirstAttempt();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    progress = pod -> Optional.of(new TrainerProgress("pretrain", 1, 10, 800, 20480, Double.NaN,
        Double.POSITIVE_INFINITY, 0.25));

    reconcile();  // checks that the API server would store the status

    var shown = status().getProgress();
    assertThat(shown.getStep()).isEqualTo(10);
    assertThat(shown.getLoss()).isNull();
    assertThat(shown.getTokensPerSecond()).isNull();
    assertThat(shown.getDisplay()).isEqualTo("pretrain 10/800 loss NaN");
  }

  @Test
  void aTrainerThatAnswersButNoLongerStepsIsRestartedAsStalled() {
    runToFirstAttempt();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    progress = pod -> Optional.of(new TrainerProgress("pretrain", 1, 10, 800, 20480, 1.5, 20000.0, 0.25));
    reconcile();

    clock.advance(Duration.ofSeconds(1800));
    reconcile();
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).as("within progressDeadlineSeconds").isNotNull();

    clock.advance(Duration.ofSeconds(2));
    reconcileThroughRestart();
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNull();
    // It recovers without a person: in flight, not stalled (Flux would call a Stalled job failed).
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.STALLED, "False"))
        .anySatisfy(c -> assertCondition(c, JobStatusAggregator.RECONCILING, "True"));
    assertThat(stage("pretrain").getRestarts()).as("a hang counts as a restart").isEqualTo(1);
    assertThat(stage("pretrain").getLastFailure().getReason()).isEqualTo("Stalled");
    assertThat(stage("pretrain").getLastFailure().getMessage()).contains("no training step for more than 1800s");
    assertThat(eventReasons()).contains("Stalled");

    cluster.stopPod(NS, "quickstart-pretrain-a1-0", 137);
    reconcile();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
    cluster.startPod(NS, "quickstart-pretrain-a2", 0, "node-0");
    progress = pod -> Optional.of(new TrainerProgress("pretrain", 2, 11, 800, 22528, 1.4, 20000.0, 0.25));
    reconcile();
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.STALLED, "False"))
        .anySatisfy(c -> assertCondition(c, JobStatusAggregator.RECONCILING, "True"));
  }

  @Test
  void theStatusSaysWhyAnAttemptsPodsDoNotRunIncludingPodsTheJobControllerCouldNotCreate() {
    runToFirstAttempt();
    cluster.failedCreate(NS, "quickstart-pretrain-a1", "Error creating: pods \"quickstart-pretrain-a1-0-x\" is"
        + " forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=15, limited: requests.cpu=16");

    reconcile();
    assertThat(status().getMessage()).as("moments after the Job, its pods are not asked about yet")
        .isEqualTo("stage pretrain attempt 1, waiting: 1 of 1 pods not created");

    clock.advance(StageAttempts.FAILED_CREATE_AFTER);
    reconcile();
    assertThat(status().getMessage()).isEqualTo("stage pretrain attempt 1, waiting: 1 of 1 pods not created (Error creating:"
        + " pods \"quickstart-pretrain-a1-0-x\" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used:"
        + " requests.cpu=15, limited: requests.cpu=16)");

    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    reconcile();
    assertThat(status().getMessage()).isEqualTo("stage pretrain attempt 1");
  }

  @Test
  void aTrainerThatDoesNotAnswerIsNeverCalledStalled() {
    runToFirstAttempt();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");

    clock.advance(Duration.ofHours(3));
    reconcile();

    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNotNull();
    assertThat(stage("pretrain").getRestarts()).isZero();
  }

  // --- failures ------------------------------------------------------------------------------

  @Test
  void evictionDoesNotConsumeARestart() {
    runToFirstAttempt();

    cluster.evictPod(NS, "quickstart-pretrain-a1", 0);
    reconcileThroughRestart();

    assertResumedAsADisruption();
  }

  @Test
  void aDrainThatDeletedThePodIsADisruptionNotARestart() {
    runToFirstAttempt();

    cluster.drainPod(NS, "quickstart-pretrain-a1", 0);
    reconcileThroughRestart();

    assertResumedAsADisruption();
    assertThat(stage("pretrain").getLastFailure().getMessage()).contains("quickstart-pretrain-a1-0-abcde", "deleted");
  }

  /** Attempt 2 runs, the first counted as a disruption, not against maxRestarts. */
  private void assertResumedAsADisruption() {
    StageStatus pretrain = stage("pretrain");
    assertThat(pretrain.getAttempt()).isEqualTo(2);
    assertThat(pretrain.getRestarts()).isZero();
    assertThat(pretrain.getDisruptions()).isEqualTo(1);
    assertThat(pretrain.getLastFailure().getReason()).isEqualTo("Disrupted");
    assertThat(status().getRestarts()).isZero();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
  }

  @Test
  void divergedTrainingFailsTheJobInsteadOfRetryingTheSameSteps() {
    runToFirstAttempt();

    cluster.failPod(NS, "quickstart-pretrain-a1", 0, ExitCodes.DIVERGED, "Error",
        "training diverged at step 57: loss NaN, gradient norm NaN at learning rate 0.00300");
    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("Diverged");
    assertThat(status().getMessage()).contains("training diverged at step 57");
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNull();
  }

  @Test
  void aRecordedFailureSurvivesAConflictOnTheWriteAfterItsAttemptWasReplaced() {
    runToFirstAttempt();
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");
    reconcile();

    reconcileLosingItsStatusWrite();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).as("replaced before the write was lost").isNotNull();
    reconcile();

    StageStatus pretrain = stage("pretrain");
    assertThat(pretrain.getAttempt()).isEqualTo(2);
    assertThat(pretrain.getPhase()).isEqualTo(StagePhase.Running);
    assertThat(pretrain.getRestarts()).isEqualTo(1);
    assertThat(pretrain.getLastFailure().getAttempt()).isEqualTo(1);
    assertThat(pretrain.getLastFailure().getReason()).isEqualTo("PodFailed");
  }

  @Test
  void aFailureWhoseRecordWasLostToAConflictIsDecidedAgainBeforeAnythingIsReplaced() {
    runToFirstAttempt();
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");

    reconcileLosingItsStatusWrite();
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).as("nothing acted on").isNotNull();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNull();
    reconcileThroughRestart();

    assertThat(stage("pretrain").getAttempt()).isEqualTo(2);
    assertThat(stage("pretrain").getRestarts()).isEqualTo(1);
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNull();
  }

  @Test
  void nonRetryableExitCodeFailsTheJob() {
    runToFirstAttempt();

    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 78, "Error");
    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("NonRetryableExitCode");
    assertThat(status().getMessage()).contains("exited with code 78");
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNull();
  }

  @Test
  void exhaustedRestartsFailTheJobWithTheLastCause() {
    create(withSpec(TestJobs.example("quickstart.yaml"), "maxRestarts: 1"));
    runToFirstAttemptOfCreatedJob();

    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");
    reconcileThroughRestart();
    assertThat(stage("pretrain").getLastFailure().getReason()).isEqualTo("PodFailed");
    cluster.failPod(NS, "quickstart-pretrain-a2", 0, 1, "Error");
    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("MaxRestartsExceeded");
    assertThat(stage("pretrain").getPhase()).isEqualTo(StagePhase.Failed);
    assertThat(cluster.job(NS, "quickstart-pretrain-a3")).isNull();
  }

  @Test
  void anOomKilledAttemptFailsTheJobAtOnceSayingWhatToChange() {
    create(TestJobs.example("quickstart.yaml"));
    runToFirstAttemptOfCreatedJob();

    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 137, "OOMKilled");
    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("OOMKilled");
    assertThat(status().getMessage()).startsWith("stage pretrain: pod quickstart-pretrain-a1-0-x89 was killed for using"
        + " more memory than").contains("resources.memory").contains("restartNonce");
    assertThat(stage("pretrain").getRestarts()).as("not retried: it would run out of memory again").isZero();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNull();
  }

  @Test
  void aSampleDataJobWritesTheQuickstartsDataIntoAClaimItCreatesBeforeAnythingReadsIt() {
    create(TestJobs.exampleAsWritten("quickstart.yaml"));
    reconcile();
    assertThat(cluster.jobNames(NS)).containsExactly("quickstart-sample-data");
    assertThat(status().getMessage()).isEqualTo("writing the shapes sample data into claim quickstart-data");
    var claim = client.persistentVolumeClaims().inNamespace(NS).withName("quickstart-data").get();
    assertThat(claim.getMetadata().getOwnerReferences()).extracting(o -> o.getName()).containsExactly("quickstart");
    var pod = cluster.job(NS, "quickstart-sample-data").getSpec().getTemplate().getSpec();
    assertThat(pod.getContainers().getFirst().getArgs()).containsExactly("sample-data", "shapes", "/kiln/data");
    assertThat(pod.getContainers().getFirst().getVolumeMounts()).filteredOn(m -> m.getName().equals("data"))
        .allSatisfy(m -> assertThat(m.getReadOnly()).isNotEqualTo(Boolean.TRUE));

    cluster.complete(NS, "quickstart-sample-data");
    reconcile();
    assertThat(cluster.jobNames(NS)).containsExactly("quickstart-filter-shapes", "quickstart-sample-data");
  }

  @Test
  void aFailedDataJobFailsTheJobAndARestartNonceRetriesIt() {
    create(TestJobs.example("quickstart.yaml"));
    reconcile();
    cluster.failJob(NS, "quickstart-filter-shapes");
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("DataPrepFailed");

    edit(j -> withNonce(j, "retry-1"));
    reconcile();

    assertThat(phase()).as("%s: %s", status().getReason(), status().getMessage()).isEqualTo(JobPhase.DataPrep);
    Map<String, String> labels = cluster.job(NS, "quickstart-filter-shapes").getMetadata().getLabels();
    assertThat(labels).containsEntry("kiln.dev/source", "shapes");
    assertThat(cluster.job(NS, "quickstart-filter-shapes").getStatus()).as("a fresh filter Job").isNull();
  }

  @Test
  void aFailedDataJobsMessageCarriesTheFailingPodsOwnWords() {
    create(TestJobs.example("quickstart.yaml"));
    reconcile();
    cluster.failPod(NS, "quickstart-filter-shapes", 0, 65, "Error", "filter: 2 of the 4 input shards of"
        + " /kiln/data/shapes/captions-{000000..000003}.tar do not exist: a.tar, b.tar\n");
    reconcile();

    assertThat(status().getReason()).isEqualTo("DataPrepFailed");
    assertThat(status().getMessage()).isEqualTo("Job quickstart-filter-shapes failed: pod quickstart-filter-shapes-0-x41"
        + " exited with code 65 (Error): filter: 2 of the 4 input shards of /kiln/data/shapes/captions-{000000..000003}.tar"
        + " do not exist: a.tar, b.tar");
  }

  @Test
  void aFailedPackingStepFailsTheJobAndTheRetryPacksThatStageAgainFromItsFirstStep() {
    createFiltered();
    cluster.complete(NS, "quickstart-prepare-pretrain");
    cluster.complete(NS, "quickstart-prepare-sft");
    reconcile();
    String otherStage = cluster.job(NS, "quickstart-plan-sft").getMetadata().getUid();
    // Each index had backoffLimitPerIndex retries of its own; the Job failed once they were spent.
    cluster.failPod(NS, "quickstart-plan-pretrain", 0, 65, "Error", "pack: prepare task 0 was run with other settings"
        + " (tasks=2) than this step (tasks=1): pack the stage again from its prepare step\n");
    reconcile();
    assertThat(status().getReason()).isEqualTo("DataPrepFailed");
    assertThat(status().getMessage()).startsWith("Job quickstart-plan-pretrain failed: pod quickstart-plan-pretrain-0")
        .contains("was run with other settings");

    edit(j -> withNonce(j, "retry-plan"));
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.DataPrep);
    assertThat(cluster.jobNames(NS)).as("a later step cannot mend what an earlier one left: the stage packs again")
        .contains("quickstart-prepare-pretrain").doesNotContain("quickstart-plan-pretrain");
    assertThat(cluster.job(NS, "quickstart-prepare-pretrain").getStatus()).as("a fresh prepare Job").isNull();
    assertThat(cluster.job(NS, "quickstart-plan-sft").getMetadata().getUid()).as("the other stage's steps kept")
        .isEqualTo(otherStage);
    packToFirstAttempt(Map.of());
  }

  @Test
  void aPrepareIndexThatFailsOnceIsRetriedByItsJobAndPackingGoesOn() {
    createFiltered();
    cluster.failIndexOnce(NS, "quickstart-prepare-pretrain", 0, 137, "pack: killed\n");

    reconcile();

    assertThat(phase()).as("backoffLimitPerIndex: the Job retries the index itself").isEqualTo(JobPhase.DataPrep);
    assertThat(status().getMessage()).isEqualTo("packing: pretrain prepare (0 of 1 tasks done), sft prepare (0 of 1"
        + " tasks done)");
    assertThat(eventReasons()).doesNotContain("DataPrepFailed");
    assertThat(cluster.job(NS, "quickstart-prepare-pretrain").getSpec().getBackoffLimitPerIndex() != null
        || cluster.job(NS, "quickstart-prepare-pretrain").getSpec().getBackoffLimit() > 0)
        .as("the Job has retries to spend").isTrue();
    packToFirstAttempt(Map.of());
  }

  @Test
  void aRestartedOperatorGoesOnFromThePackingStepReachedMakingNoStepAgain() {
    createFiltered();
    cluster.complete(NS, "quickstart-prepare-pretrain");
    // The operator made the next step's Job, then stopped before its status write landed.
    reconcileLosingItsStatusWrite();
    assertThat(status().getDataPrep().getPackJobs()).as("the status as before the lost write")
        .containsExactly("quickstart-prepare-pretrain", "quickstart-prepare-sft");
    Map<String, String> uids = new java.util.HashMap<>();
    cluster.jobs(NS).forEach(j -> uids.put(j.getMetadata().getName(), j.getMetadata().getUid()));

    reconcile();
    assertThat(status().getDataPrep().getPackJobs()).containsExactly("quickstart-prepare-pretrain",
        "quickstart-plan-pretrain", "quickstart-prepare-sft");
    assertThat(status().getMessage()).isEqualTo("packing: pretrain plan, sft prepare (0 of 1 tasks done)");
    cluster.jobs(NS).forEach(j -> assertThat(j.getMetadata().getUid()).as(j.getMetadata().getName() + " kept")
        .isEqualTo(uids.get(j.getMetadata().getName())));
    packToFirstAttempt(Map.of());
  }

  // --- user actions --------------------------------------------------------------------------

  @Test
  void suspendDeletesRunningPodsAndResumeStartsANewUncountedAttempt() {
    runToFirstAttempt();

    edit(j -> withSuspend(j, true));
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Suspended);
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNull();
    assertThat(cluster.job(NS, "quickstart-pack-pretrain")).as("finished data jobs are kept").isNotNull();
    reconcile();
    assertThat(cluster.jobNames(NS)).noneMatch(n -> n.startsWith("quickstart-pretrain-a"));

    edit(j -> withSuspend(j, false));
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Training);
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
    assertThat(stage("pretrain").getRestarts()).isZero();
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.SUSPENDED, "False"));
  }

  @Test
  void restartNonceStartsANewAttemptWithoutCountingIt() {
    runToFirstAttempt();

    edit(j -> withNonce(j, "2026-11-26"));
    reconcile();

    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNull();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
    assertThat(stage("pretrain").getRestarts()).isZero();
    assertThat(status().getObservedRestartNonce()).isEqualTo("2026-11-26");
  }

  @Test
  void manualPromotionWaitsForApproval() {
    create(withSpec(TestJobs.example("quickstart.yaml"), "promotion: {mode: Manual}"));
    runToFirstAttemptOfCreatedJob();
    cluster.complete(NS, "quickstart-pretrain-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\"}");

    reconcile();
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.AwaitingPromotion);
    assertThat(stage("pretrain").getPhase()).isEqualTo(StagePhase.AwaitingPromotion);
    assertThat(cluster.job(NS, "quickstart-sft-a1")).isNull();

    edit(j -> {
      j.getMetadata().setAnnotations(Map.of(JobLifecycle.APPROVE_PROMOTION, "pretrain"));
      return j;
    });
    reconcile();
    assertThat(stage("pretrain").getPhase()).isEqualTo(StagePhase.Succeeded);
    assertThat(cluster.job(NS, "quickstart-sft-a1")).isNotNull();
  }

  @Test
  void promotionGateFailsAStageThatEndedTooEarly() {
    create(withSpec(TestJobs.example("quickstart.yaml"), "promotion: {minStep: 500}"));
    runToFirstAttemptOfCreatedJob();
    cluster.complete(NS, "quickstart-pretrain-a1", "{\"step\":150}");

    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("PromotionGateFailed");
    assertThat(status().getMessage()).contains("step 150").contains("minStep 500");
  }

  @Test
  void finishedJobIsDeletedAfterItsTtl() {
    MultimodalPretrainJob quickstart = TestJobs.example("quickstart.yaml");
    var s = quickstart.getSpec();
    quickstart.setSpec(new dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec(s.model(), s.data(), s.stages().subList(0, 1),
        s.checkpoints(), s.scheduling(), s.images(), false, null, 600, s.seed(), s.reproduce()));
    create(quickstart);
    runToFirstAttemptOfCreatedJob();
    cluster.complete(NS, "quickstart-pretrain-a1", "{\"step\":150}");
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Succeeded);

    clock.advance(Duration.ofSeconds(599));
    assertThat(reconcile().requeueAfter()).contains(Duration.ofSeconds(1));
    clock.advance(Duration.ofSeconds(1));
    reconcile();

    assertThat(cluster.get(job)).isNull();
  }

  // --- robustness ----------------------------------------------------------------------------

  @Test
  void invalidSpecIsRejectedBeforeAnyChildAndAFixedSpecStarts() {
    MultimodalPretrainJob bad = TestJobs.example("quickstart.yaml");
    bad = withSpec(bad, "visualTokens: 15");
    create(bad);

    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("InvalidSpec");
    assertThat(status().getMessage()).startsWith("spec.stages[0].visualTokens: must be a perfect square");
    assertThat(cluster.jobs(NS)).isEmpty();
    assertThat(client.persistentVolumeClaims().inNamespace(NS).list().getItems()).isEmpty();

    edit(j -> withSpec(j, "visualTokens: 16"));
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.DataPrep);
    assertThat(cluster.jobNames(NS)).containsExactly("quickstart-filter-shapes");
  }

  @Test
  void aClaimEveryNodeOfAStageMountsMustAllowItBeforeAnythingStarts() {
    claim("datasets", "ReadOnlyMany");
    claim("model-weights", "ReadWriteOnce");
    create(multinode("qwen2vl-4n"));

    reconcile();

    assertThat(status().getPhase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getMessage()).isEqualTo("spec.model.initialWeights.claimName: claim model-weights "
        + "has access modes [ReadWriteOnce], but spec.stages[0] (pretrain) runs on 4 nodes that all mount it: use a "
        + "ReadOnlyMany or ReadWriteMany claim");
    assertThat(cluster.jobs(NS)).isEmpty();
    assertThat(client.persistentVolumeClaims().inNamespace(NS).withName("qwen2vl-4n-work").get()).isNull();

    client.persistentVolumeClaims().inNamespace(NS).withName("model-weights").delete();
    claim("model-weights", "ReadWriteMany");
    create(multinode("qwen2vl-4n-b"));
    reconcile();
    assertThat(status().getPhase()).as(status().getMessage()).isNotEqualTo(JobPhase.Failed);
  }

  /** Four nodes sharded over every rank, with its data and weights on claims the user provides. */
  private static MultimodalPretrainJob multinode(String name) {
    MultimodalPretrainJob job = withSpec(TestJobs.resource("multinode.yaml"), "sharding: FULL_SHARD");
    job.getMetadata().setNamespace(NS);
    job.getMetadata().setName(name);
    return job;
  }

  private void claim(String name, String accessMode) {
    client.persistentVolumeClaims().inNamespace(NS).resource(new io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder()
        .withNewMetadata().withName(name).endMetadata()
        .withNewSpec().withAccessModes(accessMode).withNewResources().addToRequests("storage",
            new io.fabric8.kubernetes.api.model.Quantity("1Ti")).endResources().endSpec().build()).create();
  }

  @Test
  void aStageTooBigForItsGpusIsWarnedAboutOnceAndTheWarningClearsWhenItFits() {
    create(withSpec(TestJobs.example("open-qwen2vl.yaml"), "recomputeActivations: false"));

    reconcile();
    reconcile();
    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.INSUFFICIENT_GPU_MEMORY, "True");
      assertThat(c.getReason()).isEqualTo("ExceedsGpuMemory");
      assertThat(c.getMessage()).startsWith("spec.stages[0]: needs about")
          .contains("more than the 40.0 GiB of NVIDIA-A100-SXM4-40GB: try recomputeActivations: true");
    });
    assertThat(eventReasons()).as("one warning, not one per reconcile").containsOnlyOnce("InsufficientGpuMemory");
    assertThat(phase()).as("a warning: the job goes on").isNotEqualTo(JobPhase.Failed);

    edit(j -> withSpec(j, "recomputeActivations: true"));
    reconcile();
    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.INSUFFICIENT_GPU_MEMORY, "False");
      assertThat(c.getReason()).isEqualTo("Fits");
    });
  }

  @Test
  void aJobThatFitsHasNoMemoryCondition() {
    create(TestJobs.example("open-qwen2vl.yaml"));

    reconcile();
    assertThat(status().getConditions()).as("positive control: the job was validated")
        .anySatisfy(c -> assertCondition(c, JobStatusAggregator.VALIDATED, "True"))
        .noneSatisfy(c -> assertThat(c.getType()).isEqualTo(JobStatusAggregator.INSUFFICIENT_GPU_MEMORY));
  }

  @Test
  void anAttemptTheReadsHaveNotHeardOfIsAdoptedFromTheApiServerNotStartedAgain() {
    runToFirstAttempt();

    // Created a moment ago: no pod yet, and the reads have not heard of it.
    notYetHeardOf.add("quickstart-pretrain-a1");
    reconcile();
    reconcile();
    assertThat(cluster.jobNames(NS)).as("no second attempt while the first runs").doesNotContain("quickstart-pretrain-a2");
    assertThat(stage("pretrain").getAttempt()).isEqualTo(1);
    assertThat(stage("pretrain").getJobName()).isEqualTo("quickstart-pretrain-a1");

    // Positive control: an attempt really gone from the API server is replaced.
    notYetHeardOf.clear();
    client.batch().v1().jobs().inNamespace(NS).withName("quickstart-pretrain-a1").delete();
    reconcile();
    assertThat(cluster.jobNames(NS)).contains("quickstart-pretrain-a2");
  }

  @Test
  void editingARunningStageIsRejectedAndNothingNewStarts() {
    runToFirstAttempt();

    edit(j -> withSpec(j, "visualTokens: 4"));
    reconcile();
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");
    reconcile();

    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.VALIDATED, "False");
      assertThat(c.getReason()).isEqualTo("SpecChangeRejected");
      assertThat(c.getMessage()).startsWith("spec.stages[0]: stage \"pretrain\" has started; only optimizer.lr");
    });
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNull();
  }

  @Test
  void aStartedStageTakesTheRecoveryTheDocsGiveAtItsNextAttemptAndNothingElse() {
    runToFirstAttempt();

    edit(j -> withSpec(j, "{resources: {nodes: 1, gpusPerNode: 0, memory: 12Gi}, batch: {globalBatchSize: 8, "
        + "microBatchSize: 2}, maxRestarts: 5, checkpointIntervalSteps: 50, pod: {labels: {team: vision}}}"));
    reconcile();
    assertThat(status().getConditions()).noneSatisfy(c -> assertCondition(c, JobStatusAggregator.VALIDATED, "False"));
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).as("the running attempt runs on").isNotNull();

    edit(j -> withNonce(j, "more-memory"));
    reconcile();
    var attempt = cluster.job(NS, "quickstart-pretrain-a2").getSpec().getTemplate();
    assertThat(attempt.getSpec().getContainers().getFirst().getResources().getLimits().get("memory"))
        .isEqualTo(new io.fabric8.kubernetes.api.model.Quantity("12Gi"));
    assertThat(attempt.getMetadata().getLabels()).containsEntry("team", "vision");
    String runConfig = client.configMaps().inNamespace(NS).withName("quickstart-pretrain-config").get().getData()
        .values().iterator().next();
    assertThat(runConfig.replace(" ", "")).contains("\"microBatchSize\":2");

    edit(j -> withSpec(j, "optimizer: {lr: 1.0e-5, weightDecay: 0.01, warmupRatio: 0.1}"));
    reconcile();
    assertThat(status().getConditions()).as("a lower learning rate and a longer warmup: how a diverged run continues")
        .noneSatisfy(c -> assertCondition(c, JobStatusAggregator.VALIDATED, "False"));

    edit(j -> withSpec(j, "optimizer: {lr: 1.0e-5, weightDecay: 0.2}"));
    reconcile();
    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.VALIDATED, "False");
      assertThat(c.getReason()).isEqualTo("SpecChangeRejected");
    });
  }

  @Test
  void aRetryAfterUnusablePackedDataPacksItAgainBeforeTheStageRestarts() {
    runToFirstAttempt();
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 65, "Error", "the packed data holds token id 151645, and the model's "
        + "vocabulary has 512 entries");
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Failed);

    edit(j -> withNonce(j, "repack"));
    reconcile();
    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.DATA_READY, "False");
      assertThat(c.getReason()).isEqualTo("Repacking");
    });
    assertThat(eventReasons()).contains("Repacking");
    assertThat(cluster.job(NS, "quickstart-pack-pretrain")).as("the stage's packing Jobs deleted").isNull();
    assertThat(cluster.job(NS, "quickstart-prepare-pretrain").getStatus() == null
        || cluster.job(NS, "quickstart-prepare-pretrain").getStatus().getConditions().isEmpty())
        .as("packing again from its first step").isTrue();
    assertThat(cluster.job(NS, "quickstart-pack-sft")).as("the other stage's packed data kept").isNotNull();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNull();

    cluster.completePacking(NS, "quickstart", this::reconcile);
    reconcile();
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
  }

  @Test
  void theModelIsImmutableFromTheFirstValidReconcileAsTheCrdRuleSays() {
    create(TestJobs.example("quickstart.yaml"));
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.DataPrep);

    edit(j -> {
      var s = j.getSpec();
      j.setSpec(new dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec(new dev.kiln.api.v1alpha1.ModelSpec(
          dev.kiln.api.v1alpha1.ModelPreset.SMALL, null, null, null, null), s.data(), s.stages(), s.checkpoints(),
          s.scheduling(), s.images(), s.suspend(), s.restartNonce(), s.ttlSecondsAfterFinished(), s.seed(), s.reproduce()));
      return j;
    });
    reconcile();

    assertThat(phase()).as("refused, not failed").isEqualTo(JobPhase.DataPrep);
    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.VALIDATED, "False");
      assertThat(c.getReason()).isEqualTo("SpecChangeRejected");
      assertThat(c.getMessage()).startsWith("spec.model: is immutable");
    });
  }

  @Test
  void anUnrecordedAttemptThatFailedBeforeAnyoneAdoptedItIsNotLeftBesideTheNext() {
    runToFirstAttempt();
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");
    reconcile();  // Restarting, attempt 1 recorded
    reconcileLosingItsStatusWrite();  // a1 retired, a2 created, its record lost
    assertThat(cluster.job(NS, "quickstart-pretrain-a2")).isNotNull();
    assertThat(stage("pretrain").getAttempt()).isEqualTo(1);
    cluster.failPod(NS, "quickstart-pretrain-a2", 0, 1, "Error");  // before any reconcile adopted it

    reconcile();
    reconcile();

    assertThat(cluster.jobNames(NS).stream().filter(n -> n.startsWith("quickstart-pretrain-a")))
        .as("the failed, unrecorded a2 goes when a3 starts").containsExactly("quickstart-pretrain-a3");
    cluster.complete(NS, "quickstart-pretrain-a3", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\"}");
    reconcile();
    assertThat(stage("pretrain").getPhase()).isEqualTo(StagePhase.Succeeded);
  }

  @Test
  void restartedOperatorAdoptsChildrenItCreatedBeforeLosingItsStatusWrite() {
    runToFirstAttempt();
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, 1, "Error");
    MultimodalPretrainJob beforeRestart = cluster.get(job);
    // The operator created attempt 2, then died before its status write landed.
    new ChildResources(client).ensure(dev.kiln.operator.manifests.StageJobManifest.build(beforeRestart, 0, 2,
        OperatorSettings.defaults("0.1.0")));

    reconcile();
    reconcile();

    assertThat(cluster.jobNames(NS).stream().filter(n -> n.startsWith("quickstart-pretrain-a")))
        .as("no attempt 3, no duplicate").containsExactly("quickstart-pretrain-a2");
    assertThat(stage("pretrain").getAttempt()).isEqualTo(2);
  }

  @Test
  void reconcilingAgainChangesNothing() {
    runToFirstAttempt();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    String resourceVersion = cluster.get(job).getMetadata().getResourceVersion();
    List<String> jobs = cluster.jobNames(NS);

    JobLifecycle.Outcome outcome = reconcile();

    assertThat(outcome.statusWritten()).isFalse();
    assertThat(cluster.get(job).getMetadata().getResourceVersion()).isEqualTo(resourceVersion);
    assertThat(cluster.jobNames(NS)).isEqualTo(jobs);
  }

  /**
   * A GitOps tool re-applies the committed YAML on every sync: the same file changes nothing (no
   * generation bump, no status write, no new attempt), and the operator's own writes never touch
   * what was applied. A changed file is the positive control.
   */
  @Test
  void applyingTheSameYamlAgainChangesNothingAndTheOperatorLeavesWhatWasAppliedAlone() {
    runToFirstAttempt();
    cluster.startPod(NS, "quickstart-pretrain-a1", 0, "node-0");
    reconcile();
    MultimodalPretrainJob before = cluster.get(job);
    var asApplied = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().valueToTree(TestJobs.example("quickstart.yaml"));
    var stored = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().valueToTree(before);
    assertThat(stored.get("spec")).as("the operator wrote nothing into the spec").isEqualTo(asApplied.get("spec"));
    assertThat(before.getMetadata().getFinalizers()).isNullOrEmpty();
    assertThat(before.getMetadata().getAnnotations()).isEqualTo(TestJobs.example("quickstart.yaml").getMetadata().getAnnotations());
    assertThat(before.getMetadata().getLabels()).isEqualTo(TestJobs.example("quickstart.yaml").getMetadata().getLabels());
    List<String> jobs = cluster.jobNames(NS);

    applyAsKubectlDoes(TestJobs.example("quickstart.yaml"));
    JobLifecycle.Outcome outcome = reconcile();

    assertThat(cluster.get(job).getMetadata().getGeneration()).isEqualTo(before.getMetadata().getGeneration());
    assertThat(outcome.statusWritten()).isFalse();
    assertThat(cluster.jobNames(NS)).isEqualTo(jobs);

    MultimodalPretrainJob changed = TestJobs.example("quickstart.yaml");
    applyAsKubectlDoes(withNonce(changed, "again"));
    assertThat(cluster.get(job).getMetadata().getGeneration()).as("positive control: a changed file is a new generation")
        .isGreaterThan(before.getMetadata().getGeneration());
    assertThat(reconcile().statusWritten()).isTrue();
  }

  /**
   * A sync that writes the whole file over the stored job (kubectl replace, or an apply whose
   * three-way patch is not empty). An unchanged file under kubectl apply sends no request at all.
   */
  private void applyAsKubectlDoes(MultimodalPretrainJob file) {
    MultimodalPretrainJob current = cluster.get(job);
    file.getMetadata().setUid(current.getMetadata().getUid());
    file.getMetadata().setResourceVersion(current.getMetadata().getResourceVersion());
    file.setStatus(current.getStatus());
    client.resource(file).update();
  }

  @Test
  void healthFollowsTheConventionsGitOpsToolsRead() {
    runToFirstAttempt();
    assertHealth("Reconciling");
    edit(j -> withSpec(j, "visualTokens: 4"));
    reconcile();
    assertHealth("Stalled");
    assertThat(condition(JobStatusAggregator.STALLED).getReason()).isEqualTo("SpecChangeRejected");
    edit(j -> withSpec(j, "visualTokens: 16"));
    reconcile();
    assertHealth("Reconciling");
    edit(j -> withSuspend(j, true));
    reconcile();
    assertHealth(null);
    assertThat(condition(JobStatusAggregator.READY).getReason()).isEqualTo("SuspendedByUser");
    edit(j -> withSuspend(j, false));
    reconcile();
    reconcile();
    assertHealth("Reconciling");
    String attempt = status().getStages().getFirst().getJobName();
    cluster.failPod(NS, attempt, 0, ExitCodes.CONFIG, "Error");
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertHealth("Stalled");
    assertThat(condition(JobStatusAggregator.STALLED).getMessage()).isEqualTo(status().getMessage());
  }

  @Test
  void aSucceededJobIsReadyAndNothingElse() {
    runToFirstAttempt();
    cluster.complete(NS, "quickstart-pretrain-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\"}");
    reconcile();
    cluster.complete(NS, "quickstart-sft-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/sft/step-000150\"}");
    reconcile();
    assertThat(phase()).isEqualTo(JobPhase.Succeeded);
    assertHealth("Ready");
  }

  /** Exactly one of Ready, Reconciling and Stalled is True ({@code null}: none, as while suspended). */
  private void assertHealth(String trueOne) {
    for (String type : List.of(JobStatusAggregator.READY, JobStatusAggregator.RECONCILING, JobStatusAggregator.STALLED)) {
      assertThat(condition(type).getStatus()).as("%s in phase %s", type, phase()).isEqualTo(type.equals(trueOne) ? "True" : "False");
      assertThat(condition(type).getObservedGeneration()).isEqualTo(cluster.get(job).getMetadata().getGeneration());
    }
  }

  private io.fabric8.kubernetes.api.model.Condition condition(String type) {
    return status().getConditions().stream().filter(c -> c.getType().equals(type)).findFirst().orElseThrow();
  }

  // --- pinned inputs -------------------------------------------------------------------------

  @Test
  void packedDataThatDiffersFromThePinsFailsTheJobBeforeAnyStageNamingEachDifferenceAndLosesNothing() {
    String a = "a".repeat(64);
    String b = "b".repeat(64);
    String tokenizer = "c".repeat(64);
    create(withReproduce(TestJobs.example("quickstart.yaml"), new ReproduceSpec(List.of(
        new ReproduceSpec.PackedDataPin("pretrain", a), new ReproduceSpec.PackedDataPin("sft", a)), tokenizer, null)));
    reconcile();
    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
    cluster.completePacking(NS, "quickstart", this::reconcile, Map.of("pretrain", packSummary(a, tokenizer),
        "sft", packSummary(b, tokenizer)));
    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("PinMismatch");
    assertThat(status().getMessage()).startsWith("spec.reproduce.packedData[sft]: expected manifest sha256 " + a
        + ", found " + b + ". Nothing was deleted").doesNotContain("[pretrain]").doesNotContain("tokenizer");
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.PINS_MATCHED, "False"));
    assertThat(status().getReproducibility().getPackedData()).containsExactly(Map.entry("pretrain", a), Map.entry("sft", b));
    assertThat(status().getReproducibility().getTokenizerSha256()).isEqualTo(tokenizer);
    assertThat(eventReasons()).contains("PinMismatch");
    assertThat(cluster.jobNames(NS)).as("no stage started, the packed data kept").containsExactlyInAnyOrder(
        "quickstart-filter-shapes", "quickstart-prepare-pretrain", "quickstart-plan-pretrain",
        "quickstart-write-pretrain", "quickstart-pack-pretrain", "quickstart-prepare-sft", "quickstart-plan-sft",
        "quickstart-write-sft", "quickstart-pack-sft");

    // Whichever was corrected, the inputs or the pins: the retry prepares the data again and holds it to the pins.
    edit(j -> withNonce(withReproduce(j, new ReproduceSpec(List.of(new ReproduceSpec.PackedDataPin("pretrain", a),
        new ReproduceSpec.PackedDataPin("sft", b)), tokenizer, null)), "pins-corrected"));
    reconcile();
    assertThat(cluster.jobNames(NS)).as("filtered and packed again").containsExactly("quickstart-filter-shapes");
    assertThat(phase()).isEqualTo(JobPhase.DataPrep);
    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
    cluster.completePacking(NS, "quickstart", this::reconcile, Map.of("pretrain", packSummary(a, tokenizer),
        "sft", packSummary(b, tokenizer)));
    reconcile();
    assertThat(status().getConditions()).anySatisfy(c -> assertCondition(c, JobStatusAggregator.PINS_MATCHED, "True"));
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).as("positive control: matching pins train").isNotNull();
  }

  @Test
  void aTrainerThatFindsOtherInitialWeightsThanPinnedFailsTheJobWithThePinsCondition() {
    runToFirstAttempt();
    String message = "spec.reproduce.initialWeightsSha256: expected " + "0".repeat(64) + ", found " + "1".repeat(64)
        + " (/kiln/weights/lm, /kiln/weights/ve); nothing was trained. Restore the pinned weights, or pin these";
    cluster.failPod(NS, "quickstart-pretrain-a1", 0, ExitCodes.PIN_MISMATCH, "Error", message);
    reconcile();

    assertThat(phase()).isEqualTo(JobPhase.Failed);
    assertThat(status().getReason()).isEqualTo("PinMismatch");
    assertThat(status().getMessage()).isEqualTo("stage pretrain: " + message);
    assertThat(status().getConditions()).anySatisfy(c -> {
      assertCondition(c, JobStatusAggregator.PINS_MATCHED, "False");
      assertThat(c.getMessage()).isEqualTo(message);
    });
    assertThat(stage("pretrain").getRestarts()).as("not retried: the same files would be found").isZero();
  }

  @Test
  void theInitialWeightsATrainerStartedFromAreRecorded() {
    runToFirstAttempt();
    cluster.complete(NS, "quickstart-pretrain-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/pretrain/step-000150\","
        + "\"initialWeightsSha256\":\"" + "4".repeat(64) + "\"}");
    reconcile();
    assertThat(status().getReproducibility().getInitialWeightsSha256()).isEqualTo("4".repeat(64));
    cluster.complete(NS, "quickstart-sft-a1", "{\"step\":150,\"checkpoint\":\"/kiln/workspace/checkpoints/sft/step-000150\"}");
    reconcile();
    assertThat(status().getReproducibility().getInitialWeightsSha256()).as("kept by a stage that did not report one")
        .isEqualTo("4".repeat(64));
  }

  @Test
  void aJobWithoutPinsRecordsWhatItsPackJobsReported() {
    runToFirstAttemptOfCreatedJobWithPackSummaries();
    assertThat(status().getConditions()).noneSatisfy(c -> assertThat(c.getType()).isEqualTo(JobStatusAggregator.PINS_MATCHED));
    assertThat(status().getReproducibility().getPackedData()).containsOnlyKeys("pretrain", "sft");
  }

  private void runToFirstAttemptOfCreatedJobWithPackSummaries() {
    createFiltered();
    packToFirstAttempt(Map.of("pretrain", packSummary("1".repeat(64), "3".repeat(64)), "sft",
        packSummary("2".repeat(64), "3".repeat(64))));
  }

  private static String packSummary(String manifest, String tokenizer) {
    return "{\"manifestSha256\":\"" + manifest + "\",\"tokenizerSha256\":\"" + tokenizer + "\",\"sequences\":12}";
  }

  private static MultimodalPretrainJob withReproduce(MultimodalPretrainJob job, ReproduceSpec pins) {
    var s = job.getSpec();
    job.setSpec(new dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec(s.model(), s.data(), s.stages(), s.checkpoints(),
        s.scheduling(), s.images(), s.suspend(), s.restartNonce(), s.ttlSecondsAfterFinished(), s.seed(), pins));
    return job;
  }

  @Test
  void everyChildIsOwnedByTheJobExceptARetainedClaim() {
    create(TestJobs.example("open-qwen2vl.yaml"));
    reconcile();

    List<HasMetadata> children = new java.util.ArrayList<>(cluster.jobs(NS));
    assertThat(children).isNotEmpty().allSatisfy(c -> assertThat(c.getMetadata().getOwnerReferences())
        .singleElement().satisfies(o -> assertThat(o.getUid()).isEqualTo(cluster.get(job).getMetadata().getUid())));
    assertThat(client.persistentVolumeClaims().inNamespace(NS).withName("open-qwen2vl-work").get()
        .getMetadata().getOwnerReferences()).as("retainOnDelete: true").isEmpty();
  }

  // --- helpers -------------------------------------------------------------------------------

  private void runToFirstAttempt() {
    create(TestJobs.example("quickstart.yaml"));
    runToFirstAttemptOfCreatedJob();
  }

  private void runToFirstAttemptOfCreatedJob() {
    reconcile();
    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
    packToFirstAttempt(Map.of());
  }

  /** The quickstart job created and its source filtered: each stage's prepare Job made. */
  private void createFiltered() {
    create(TestJobs.example("quickstart.yaml"));
    reconcile();
    cluster.complete(NS, "quickstart-filter-shapes");
    reconcile();
  }

  /** Every packing step done, each finish Job reporting {@code summaries.get(stage)}: the first stage's attempt made. */
  private void packToFirstAttempt(Map<String, String> summaries) {
    cluster.completePacking(NS, "quickstart", this::reconcile, summaries);
    reconcile();
    assertThat(cluster.job(NS, "quickstart-pretrain-a1")).isNotNull();
  }

  private void create(MultimodalPretrainJob fixture) {
    fixture.getMetadata().setUid(null);
    job = client.resource(fixture).create();
  }

  private void edit(UnaryOperator<MultimodalPretrainJob> change) {
    MultimodalPretrainJob current = cluster.get(job);
    client.resource(change.apply(current)).update();
  }

  /** Jobs the operator's reads do not see yet, as informers behind an expired watch miss a fresh create. */
  final java.util.Set<String> notYetHeardOf = new java.util.HashSet<>();

  private ChildResources children() {
    if (notYetHeardOf.isEmpty()) {
      return new ChildResources(client);
    }
    return new ChildResources(client, new ChildResources.Reads() {
      @Override
      public <T extends io.fabric8.kubernetes.api.model.HasMetadata> T get(T like) {
        return like instanceof io.fabric8.kubernetes.api.model.batch.v1.Job
            && notYetHeardOf.contains(like.getMetadata().getName()) ? null : client.resource(like).get();
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.batch.v1.Job> jobs(String namespace, String name) {
        return client.batch().v1().jobs().inNamespace(namespace).withLabel(dev.kiln.operator.manifests.Labels.JOB, name)
            .list().getItems().stream().filter(j -> !notYetHeardOf.contains(j.getMetadata().getName())).toList();
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.Pod> pods(String namespace, String name) {
        return client.pods().inNamespace(namespace).withLabel(dev.kiln.operator.manifests.Labels.JOB, name).list().getItems();
      }
    });
  }

  private JobLifecycle.Outcome reconcile() {
    JobLifecycle lifecycle = new JobLifecycle(children(), new EventRecorder(client, clock),
        new ImmediateAdmission(), progress, Duration.ofSeconds(30), OperatorSettings.defaults("0.1.0"), clock);
    MultimodalPretrainJob current = cluster.get(job);
    JobLifecycle.Outcome outcome = current == null ? null : lifecycle.reconcile(current);
    assertStoredJobIsValid();
    return outcome;
  }

  /**
   * A failed attempt is recorded by one reconcile and replaced by the next, which the operator runs
   * at once on its own status write (its event processing is not generation-aware).
   */
  private void reconcileThroughRestart() {
    assertThat(reconcile().requeueAfter()).as("acted on soon, not at the next poll").contains(JobLifecycle.ACT_ON_RECORD);
    assertThat(stage(status().getStage()).getPhase()).as("the failure recorded first").isEqualTo(StagePhase.Restarting);
    reconcile();
  }

  /** What the lifecycle wrote, status included, is what a real API server would have stored. */
  private void assertStoredJobIsValid() {
    var stored = client.genericKubernetesResources("kiln.dev/v1alpha1", "MultimodalPretrainJob").inNamespace(NS)
        .withName(job.getMetadata().getName()).get();
    if (stored != null) {
      JsonNode json = new ObjectMapper().valueToTree(stored);
      assertThat(CrdSchema.multimodalPretrainJob().validate(json)).as("the stored job and its status").isEmpty();
    }
  }

  /**
   * A reconcile whose status write is lost, as to a 409 Conflict (the in-memory API server has no
   * optimistic locking to refuse it): what it did to children stays, what it recorded does not.
   */
  private void reconcileLosingItsStatusWrite() {
    var before = cluster.get(job).getStatus();
    reconcile();
    MultimodalPretrainJob after = cluster.get(job);
    after.setStatus(before);
    client.resource(after).updateStatus();
  }

  private dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus status() {
    return cluster.get(job).getStatus();
  }

  private JobPhase phase() {
    return status().getPhase();
  }

  private StageStatus stage(String name) {
    return status().getStages().stream().filter(s -> s.getName().equals(name)).findFirst().orElseThrow();
  }

  private List<String> eventReasons() {
    return client.v1().events().inNamespace(NS).list().getItems().stream().map(Event::getReason).toList();
  }

  private static void assertCondition(io.fabric8.kubernetes.api.model.Condition c, String type, String value) {
    assertThat(c.getType()).isEqualTo(type);
    assertThat(c.getStatus()).isEqualTo(value);
  }

  /** The job with one field of its first stage replaced (YAML "field: value"). */
  private static MultimodalPretrainJob withSpec(MultimodalPretrainJob job, String stageField) {
    var tree = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().valueToTree(job);
    try {
      var patch = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(stageField);
      ((com.fasterxml.jackson.databind.node.ObjectNode) tree.at("/spec/stages/0")).setAll(
          (com.fasterxml.jackson.databind.node.ObjectNode) patch);
      return io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().treeToValue(tree, MultimodalPretrainJob.class);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static MultimodalPretrainJob withSuspend(MultimodalPretrainJob job, boolean suspend) {
    var s = job.getSpec();
    job.setSpec(new dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec(s.model(), s.data(), s.stages(), s.checkpoints(),
        s.scheduling(), s.images(), suspend, s.restartNonce(), s.ttlSecondsAfterFinished(), s.seed(), s.reproduce()));
    return job;
  }

  private static MultimodalPretrainJob withNonce(MultimodalPretrainJob job, String nonce) {
    var s = job.getSpec();
    job.setSpec(new dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec(s.model(), s.data(), s.stages(), s.checkpoints(),
        s.scheduling(), s.images(), s.suspend(), nonce, s.ttlSecondsAfterFinished(), s.seed(), s.reproduce()));
    return job;
  }
}
