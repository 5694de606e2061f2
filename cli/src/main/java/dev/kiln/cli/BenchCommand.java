package dev.kiln.cli;

import dev.kiln.cli.bench.ChaosBench;
import dev.kiln.cli.bench.OperatorBench;
import dev.kiln.cli.bench.PackPipelineBench;
import dev.kiln.cli.bench.PackingBench;
import dev.kiln.trainer.bench.CollectivesBenchCommand;
import dev.kiln.trainer.bench.TrainerBenchCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kiln bench NAME}: measured speed and memory ratios, one JSON line each. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Run a benchmark; prints one JSON line.",
    subcommands = {PackingBench.class, PackPipelineBench.class, TrainerBenchCommand.class, CollectivesBenchCommand.class,
        OperatorBench.class, ChaosBench.class})
final class BenchCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
