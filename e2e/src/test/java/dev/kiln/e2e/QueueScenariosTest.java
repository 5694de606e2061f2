package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.local.LocalCluster;
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
    // The passes that would create, bind and start a Job's pods, had the operator made the Job.
    long passes = harness.cluster().node().passesDone();
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.cluster().node().passesDone() >= passes + 3);
    assertThat(harness.trainerJobNames()).as("a gang starts whole or not at all").noneMatch(name -> name.startsWith("wide-"));
    assertThat(harness.trainerPods("wide", "pretrain")).isEmpty();

    harness.client().resource(harness.get("one")).delete();
    harness.awaitPhase("wide", JobPhase.Training);
    await().atMost(LocalClusterHarness.WAIT).until(() -> running(harness.trainerPods("wide", "pretrain")) == 2);
    assertThat(harness.trainerPods("wide", "pretrain")).extracting(p -> p.getSpec().getNodeName())
        .as("one pod per node").doesNotHaveDuplicates();
  }

  @Test
  void gangsOnNodesShortOfCpuStartWhereTheyWerePlannedAndNoPodIsLeftPending() throws Exception {
    // Two 8-GPU nodes with 64 cpu each: cpu, not GPUs, decides where a gang fits.
    harness.start(folder, LocalCluster.Options.in(folder.resolve("cluster")).withGpuNodes(2).withGpuNodeCpus(64)
        .withStandInContainers());
    harness.apply(job("first", "default", 1, 2, "40"));
    String firstNode = awaitRunningOn("first");

    // Fits by GPUs and cpu beside the first (24 cpu left there): planned there, as best fit.
    harness.apply(job("narrow", "default", 1, 2, "20"));
    assertThat(awaitRunningOn("narrow")).as("where it was planned, not on the emptier node").isEqualTo(firstNode);
    // Needs a whole node's cpu: only the other node has it, because narrow did not take it.
    harness.apply(job("wide", "default", 1, 4, "60"));
    assertThat(awaitRunningOn("wide")).isNotEqualTo(firstNode);

    harness.apply(job("more", "default", 1, 2, "20"));
    awaitQueued("more");
    assertThat(harness.get("more").getStatus().getQueue().reason()).as("8 GPUs free, and no node with 20 cpu free")
        .contains("2 nodes with 2 GPUs free lack cpu (a pod requests 20 cpu)");
    assertThat(harness.trainerPods("more", "pretrain")).as("a gang that cannot run creates no pod").isEmpty();
  }

  @Test
  void aJobFromANamespaceTheQueueDoesNotAdmitIsRefusedUntilTheNamespaceIsLabelled() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 1);
    TrainingQueue fenced = new TrainingQueue();
    fenced.setMetadata(new ObjectMetaBuilder().withName("vision").build());
    fenced.setSpec(new TrainingQueueSpec(null, null, null, null, new io.fabric8.kubernetes.api.model.LabelSelectorBuilder()
        .withMatchLabels(java.util.Map.of("kiln.dev/team", "vision")).build()));
    harness.client().resource(fenced).create();
    harness.apply(job("outsider", "vision", 1));

    await().atMost(LocalClusterHarness.WAIT).until(() -> "NamespaceNotAdmitted".equals(harness.get("outsider").getStatus()
        .getReason()));
    assertThat(harness.get("outsider").getStatus().getMessage()).startsWith("TrainingQueue vision does not admit namespace "
        + LocalClusterHarness.NS + " (its namespaceSelector: kiln.dev/team=vision)");
    assertThat(harness.trainerJobNames()).isEmpty();

    harness.client().namespaces().withName(LocalClusterHarness.NS).edit(n -> {
      n.getMetadata().setLabels(new java.util.HashMap<>(java.util.Map.of("kiln.dev/team", "vision")));
      return n;
    });
    harness.awaitPhase("outsider", JobPhase.Training);
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
    return job(name, queue, nodes, 8, "2");
  }

  /** The same with {@code gpus} GPUs and {@code cpu} cpu per pod. */
  static MultimodalPretrainJob job(String name, String queue, int nodes, int gpus, String cpu) {
    return LocalClusterHarness.job("tiny.yaml", yaml -> yaml
        .replace("name: tiny\n", "name: " + name + "\n")
        .replace("nodes: 1", "nodes: " + nodes)
        .replace("gpusPerNode: 0", "gpusPerNode: " + gpus)
        .replace("cpu: \"2\"", "cpu: \"" + cpu + "\"")
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

  /** Waits for the job's single trainer pod to run; the node it runs on. */
  private String awaitRunningOn(String job) {
    harness.awaitPhase(job, JobPhase.Training);
    await().atMost(LocalClusterHarness.WAIT).until(() -> running(harness.trainerPods(job, "pretrain")) == 1);
    return harness.trainerPods(job, "pretrain").getFirst().getSpec().getNodeName();
  }

  private static long running(List<Pod> pods) {
    return pods.stream().filter(p -> p.getStatus() != null && "Running".equals(p.getStatus().getPhase())).count();
  }
}
