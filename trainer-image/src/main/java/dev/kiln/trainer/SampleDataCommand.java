package dev.kiln.trainer;

import dev.kiln.trainer.synthetic.SampleDatasets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** Writes a sample dataset into a folder (a data claim on a cluster), as {@code kiln run} does locally. */
@Command(name = "sample-data", mixinStandardHelpOptions = true,
    description = "Generate a sample dataset (shapes: the quickstart's) into a folder, unless it is there.")
final class SampleDataCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "NAME", description = "Dataset: ${COMPLETION-CANDIDATES}",
      completionCandidates = Names.class)
  String name;

  @Parameters(index = "1", paramLabel = "DIR", description = "Where to write it (the job's data claim)")
  Path folder;

  @Override
  public Integer call() throws Exception {
    if (!SampleDatasets.NAMES.contains(name)) {
      System.err.println("kiln-trainer sample-data: unknown dataset \"" + name + "\" (known: "
          + String.join(", ", SampleDatasets.NAMES) + ")");
      return 2;
    }
    boolean generated = SampleDatasets.ensure(name, folder);
    System.out.println((generated ? "generated " : "already present: ") + name + " in " + folder);
    return 0;
  }

  static final class Names implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return SampleDatasets.NAMES.iterator();
    }
  }
}
