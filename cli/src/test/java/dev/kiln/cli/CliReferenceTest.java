package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.datajobs.DataJobsMain;
import dev.kiln.trainer.TrainerMain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * docs/reference/cli-usage.md is every command's own usage text: the kiln command, and the two
 * programs the operator runs in pods. Rewrite it with {@code -Dkiln.docs.update=true}.
 */
class CliReferenceTest {

  static final Path FILE = Path.of(System.getProperty("kiln.root", "../"), "docs", "reference", "cli-usage.md");

  @Test
  void theCommittedUsageIsWhatTheCommandsSay() throws Exception {
    StringBuilder out = new StringBuilder("""
        # Command usage

        Generated from the commands themselves (`CliReferenceTest`; `./build test -pl cli
        -Dtest=CliReferenceTest -Dkiln.docs.update=true` rewrites it). What the commands are for and
        their exit codes: [cli.md](cli.md).
        """);
    for (CommandLine program : List.of(KilnCommand.commandLine(), DataJobsMain.commandLine(), TrainerMain.commandLine())) {
      append(program, out);
    }
    String generated = out.toString();
    if (Boolean.getBoolean("kiln.docs.update")) {
      Files.writeString(FILE, generated);
    }
    assertThat(Files.readString(FILE)).as("%s is stale: rewrite it with -Dkiln.docs.update=true", FILE)
        .isEqualTo(generated);
  }

  private static void append(CommandLine command, StringBuilder out) {
    if (command.getCommandName().equals("help")) {
      return;
    }
    command.setUsageHelpAutoWidth(false);
    command.setUsageHelpWidth(100);
    out.append("\n## `").append(command.getCommandSpec().qualifiedName()).append("`\n\n```\n")
        .append(command.getUsageMessage(CommandLine.Help.Ansi.OFF).stripTrailing()).append("\n```\n");
    command.getSubcommands().values().stream().distinct().forEach(sub -> append(sub, out));
  }
}
