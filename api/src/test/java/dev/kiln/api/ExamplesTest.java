package dev.kiln.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.validation.JobValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every YAML in examples/ is a valid job. */
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
}
