package dev.kiln.operator;

import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Job fixtures: the repository's examples and the test resources, with fixed identity for golden output. */
public final class TestJobs {

  private TestJobs() {}

  /**
   * An example as a test's fixture: without its sample-data request, since the tests play the data
   * Jobs themselves (the sample-data step has tests of its own, with {@link #exampleAsWritten}).
   */
  public static MultimodalPretrainJob example(String file) {
    return withoutSampleData(exampleAsWritten(file));
  }

  /** The job without its sample-data request: the test plays the data Jobs itself. */
  public static MultimodalPretrainJob withoutSampleData(MultimodalPretrainJob job) {
    if (job.getMetadata().getAnnotations() != null) {
      job.getMetadata().getAnnotations().remove(MultimodalPretrainJob.SAMPLE_DATA_ANNOTATION);
    }
    return job;
  }

  public static MultimodalPretrainJob exampleAsWritten(String file) {
    return identify(JobFiles.read(root().resolve("examples").resolve(file)).getFirst());
  }

  public static MultimodalPretrainJob resource(String name) {
    try (InputStream in = TestJobs.class.getResourceAsStream("/jobs/" + name)) {
      return identify(JobFiles.parse(new String(in.readAllBytes()), name).getFirst());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static MultimodalPretrainJob identify(MultimodalPretrainJob job) {
    job.getMetadata().setNamespace("research");
    job.getMetadata().setUid("11111111-2222-3333-4444-555555555555");
    return job;
  }

  public static Path root() {
    String configured = System.getProperty("kiln.root");
    Path start = configured != null ? Path.of(configured) : Path.of("").toAbsolutePath();
    for (Path p = start.toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.exists(p.resolve("mvnw")) && Files.isDirectory(p.resolve("examples"))) {
        return p;
      }
    }
    throw new IllegalStateException("no Kiln root above " + start);
  }
}
