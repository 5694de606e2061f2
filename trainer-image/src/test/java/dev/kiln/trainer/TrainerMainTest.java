package dev.kiln.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.runconfig.ExitCodes;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainerMainTest {

  @TempDir
  Path dir;

  record Result(int exit, String err) {}

  static Result run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cli = TrainerMain.commandLine();
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return new Result(exit, err.toString());
  }

  @Test
  void aUsageMistakeIsOneLineAndExit64() {
    Result r = run("train", "--config", "run.json", "--nope");

    assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
    assertThat(r.err()).isEqualTo("kiln-trainer train: Unknown option: '--nope' (see kiln-trainer train --help)\n");
  }

  @Test
  void anUnexpectedFailureIsOneLineNamingTheFileAndExit1() throws Exception {
    Files.writeString(dir.resolve("run.json"), "{}");

    Result r = run("export", "--checkpoint", dir.resolve("no-such-stage").toString(), "--config",
        dir.resolve("run.json").toString(), "--output", dir.resolve("out").toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.FAILURE);
    assertThat(r.err().lines()).singleElement().asString().startsWith("kiln-trainer export: ")
        .doesNotContain("Exception").doesNotContain("\tat ");
  }
}
