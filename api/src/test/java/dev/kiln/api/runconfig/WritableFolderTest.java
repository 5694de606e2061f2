package dev.kiln.api.runconfig;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WritableFolderTest {

  @TempDir
  Path dir;

  @Test
  void aFolderThatCanBeWrittenIsCreatedAndLeftEmpty() throws Exception {
    Path output = dir.resolve("checkpoints/pretrain");

    assertThat(WritableFolder.problem(output, Map.of())).isEmpty();
    assertThat(output).isEmptyDirectory();
  }

  @Test
  void aFolderThatCannotBeWrittenIsNamedWithTheClaimTheUserAndTheFix() throws Exception {
    // A file where a folder should be fails for any user, root included.
    Files.writeString(dir.resolve("workspace"), "not a folder");

    String problem = WritableFolder.problem(dir.resolve("workspace/checkpoints"),
        Map.of(WritableFolder.CLAIM_ENV, "quickstart-work")).orElseThrow();

    assertThat(problem).startsWith("cannot write to " + dir.resolve("workspace/checkpoints") + " on claim quickstart-work as uid ")
        .contains("Not a directory", "fsGroup 65532");
  }
}
