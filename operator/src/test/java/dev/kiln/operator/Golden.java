package dev.kiln.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Golden files under operator/src/test/resources/golden. Rewrite them all with
 * {@code -Dgolden.update=true} and review the diff like any other change.
 */
public final class Golden {

  private Golden() {}

  public static void assertYaml(String name, Object value) {
    assertText(name + ".yaml", Serialization.asYaml(value));
  }

  public static void assertText(String file, String actual) {
    Path golden = TestJobs.root().resolve("operator/src/test/resources/golden").resolve(file);
    try {
      if (Boolean.getBoolean("golden.update")) {
        Files.createDirectories(golden.getParent());
        Files.writeString(golden, actual);
      }
      assertThat(golden).as("golden file %s (create it with -Dgolden.update=true)", file).exists();
      assertThat(actual).as("golden file %s (review, then -Dgolden.update=true)", file)
          .isEqualTo(Files.readString(golden));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
