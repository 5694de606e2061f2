package dev.kiln.datajobs;

import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.data.packed.PackedFormat;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.ShardReader;
import java.io.PrintWriter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Counts samples and problems in shards, raw or packed; exits 65 when it found problems. */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Count samples and problems in shards.")
public final class InspectCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "PATTERN|DIR")
  String input;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Inputs.Source source = Inputs.resolve(input);
    var missing = Inputs.missing(input, source.shards());
    if (missing.isPresent()) {
      spec.commandLine().getErr().println("inspect: " + missing.get());
      spec.commandLine().getErr().flush();
      return ExitCodes.DATA;
    }
    Problems problems = new Problems();
    long[] samples = {0, 0};
    Map<String, Long> extensions = new TreeMap<>();
    new ShardReader(problems).forEach(source.shards(), sample -> {
      samples[0]++;
      sample.members().keySet().forEach(ext -> extensions.merge(ext, 1L, Long::sum));
      if (sample.members().containsKey("json") && sample.members().containsKey("0.jpg")) {
        try {
          samples[1] += PackedFormat.fromSample(sample).segments().size();
        } catch (IllegalArgumentException e) {
          problems.add("malformed_packed_sequence", sample.shard() + ":" + sample.key());
        }
      } else {
        SampleChecks.problem(sample).ifPresent(p -> problems.add(p, sample.shard() + ":" + sample.key()));
      }
    });
    out.printf("shards: %d%nsamples: %d%n", source.shards().size(), samples[0]);
    if (samples[1] > 0) {
      out.printf("packed segments: %d%n", samples[1]);
    }
    out.println("members: " + extensions);
    out.println("problems: " + problems.total());
    problems.counts().forEach((reason, n) -> out.printf("  %s: %d (e.g. %s)%n", reason, n,
        problems.examples().get(reason).getFirst()));
    out.flush();
    return problems.total() == 0 ? 0 : ExitCodes.DATA;
  }
}
