package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kiln's GPU queue through the real operator process, on fake 8-GPU nodes whose pods run nothing
 * (a trainer pod holds its GPUs until its job is deleted): gangs, quotas, a missing queue, and an
 * operator restarted while jobs wait. Training itself is covered by {@link QueueTest}.
 */
class QueueScenariosTest {

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir
  Path folder;

  @Test
  void aTwoNodeStageNeverStartsWithOnePodAndStartsWholeWhenTwoNodesAreFree() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 2);
    harness.apply(job("one", "default", 1));
    harness.awaitPhase("one", JobPhase.Training);
    harness.apply(job("wide", "default", 2));

    awaitQueued("wide");
    assertThat(harness.get("wide").getStatus().getQueue().reason()).contains("(2 pods of 8)", "8 free on nodes");
    Thread.sleep(3_000);
    assertThat(harness.trainerPods("wide", "pretrain")).as("a gang starts whole or not at all").isEmpty();

    harness.client().resource(harness.get("one")).delete();
    harness.awaitPhase("wide", JobPhase.Training);
    await().atMost(LocalClusterHarness.WAIT).until(() -> running(harness.trainerPods("wide", "pretrain")) == 2);
    assertThat(harness.trainerPods("wide", "pretrain")).extracting(p -> p.getSpec().getNodeName())
        .as("one pod per node").doesNotHaveDuplicates();
  }

  @Test
  void aQueuesQuotaHoldsBackAStageTheNodesCouldRun() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 2);
    queue("small", 8);
    harness.apply(job("a", "small", 1));
    harness.apply(job("b", "small", 1));

    await().atMost(LocalClusterHarness.WAIT).until(() -> phase("a") == JobPhase.Training || phase("b") == JobPhase.Training);
    String waiting = phase("a") == JobPhase.Training ? "b" : "a";
    awaitQueued(waiting);
    assertThat(harness.get(waiting).getStatus().getQueue().reason()).contains("0 free in queue small", "8 free on nodes");
  }

  @Test
  void aJobNamingAMissingQueueWaitsSayingSoAndStartsOnceTheQueueExists() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 1);
    harness.apply(job("lost", "nowhere", 1));

    awaitQueued("lost");
    assertThat(harness.get("lost").getStatus().getMessage()).startsWith("TrainingQueue nowhere does not exist");

    queue("nowhere", null);
    harness.awaitPhase("lost", JobPhase.Training);
  }

  @Test
  void anOperatorKilledWhileJobsWaitKeepsTheirPlacesAndAdmitsNothingTwice() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 1);
    harness.apply(job("first", "default", 1));
    harness.awaitPhase("first", JobPhase.Training);
    harness.apply(job("second", "default", 1));
    awaitQueued("second");
    harness.apply(job("third", "default", 1));
    awaitQueued("third");
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.queuePosition("second") == 1 && harness.queuePosition("third") == 2);

    harness.cluster().operator().restart(true);
    await().atMost(LocalClusterHarness.WAIT).until(() -> Files.readString(harness.cluster().operator().log())
        .split("--- operator start 2")[1].contains("Installed features"));
    harness.awaitReconciles(harness.cluster().operator(), 3);  // each of the three jobs, at least

    assertThat(harness.queuePosition("second")).isEqualTo(1);
    assertThat(harness.queuePosition("third")).isEqualTo(2);
    assertThat(harness.trainerJobNames()).containsExactly("first-pretrain-a1");

    harness.client().resource(harness.get("first")).delete();
    harness.awaitPhase("second", JobPhase.Training);
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.queuePosition("third") == 1);
    await().atMost(Duration.ofSeconds(30)).until(() -> harness.trainerJobNames().equals(List.of("second-pretrain-a1")));
  }

  /** The tiny job with {@code nodes} pods of 8 GPUs in {@code queue}, its checkpoints on a claim every node may write. */
  static MultimodalPretrainJob job(String name, String queue, int nodes) {
    return LocalClusterHarness.job("tiny.yaml", yaml -> yaml
        .replace("name: tiny\n", "name: " + name + "\n")
        .replace("nodes: 1", "nodes: " + nodes)
        .replace("gpusPerNode: 0", "gpusPerNode: 8")
        .replace("globalBatchSize: 8", "globalBatchSize: 64")
        .replace("      size: 1Gi\n", "      size: 1Gi\n      accessModes: [ReadWriteMany]\n")
        .replace("  checkpoints:\n", "  scheduling:\n    queue: " + queue + "\n  checkpoints:\n"));
  }

  private void queue(String name, Integer gpuQuota) {
    TrainingQueue queue = new TrainingQueue();
    queue.setMetadata(new ObjectMetaBuilder().withName(name).build());
    queue.setSpec(new TrainingQueueSpec(gpuQuota, null, null, null));
    harness.client().resource(queue).create();
  }

  private JobPhase phase(String job) {
    MultimodalPretrainJob current = harness.get(job);
    return current == null || current.getStatus() == null ? null : current.getStatus().getPhase();
  }

  private void awaitQueued(String job) {
    await().atMost(LocalClusterHarness.WAIT).until(() -> {
      if (phase(job) == JobPhase.Failed) {
        throw new AssertionError(job + " failed: " + harness.get(job).getStatus().getMessage());
      }
      return phase(job) == JobPhase.Queued;
    });
  }

  private static long running(List<Pod> pods) {
    return pods.stream().filter(p -> p.getStatus() != null && "Running".equals(p.getStatus().getPhase())).count();
  }
}
