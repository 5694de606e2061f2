package dev.kiln.datajobs;

import dev.kiln.api.runconfig.FailureReport;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.datajobs.fetch.FetchCommand;
import dev.kiln.datajobs.filter.FilterCommand;
import dev.kiln.datajobs.pack.PackCommand;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the data-jobs image: {@code filter}, {@code pack}, {@code inspect}, {@code from-llava}, {@code fetch}. */
@Command(name = "kiln-data", mixinStandardHelpOptions = true, description = "Kiln's data preparation jobs.",
    subcommands = {FilterCommand.class, PackCommand.class, InspectCommand.class, FromLlavaCommand.class,
        FetchCommand.class})
public final class DataJobsMain implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /**
   * The command line; path options are read as the pod sees them and mapped through {@link PodRoot}.
   * A failure nothing expected is one line and exit 1, a usage mistake one line and exit 64.
   */
  public static CommandLine commandLine() {
    return commandLine(CommandLine.defaultFactory());
  }

  /** {@link #commandLine()}, its commands made by {@code factory} (tests give {@code fetch} its environment). */
  public static CommandLine commandLine(CommandLine.IFactory factory) {
    PodRoot root = PodRoot.fromEnvironment();
    return new CommandLine(new DataJobsMain(), factory).registerConverter(Path.class, root::resolve)
        .setExecutionExceptionHandler((e, command, parsed) ->
            FailureReport.unexpected(command.getCommandSpec().qualifiedName(), e, command.getErr()))
        .setParameterExceptionHandler((e, args) -> FailureReport.usage(
            e.getCommandLine().getCommandSpec().qualifiedName(), e.getMessage(), e.getCommandLine().getErr()));
  }
}
