package dev.kiln.trainer;

import dev.kiln.api.runconfig.FailureReport;
import dev.kiln.trainer.bench.BenchCommand;
import dev.kiln.trainer.device.EngineThreads;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the trainer image: {@code train} a stage, {@code export} a checkpoint, {@code bench}
 * the node, write {@code sample-data}.
 */
@Command(name = "kiln-trainer", mixinStandardHelpOptions = true, description = "Kiln's trainer.",
    subcommands = {TrainCommand.class, ExportCommand.class, BenchCommand.class, SampleDataCommand.class})
public final class TrainerMain implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    EngineThreads.configureForTraining();
    System.exit(commandLine().execute(args));
  }

  /** The command line: a failure nothing expected is one line and exit 1, a usage mistake one line and exit 64. */
  public static CommandLine commandLine() {
    return new CommandLine(new TrainerMain())
        .setExecutionExceptionHandler((e, command, parsed) ->
            FailureReport.unexpected(command.getCommandSpec().qualifiedName(), e, command.getErr()))
        .setParameterExceptionHandler((e, args) -> FailureReport.usage(
            e.getCommandLine().getCommandSpec().qualifiedName(), e.getMessage(), e.getCommandLine().getErr()));
  }
}
