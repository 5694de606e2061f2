package dev.kiln.chart;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The KinD scripts (e2e/kind, for a real API server where a container engine exists) agree with
 * each other and with the chart: some worker stays free of the GPU taint for the operator and the
 * CPU pods, the fake GPUs go only where the cluster config says, the CRDs are applied on every
 * upgrade (Helm installs crds/ only once), and the job it runs needs nothing prepared by hand.
 */
@Timeout(60)
class KindClusterTest {

  private static final Path KIND = Path.of(System.getProperty("kiln.home", "..")).resolve("e2e/kind");

  @Test
  void aWorkerWithoutFakeGpusIsLeftForTheOperatorAndTheCpuPods() throws IOException {
    String label = shellVariable("FAKE_GPU_LABEL");
    List<JsonNode> workers = new ArrayList<>();
    new YAMLMapper().readTree(KIND.resolve("cluster.yaml").toFile()).path("nodes").forEach(node -> {
      if ("worker".equals(node.path("role").asText())) {
        workers.add(node);
      }
    });
    assertThat(workers).filteredOn(w -> "true".equals(w.path("labels").path(label).asText())).isNotEmpty();
    assertThat(workers).filteredOn(w -> w.path("labels").path(label).isMissingNode()).as("untainted workers").isNotEmpty();
    String fakeGpus = Files.readString(KIND.resolve("fake-gpus.sh"));
    assertThat(fakeGpus).contains("get nodes -l \"$FAKE_GPU_LABEL=true\"").contains("taint");

    RenderedChart chart = RenderedChart.render(Map.of());
    JsonNode pod = chart.one("Deployment").at("/spec/template/spec");
    assertThat(pod.path("nodeSelector").isEmpty()).as("the operator may run on any worker").isTrue();
    assertThat(pod.path("tolerations").isEmpty()).isTrue();
  }

  @Test
  void theCrdsAreAppliedOnEveryUpgradeAndTheQuickstartIsTheClusterOne() throws IOException {
    String up = Files.readString(KIND.resolve("up.sh"));
    int crds = up.indexOf("apply --server-side --force-conflicts -f \"$ROOT/charts/kiln/crds/\"");
    int helm = up.indexOf("upgrade --install kiln");
    assertThat(crds).as("the CRDs applied before the chart").isPositive().isLessThan(helm);
    assertThat(up.substring(helm)).contains("--skip-crds");
    assertThat(up).contains("examples/cluster-quickstart.yaml").doesNotContain("examples/quickstart.yaml");
  }

  private static String shellVariable(String name) throws IOException {
    Matcher found = Pattern.compile("(?m)^" + name + "=\"([^\"]+)\"").matcher(Files.readString(KIND.resolve("common.sh")));
    assertThat(found.find()).as("%s in e2e/kind/common.sh", name).isTrue();
    return found.group(1);
  }
}
