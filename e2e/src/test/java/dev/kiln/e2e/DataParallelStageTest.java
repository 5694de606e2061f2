package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.JobPhase;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A stage on two pods: the ranks meet through rank 0's headless-Service name and train as one. */
class DataParallelStageTest {

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir
  Path folder;


  @Test
  void aTwoNodeStageTrainsDataParallelThroughTheOperator() throws Exception {
    harness.start(folder, "tiny-data");
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml
        .replaceFirst("      resources:\n        nodes: 1", "      resources:\n        nodes: 2")  // pretrain only
        .replace("    volumeClaim:\n      size: 1Gi", "    volumeClaim:\n      size: 1Gi\n      accessModes: [ReadWriteMany]")));

    harness.awaitPhase("tiny", JobPhase.Succeeded);

    List<Pod> pretrain = harness.trainerPods("tiny", "pretrain");
    assertThat(pretrain).hasSize(2).allMatch(p -> "Succeeded".equals(p.getStatus().getPhase()));
    for (Pod pod : pretrain) {
      String log = Files.readString(harness.cluster().node().podFolder(pod).resolve("log"));
      assertThat(log).contains("of 2 joined the ring");
    }
    assertThat(harness.lastStep("tiny", "pretrain")).isEqualTo(60);
    assertThat(harness.stage("tiny", "pretrain").getRestarts()).isZero();
  }
}
