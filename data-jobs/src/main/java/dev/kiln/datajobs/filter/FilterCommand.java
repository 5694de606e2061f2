package dev.kiln.datajobs.filter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.runconfig.DataTaskSummary;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.TerminationMessage;
import dev.kiln.api.runconfig.WritableFolder;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.model.ComputeDevice;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.data.webdataset.ShardWriter;
import dev.kiln.datajobs.Inputs;
import dev.kiln.datajobs.SampleChecks;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Filters WebDataset shards. In an Indexed Job each completion index takes its group of
 * {@code --shards-per-task} shards; run by hand it takes them all. Writes kept samples to new
 * shards and a report: kept, dropped (by filter), bad (by reason), score histograms.
 */
@Command(name = "filter", mixinStandardHelpOptions = true, description = "Keep the samples that pass the filters.")
public final class FilterCommand implements Callable<Integer> {

  @Option(names = "--input", required = true, paramLabel = "PATTERN", description = "Shards: brace pattern or folder")
  String input;

  @Option(names = "--output", required = true, paramLabel = "DIR")
  Path output;

  @Option(names = "--filter", required = true, paramLabel = "SPEC",
      description = "precomputed:field=F,min=X | uids:FILE | clip:model=DIR,min=X | mlm:model=DIR,min=N")
  List<String> filters;

  @Option(names = "--combine", defaultValue = "all", description = "all: keep what every filter keeps; any: the union")
  String combine;

  @Option(names = "--shards-per-task", defaultValue = "16")
  int shardsPerTask;

  @Option(names = "--task-index", description = "Completion index (default: $JOB_COMPLETION_INDEX, else every shard)")
  Integer taskIndex;

  @Option(names = "--shard-size", defaultValue = "10000", description = "Samples per output shard")
  int shardSize;

  @Option(names = "--batch", defaultValue = "32", description = "Samples scored per forward by model-based filters")
  int batchSize;

  @Option(names = "--max-bad-fraction", defaultValue = "0.1",
      description = "Fail (exit 65) when more than this fraction of samples is unusable")
  double maxBadFraction;

  @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|gpu", description = "Where model scorers"
      + " (clip, mlm) run: the CPU, or the pod's first GPU (UNVERIFIED: needs a CUDA libtorch in the image;"
      + " a node that sets " + ComputeDevice.ENV + "=" + ComputeDevice.CPU + " keeps them on the CPU)")
  String device;

  @Option(names = "--termination-log", paramLabel = "FILE", description = "Where to write the samples read, kept and"
      + " bad, which the operator sums into the job's progress",
      defaultValue = "${env:KILN_TERMINATION_LOG:-" + PodPaths.TERMINATION_MESSAGE + "}")
  Path terminationLog;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    if (!List.of("cpu", "gpu").contains(device)) {
      err.println("filter: --device " + device + ": must be cpu or gpu");
      err.flush();
      return ExitCodes.USAGE;
    }
    List<SampleFilter> parsed = new ArrayList<>();
    try {
      ComputeDevice scorers = ComputeDevice.forRank(device.equals("gpu") ? 1 : 0, 0, System.getenv(ComputeDevice.ENV));
      for (String filter : filters) {
        parsed.add(FilterSpecs.parse(filter, scorers));
      }
    } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException e) {
      // A filter's file or model that cannot be read, or a GPU that is not there: the job's
      // configuration, which a retry would not fix.
      parsed.forEach(SampleFilter::close);
      err.println(e.getMessage());
      err.flush();
      return ExitCodes.CONFIG;
    }
    boolean any = combine.equalsIgnoreCase("any") || combine.equalsIgnoreCase("AnyOf");

    Integer index = taskIndex != null ? taskIndex
        : System.getenv("JOB_COMPLETION_INDEX") != null ? Integer.valueOf(System.getenv("JOB_COMPLETION_INDEX")) : null;
    List<Path> shards = Inputs.resolve(input).shards();
    if (index != null) {
      shards = Inputs.task(shards, index, shardsPerTask);
    }
    var missing = Inputs.missing(input, shards);
    if (missing.isPresent()) {
      parsed.forEach(SampleFilter::close);
      err.println("filter: " + missing.get());
      err.flush();
      return ExitCodes.DATA;
    }
    var unwritable = WritableFolder.problem(output, System.getenv());
    if (unwritable.isPresent()) {
      parsed.forEach(SampleFilter::close);
      err.println("filter: " + unwritable.get());
      err.flush();
      return ExitCodes.CONFIG;
    }
    String prefix = index == null ? "kept" : String.format("kept-%05d", index);

    Problems bad = new Problems();
    Map<String, Long> droppedBy = new TreeMap<>();
    Map<String, List<Double>> scores = new TreeMap<>();
    long[] counts = new long[3];
    try (ShardWriter writer = new ShardWriter(output, prefix, shardSize, Long.MAX_VALUE)) {
      List<Sample> batch = new ArrayList<>();
      new ShardReader(bad).forEach(shards, sample -> {
        counts[0]++;
        var problem = SampleChecks.problem(sample);
        if (problem.isPresent()) {
          bad.add(problem.get(), sample.shard() + ":" + sample.key());
          return;
        }
        batch.add(sample);
        if (batch.size() == batchSize) {
          judge(parsed, batch, any, droppedBy, scores, writer, bad, counts);
        }
      });
      judge(parsed, batch, any, droppedBy, scores, writer, bad, counts);
      writer.close();
      writeReport(index, shards, counts, droppedBy, bad, scores, writer.shards());
    } finally {
      parsed.forEach(SampleFilter::close);
    }
    long unreadable = bad.count(Problems.UNREADABLE_SHARD);
    long badSamples = bad.total() - unreadable;
    err.printf("filter: %d samples in %d shards: kept %d, dropped %d, bad %d samples%s%n", counts[0], shards.size(),
        counts[1], counts[2], badSamples, unreadable > 0 ? ", " + unreadable + " unreadable shard(s)" : "");
    err.flush();
    if (unreadable == shards.size()) {
      err.printf("filter: none of the %d shards could be read; see %s%n", shards.size(), reportPath(index));
      err.flush();
      return ExitCodes.DATA;
    }
    double badFraction = (double) badSamples / Math.max(1, counts[0]);
    if (badFraction > maxBadFraction) {
      err.printf("filter: too much bad input: %d of %d samples (%.1f%%) are bad, more than --max-bad-fraction %s; see %s%n",
          badSamples, counts[0], 100 * badFraction, maxBadFraction, reportPath(index));
      err.flush();
      return ExitCodes.DATA;
    }
    // Only a task that succeeds reports its counts: a failing one's message is its cause (kept from its log).
    TerminationMessage.write(terminationLog, new ObjectMapper().writeValueAsString(
        new DataTaskSummary(counts[0], counts[1], badSamples)));
    return ExitCodes.OK;
  }

  /** Judges a batch with every filter (in order, so the output is deterministic), writes what is kept, empties it. */
  private static void judge(List<SampleFilter> filters, List<Sample> batch, boolean any, Map<String, Long> droppedBy,
      Map<String, List<Double>> scores, ShardWriter writer, Problems bad, long[] counts) {
    List<List<Verdict>> byFilter = new ArrayList<>();
    for (SampleFilter filter : filters) {
      byFilter.add(batch.isEmpty() ? List.of() : filter.judge(batch));
    }
    for (int i = 0; i < batch.size(); i++) {
      Sample sample = batch.get(i);
      List<Verdict> verdicts = new ArrayList<>();
      for (List<Verdict> filterVerdicts : byFilter) {
        verdicts.add(filterVerdicts.get(i));
      }
      Verdict verdict = combine(filters, verdicts, any, droppedBy, scores);
      switch (verdict.kind()) {
        case KEEP -> {
          writer.write(sample);
          counts[1]++;
        }
        case DROP -> counts[2]++;
        case BAD -> bad.add(verdict.reason(), sample.shard() + ":" + sample.key());
      }
    }
    batch.clear();
  }

  /** AllOf: bad if any is bad, keep if all keep. AnyOf: keep if any keeps, else bad if any is bad. */
  static Verdict combine(List<SampleFilter> filters, List<Verdict> verdicts, boolean any, Map<String, Long> droppedBy,
      Map<String, List<Double>> scores) {
    Verdict firstBad = null;
    boolean anyKeep = false;
    boolean allKeep = true;
    List<String> droppers = new ArrayList<>();
    for (int f = 0; f < filters.size(); f++) {
      SampleFilter filter = filters.get(f);
      Verdict v = verdicts.get(f);
      if (v.score() != null) {
        scores.computeIfAbsent(filter.name(), k -> new ArrayList<>()).add(v.score());
      }
      switch (v.kind()) {
        case KEEP -> anyKeep = true;
        case DROP -> {
          allKeep = false;
          droppers.add(filter.name());
        }
        case BAD -> {
          allKeep = false;
          firstBad = firstBad == null ? v : firstBad;
        }
      }
    }
    Verdict result;
    if (any) {
      result = anyKeep ? Verdict.keep(null) : firstBad != null ? firstBad : Verdict.drop(null);
    } else {
      result = firstBad != null ? firstBad : allKeep ? Verdict.keep(null) : Verdict.drop(null);
    }
    if (result.kind() == Verdict.Kind.DROP) {
      droppers.forEach(name -> droppedBy.merge(name, 1L, Long::sum));
    }
    return result;
  }

  private Path reportPath(Integer index) {
    return output.resolve(index == null ? "report.json" : String.format("report-%05d.json", index));
  }

  private void writeReport(Integer index, List<Path> shards, long[] counts, Map<String, Long> droppedBy, Problems bad,
      Map<String, List<Double>> scores, List<ShardWriter.WrittenShard> written) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode report = json.createObjectNode();
    report.put("input", counts[0]);
    report.put("kept", counts[1]);
    report.put("dropped", counts[2]);
    report.set("droppedBy", json.valueToTree(droppedBy));
    report.set("bad", json.valueToTree(bad.counts()));
    report.set("badExamples", json.valueToTree(bad.examples()));
    ObjectNode histograms = report.putObject("scoreHistograms");
    scores.forEach((name, values) -> histograms.set(name, json.valueToTree(Histogram.of(values, 20))));
    report.set("inputShards", json.valueToTree(shards.stream().map(Path::toString).toList()));
    var outputs = report.putArray("outputShards");
    for (ShardWriter.WrittenShard shard : written) {
      outputs.addObject().put("name", shard.path().getFileName().toString()).put("samples", shard.samples())
          .put("sha256", shard.sha256());
    }
    Files.createDirectories(output);
    Files.writeString(reportPath(index), json.writerWithDefaultPrettyPrinter().writeValueAsString(report) + "\n");
  }
}
