package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.trainer.loop.StepMetrics;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failures through the real operator process and real trainer processes: crashes resume from
 * the latest checkpoint with the loss curve continuing bit for bit, evictions are not counted,
 * restarts run out, the operator is killed in every phase (data prep, between data prep and stage 1,
 * each stage, automatic and manual promotion, suspended, finished with its TTL pending, deletion),
 * suspend and resume around a torn checkpoint, and deletion with and without the claim retained.
 */
class RecoveryTest {

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir
  Path folder;


  @Test
  void crashResumesFromTheLatestCheckpointExactlyAndADrainIsNotARestart() throws Exception {
    harness.start(folder, "tiny-data");
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml));

    Pod pretrain = harness.trainerPod("tiny", "pretrain");
    long killedAt = harness.awaitStep("tiny", "pretrain", 13);
    assertThat(harness.cluster().node().kill(LocalClusterHarness.NS, pretrain.getMetadata().getName())).isTrue();

    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.stage("tiny", "pretrain").getAttempt() == 2);
    Pod sft = harness.trainerPod("tiny", "sft");
    harness.awaitStep("tiny", "sft", 3);
    // A drain: evicted through the API, the pod is deleted once its Job has counted it.
    assertThat(harness.cluster().node().evictThroughApi(LocalClusterHarness.NS, sft.getMetadata().getName())).isTrue();
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.client().pods().inNamespace(LocalClusterHarness.NS)
        .withName(sft.getMetadata().getName()).get() == null);

    MultimodalPretrainJob done = harness.awaitPhase("tiny", JobPhase.Succeeded);
    var pretrainStatus = harness.stage("tiny", "pretrain");
    var sftStatus = harness.stage("tiny", "sft");
    assertThat(pretrainStatus.getRestarts()).isEqualTo(1);
    assertThat(pretrainStatus.getLastFailure().getExitCode()).isEqualTo(137);
    assertThat(sftStatus.getAttempt()).isEqualTo(2);
    assertThat(sftStatus.getRestarts()).as("a drain is not a restart").isZero();
    assertThat(sftStatus.getDisruptions()).isEqualTo(1);
    assertThat(done.getStatus().getCheckpoints().getPromoted().getStep()).isEqualTo(30);

    List<List<StepMetrics>> attempts = attempts(harness.metricLines("tiny", "pretrain"));
    assertThat(attempts).hasSize(2);
    long resumedFrom = attempts.get(1).getFirst().step() - 1;
    long crashedAfter = attempts.get(0).getLast().step();
    assertThat(crashedAfter).isGreaterThanOrEqualTo(killedAt);
    // The newest complete checkpoint; killed at a multiple of 10, the one being written may be torn.
    assertThat(resumedFrom).as("resumed from the newest checkpoint before the crash at step %d", crashedAfter)
        .isIn(crashedAfter / 10 * 10, crashedAfter % 10 == 0 ? crashedAfter - 10 : crashedAfter / 10 * 10);
    assertSameLosses(attempts.get(0), attempts.get(1));
    assertThat(attempts.get(1).getLast().step()).isEqualTo(60);

    deleteAndAwaitCleanup("tiny");
    assertThat(harness.client().persistentVolumeClaims().inNamespace(LocalClusterHarness.NS).withName("tiny-work").get())
        .as("retainOnDelete: false deletes the working claim").isNull();
  }

  @Test
  void operatorKilledInEveryPhaseOfARunAndSuspendResumeAroundATornCheckpoint() throws Exception {
    harness.start(folder, "tiny-data");
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml.replace("steps: 30", "steps: 80")
        .replace("retainOnDelete: false", "retainOnDelete: true")));

    var operator = harness.cluster().operator();
    // Data prep running.
    harness.awaitPhase("tiny", JobPhase.DataPrep);
    operator.restart(true);
    // Between data prep and stage 1: the last packing Jobs finish while no operator runs; the next
    // one starts training from them, packing nothing again.
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.childJobNames().containsAll(PACK_JOBS));
    operator.stop(true);
    Map<String, String> packUids = uids(PACK_JOBS);
    await().atMost(LocalClusterHarness.WAIT).until(() -> PACK_JOBS.stream().allMatch(this::succeeded));
    assertThat(harness.get("tiny").getStatus().getPhase()).isEqualTo(JobPhase.DataPrep);
    operator.start();
    // Stage 1 running.
    harness.awaitStep("tiny", "pretrain", 5);
    operator.restart(true);
    // Automatic promotion: stage 1 finishes while no operator runs; the next one promotes it and starts stage 2.
    harness.awaitStep("tiny", "pretrain", 45);
    operator.stop(true);
    assertThat(harness.lastStep("tiny", "pretrain")).as("killed before stage 1 ended").isLessThan(60);
    await().atMost(LocalClusterHarness.WAIT).until(() -> succeeded("tiny-pretrain-a1"));
    operator.start();
    // Stage 2 running.
    harness.trainerPod("tiny", "sft");
    harness.awaitStep("tiny", "sft", 3);
    operator.restart(true);
    assertThat(uids(PACK_JOBS)).as("data prep ran once").isEqualTo(packUids);

    harness.awaitStep("tiny", "sft", 22);
    harness.client().resources(MultimodalPretrainJob.class).inNamespace(LocalClusterHarness.NS).withName("tiny")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":true}}");
    harness.awaitPhase("tiny", JobPhase.Suspended);
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.trainerPods("tiny", "sft").isEmpty());
    // Its pod deleted, the trainer got SIGTERM: it checkpoints the step it was on and exits.
    String stopped = harness.awaitLogLine("tiny-sft-a", "stopped by SIGTERM at step ");
    long stoppedAt = Long.parseLong(stopped.replaceAll(".*stopped by SIGTERM at step (\\d+).*", "$1"));
    Path checkpoints = harness.workspace("tiny").resolve("checkpoints/sft");
    Path latest = checkpoints.resolve(Files.readString(checkpoints.resolve("latest")).strip());
    long latestStep = Long.parseLong(latest.getFileName().toString().substring("step-".length()));
    assertThat(latestStep).as("the newest checkpoint is the one SIGTERM wrote").isEqualTo(stoppedAt);
    // A torn write: the newest checkpoint's weights cut short (as a full disk or a dying node leaves them).
    Path weights = latest.resolve("model.safetensors");
    Files.write(weights, java.util.Arrays.copyOf(Files.readAllBytes(weights), 100));

    harness.client().resources(MultimodalPretrainJob.class).inNamespace(LocalClusterHarness.NS).withName("tiny")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":false}}");
    MultimodalPretrainJob done = harness.awaitPhase("tiny", JobPhase.Succeeded);

    List<List<StepMetrics>> sft = attempts(harness.metricLines("tiny", "sft"));
    assertThat(sft).hasSize(2);
    assertThat(sft.get(1).getFirst().step()).as("resumed from the periodic checkpoint before the torn one")
        .isEqualTo((latestStep - 1) / 10 * 10 + 1);
    assertSameLosses(sft.get(0), sft.get(1));
    assertThat(attempts(harness.metricLines("tiny", "pretrain"))).as("operator restarts never restart training").hasSize(1);
    assertThat(harness.stage("tiny", "pretrain").getAttempt()).isEqualTo(1);
    assertThat(harness.stage("tiny", "sft").getRestarts()).isZero();
    int sftAttempt = harness.stage("tiny", "sft").getAttempt();
    assertThat(harness.childJobNames()).as("no duplicate children")
        .isEqualTo(childJobs("tiny-pretrain-a1", "tiny-sft-a" + sftAttempt));
    assertThat(done.getStatus().getStages()).allMatch(s -> s.getPhase() == StagePhase.Succeeded);
    assertThat(harness.stage("tiny", "pretrain").getFinalCheckpoint().getStep()).as("stage 1 promoted while no operator ran")
        .isEqualTo(60);

    // Deletion with the operator down: the job and its children go once an operator is back.
    operator.stop(true);
    harness.client().resources(MultimodalPretrainJob.class).inNamespace(LocalClusterHarness.NS).withName("tiny").delete();
    operator.start();
    deleteAndAwaitCleanup("tiny");
    assertThat(harness.client().persistentVolumeClaims().inNamespace(LocalClusterHarness.NS).withName("tiny-work").get())
        .as("retainOnDelete: true keeps the working claim").isNotNull();
  }

  /** Each stage's packing Jobs: prepare, plan, write and the finishing pack Job. */
  private static final List<String> PACK_JOBS = List.of("tiny-prepare-pretrain", "tiny-plan-pretrain",
      "tiny-write-pretrain", "tiny-pack-pretrain", "tiny-prepare-sft", "tiny-plan-sft", "tiny-write-sft", "tiny-pack-sft");

  /** The job's data-prep Jobs and then the given stage attempts', sorted as {@code childJobNames} lists them. */
  private static List<String> childJobs(String... attempts) {
    List<String> names = new java.util.ArrayList<>(PACK_JOBS);
    names.add("tiny-filter-shapes");
    names.addAll(List.of(attempts));
    return names.stream().sorted().toList();
  }

  private boolean succeeded(String jobName) {
    var job = harness.client().batch().v1().jobs().inNamespace(LocalClusterHarness.NS).withName(jobName).get();
    return job != null && job.getStatus() != null && job.getStatus().getSucceeded() != null
        && job.getStatus().getSucceeded() > 0;
  }

  /** The uid of each named Job: a Job deleted and created again has a new one. */
  private Map<String, String> uids(List<String> jobNames) {
    Map<String, String> uids = new java.util.TreeMap<>();
    for (String name : jobNames) {
      uids.put(name, harness.client().batch().v1().jobs().inNamespace(LocalClusterHarness.NS).withName(name).get()
          .getMetadata().getUid());
    }
    return uids;
  }

  @Test
  void operatorKilledWhilePendingBetweenAttemptsAwaitingPromotionSuspendedAndBeforeTtl() throws Exception {
    harness.start(folder, "tiny-data");
    var operator = harness.cluster().operator();
    var jobs = harness.client().resources(MultimodalPretrainJob.class).inNamespace(LocalClusterHarness.NS);

    // Pending: the job is created while no operator runs; the first one to start picks it up.
    operator.stop(true);
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml.replace("steps: 60", "steps: 30")
        .replace("      checkpointIntervalSteps: 10\n    - name: sft",
            "      checkpointIntervalSteps: 10\n      promotion: {mode: Manual}\n    - name: sft")
        .replace("    retainOnDelete: false", "    retainOnDelete: false\n  ttlSecondsAfterFinished: 3")));
    Thread.sleep(1000);
    assertThat(harness.childJobNames()).as("nothing happens without an operator").isEmpty();
    operator.start();

    // Training, between attempts: the trainer dies, and so does the operator before it reacts.
    Pod pretrain = harness.trainerPod("tiny", "pretrain");
    harness.awaitStep("tiny", "pretrain", 12);
    operator.stop(true);
    assertThat(harness.cluster().node().kill(LocalClusterHarness.NS, pretrain.getMetadata().getName())).isTrue();
    await().atMost(LocalClusterHarness.WAIT).until(() -> "Failed".equals(harness.client().pods()
        .inNamespace(LocalClusterHarness.NS).withName(pretrain.getMetadata().getName()).get().getStatus().getPhase()));
    operator.start();
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.stage("tiny", "pretrain").getAttempt() == 2);

    // AwaitingPromotion: a restarted operator keeps waiting for the approval, and starts nothing.
    harness.awaitPhase("tiny", JobPhase.AwaitingPromotion);
    operator.stop(true);
    operator.start();
    harness.awaitReconciles(operator, 1);
    assertThat(harness.get("tiny").getStatus().getPhase()).isEqualTo(JobPhase.AwaitingPromotion);
    assertThat(harness.childJobNames()).noneMatch(name -> name.startsWith("tiny-sft-"));
    jobs.withName("tiny").patch(PatchContext.of(PatchType.JSON_MERGE),
        "{\"metadata\":{\"annotations\":{\"kiln.dev/approve-promotion\":\"pretrain\"}}}");

    // Suspended: a restarted operator keeps it suspended.
    harness.awaitStep("tiny", "sft", 3);
    jobs.withName("tiny").patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":true}}");
    harness.awaitPhase("tiny", JobPhase.Suspended);
    operator.stop(true);
    operator.start();
    harness.awaitReconciles(operator, 1);
    assertThat(harness.get("tiny").getStatus().getPhase()).isEqualTo(JobPhase.Suspended);
    assertThat(harness.trainerPods("tiny", "sft")).isEmpty();
    jobs.withName("tiny").patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":false}}");

    // Succeeded with its TTL pending: a restarted operator still deletes it when the TTL runs out.
    MultimodalPretrainJob done = harness.awaitPhase("tiny", JobPhase.Succeeded);
    assertThat(harness.childJobNames()).as("no duplicate children")
        .isEqualTo(childJobs("tiny-pretrain-a2", "tiny-sft-a" + harness.stage("tiny", "sft").getAttempt()));
    assertThat(harness.stage("tiny", "pretrain").getRestarts()).isEqualTo(1);
    assertThat(harness.stage("tiny", "sft").getRestarts()).isZero();
    assertThat(done.getStatus().getStages()).allMatch(s -> s.getPhase() == StagePhase.Succeeded);
    operator.stop(true);
    operator.start();
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.get("tiny") == null);
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.childJobNames().isEmpty());
  }

  @Test
  void nodesLostDuringDataPrepAndTrainingAreDisruptionsTheJobRecoversFrom() throws Exception {
    harness.start(folder, "tiny-data", 3);
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml));

    // Data prep: the node under a running data pod goes; its Job runs the pod again elsewhere.
    Pod data = await().atMost(LocalClusterHarness.WAIT).pollInterval(Duration.ofMillis(50))
        .until(() -> runningDataPod("tiny"), p -> p != null);
    String lostInDataPrep = data.getSpec().getNodeName();
    assertThat(harness.cluster().node().lose(lostInDataPrep)).as("the data pod was running when its node went").isEqualTo(1);

    // Training: the trainer's node goes; the stage resumes on the last node as a disruption.
    Pod pretrain = harness.trainerPod("tiny", "pretrain");
    String lostInTraining = pretrain.getSpec().getNodeName();
    assertThat(lostInTraining).isNotEqualTo(lostInDataPrep);
    harness.awaitStep("tiny", "pretrain", 13);
    assertThat(harness.cluster().node().lose(lostInTraining)).isEqualTo(1);
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.stage("tiny", "pretrain").getAttempt() == 2);
    Pod resumed = harness.trainerPod("tiny", "pretrain");
    assertThat(resumed.getSpec().getNodeName()).isNotIn(lostInDataPrep, lostInTraining);

    MultimodalPretrainJob done = harness.awaitPhase("tiny", JobPhase.Succeeded);
    var stage = harness.stage("tiny", "pretrain");
    assertThat(stage.getRestarts()).as("a lost node is not the trainer's fault").isZero();
    assertThat(stage.getDisruptions()).isEqualTo(1);
    List<List<StepMetrics>> attempts = attempts(harness.metricLines("tiny", "pretrain"));
    assertThat(attempts).hasSize(2);
    assertSameLosses(attempts.get(0), attempts.get(1));
    assertThat(attempts.get(1).getLast().step()).isEqualTo(60);
    assertThat(done.getStatus().getStages()).allMatch(s -> s.getPhase() == StagePhase.Succeeded);
    assertThat(harness.client().nodes().withName(lostInTraining).get()).as("the cloud removed the lost node").isNull();
  }

  /** A running filter or pack pod of the job, or null. */
  private Pod runningDataPod(String job) {
    return harness.client().pods().inNamespace(LocalClusterHarness.NS).withLabel("kiln.dev/job", job).list().getItems()
        .stream().filter(p -> List.of("filter", "pack").contains(p.getMetadata().getLabels().get("app.kubernetes.io/component")))
        .filter(p -> p.getStatus() != null && "Running".equals(p.getStatus().getPhase())
            && p.getMetadata().getDeletionTimestamp() == null)
        .findFirst().orElse(null);
  }

  @Test
  void exhaustedRestartsFailTheJobWithTheReason() throws Exception {
    harness.start(folder, "tiny-data");
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml.replace("      checkpointIntervalSteps: 10\n    - name: sft",
        "      checkpointIntervalSteps: 10\n      maxRestarts: 0\n    - name: sft")));

    Pod pretrain = harness.trainerPod("tiny", "pretrain");
    harness.awaitStep("tiny", "pretrain", 2);
    assertThat(harness.cluster().node().kill(LocalClusterHarness.NS, pretrain.getMetadata().getName())).isTrue();

    MultimodalPretrainJob failed = harness.awaitPhase("tiny", JobPhase.Failed);
    assertThat(failed.getStatus().getReason()).isEqualTo("MaxRestartsExceeded");
    assertThat(failed.getStatus().getMessage()).contains("maxRestarts 0").contains("exited with code 137");
  }

  private void deleteAndAwaitCleanup(String name) {
    harness.client().resources(MultimodalPretrainJob.class).inNamespace(LocalClusterHarness.NS).withName(name).delete();
    await().atMost(LocalClusterHarness.WAIT).untilAsserted(() -> {
      var ns = LocalClusterHarness.NS;
      assertThat(harness.get(name)).isNull();
      assertThat(harness.client().batch().v1().jobs().inNamespace(ns).list().getItems()).isEmpty();
      assertThat(harness.client().pods().inNamespace(ns).list().getItems()).isEmpty();
      assertThat(harness.client().configMaps().inNamespace(ns).withLabel("kiln.dev/job", name).list().getItems()).isEmpty();
      assertThat(harness.client().services().inNamespace(ns).withLabel("kiln.dev/job", name).list().getItems()).isEmpty();
    });
  }

  /** Splits metrics lines into attempts: a new attempt starts where the step goes back. */
  static List<List<StepMetrics>> attempts(List<StepMetrics> lines) {
    List<List<StepMetrics>> attempts = new ArrayList<>();
    for (StepMetrics line : lines) {
      if (attempts.isEmpty() || line.step() <= attempts.getLast().getLast().step()) {
        attempts.add(new ArrayList<>());
      }
      attempts.getLast().add(line);
    }
    return attempts;
  }

  /** Every step both attempts ran has the same loss, to the last bit. */
  static void assertSameLosses(List<StepMetrics> first, List<StepMetrics> second) {
    int compared = 0;
    for (StepMetrics before : first) {
      for (StepMetrics after : second) {
        if (after.step() == before.step()) {
          assertThat(Double.doubleToLongBits(after.loss())).as("loss at step %d", after.step())
              .isEqualTo(Double.doubleToLongBits(before.loss()));
          compared++;
        }
      }
    }
    assertThat(compared).as("steps run by both attempts").isPositive();
  }
}
