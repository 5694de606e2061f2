package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.JobPhase;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data prep on three CPU nodes: with a ReadWriteOnce workspace (attached to one node) the
 * operator keeps a job's parallel data-prep pods together; with ReadWriteMany they spread.
 */
class VolumeAccessModesTest {

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir
  Path folder;


  @Test
  void aReadWriteOnceWorkspaceKeepsDataPrepOnOneNode() throws Exception {
    Set<String> nodes = dataPrepNodes("");

    assertThat(nodes).hasSize(1);
  }

  @Test
  void aReadWriteManyWorkspaceLetsDataPrepSpread() throws Exception {
    Set<String> nodes = dataPrepNodes("\n      accessModes: [ReadWriteMany]");

    assertThat(nodes).hasSizeGreaterThan(1);
  }

  private Set<String> dataPrepNodes(String accessModes) throws Exception {
    harness.start(folder, "tiny-data", 3);
    harness.apply(LocalClusterHarness.job("tiny.yaml", yaml -> yaml
        .replace("        shards: shapes/captions-{000000..000003}.tar",
            "        shards: shapes/captions-{000000..000003}.tar\n        shardsPerTask: 1")
        .replace("    volumeClaim:\n      size: 1Gi", "    volumeClaim:\n      size: 1Gi" + accessModes)));

    harness.awaitPhase("tiny", JobPhase.Training);

    // Filtered here: the in-memory API server ignores set-based label selectors (it would return the trainer's pods too).
    List<Pod> prep = harness.client().pods().inNamespace(LocalClusterHarness.NS).withLabel("kiln.dev/job", "tiny")
        .list().getItems().stream()
        .filter(p -> Set.of("filter", "pack").contains(p.getMetadata().getLabels().get("app.kubernetes.io/component")))
        .toList();
    // Four filter tasks, and each stage's packing steps: prepare, plan, write and finish.
    assertThat(prep).hasSize(4 + 2 * 4).allMatch(p -> "Succeeded".equals(p.getStatus().getPhase()));
    return prep.stream().map(p -> p.getSpec().getNodeName()).collect(Collectors.toSet());
  }
}
