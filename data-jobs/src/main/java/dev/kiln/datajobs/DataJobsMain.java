package dev.kiln.datajobs;

import dev.kiln.datajobs.filter.FilterCommand;
import dev.kiln.datajobs.pack.PackCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the data-jobs image: {@code filter}, {@code pack}, {@code inspect}. */
@Command(name = "kiln-data", mixinStandardHelpOptions = true, description = "Kiln's data preparation jobs.",
    subcommands = {FilterCommand.class, PackCommand.class, InspectCommand.class})
public final class DataJobsMain implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new DataJobsMain()).execute(args));
  }
}
