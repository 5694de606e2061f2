package dev.kiln.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.validation.JobValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every YAML in examples/ is a valid job, and every one in examples/queues/ a valid TrainingQueue. */
class ExamplesTest {

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(KilnRoot.path().resolve("examples"))) {
      List<Path> yamls = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
      assertThat(yamls).isNotEmpty();
      return yamls.stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void exampleIsAValidJob(Path example) {
    List<MultimodalPretrainJob> jobs = JobFiles.read(example);

    assertThat(jobs).isNotEmpty();
    for (MultimodalPretrainJob job : jobs) {
      assertThat(JobValidator.validate(job)).as(example.getFileName().toString()).isEmpty();
    }
  }

  @Test
  void theClusterQuickstartIsTheQuickstart() {
    Path examples = KilnRoot.path().resolve("examples");
    MultimodalPretrainJob local = JobFiles.read(examples.resolve("quickstart.yaml")).getFirst();
    MultimodalPretrainJob cluster = JobFiles.read(examples.resolve("cluster-quickstart.yaml")).getFirst();
    assertThat(Canonical.json(cluster.getSpec())).isEqualTo(Canonical.json(local.getSpec()));
    assertThat(cluster.getMetadata().getAnnotations()).isEqualTo(local.getMetadata().getAnnotations())
        .containsKey("kiln.dev/sample-data");
  }

  static Stream<Path> queues() throws IOException {
    try (Stream<Path> files = Files.list(KilnRoot.path().resolve("examples/queues"))) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("queues")
  void queueExampleIsAValidTrainingQueue(Path example) throws IOException {
    var tree = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(example.toFile());
    assertThat(tree.path("kind").asText()).isEqualTo("TrainingQueue");
    assertThat(CrdSchema.fromResource(Crds.QUEUES).validate(tree, null)).as(example.getFileName().toString()).isEmpty();
    TrainingQueue queue = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().treeToValue(tree, TrainingQueue.class);
    assertThat(queue.getSpec().gpuQuota()).isPositive();
  }
}
