package dev.kiln.trainer.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kiln-trainer bench NAME}: the trainer's benchmarks, run inside the trainer image on a GPU node. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Run a benchmark; prints one JSON line.",
    subcommands = {TrainerBenchCommand.class, CollectivesBenchCommand.class})
public final class BenchCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
