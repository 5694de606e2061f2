package dev.kiln.cli;

import dev.kiln.datajobs.FromLlavaCommand;
import dev.kiln.datajobs.InspectCommand;
import dev.kiln.datajobs.fetch.FetchCommand;
import dev.kiln.datajobs.filter.FilterCommand;
import dev.kiln.datajobs.pack.PackCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kiln data filter|pack|inspect|from-llava|fetch}: the data jobs the operator runs, on local folders, a converter, and fetching weights and data. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Filter, pack and inspect WebDataset shards; convert LLaVA-style JSON into them; fetch weights and data.",
    subcommands = {FilterCommand.class, PackCommand.class, InspectCommand.class, FromLlavaCommand.class,
        FetchCommand.class})
final class DataCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
