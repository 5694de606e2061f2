package dev.kiln.datajobs.pack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.DataTaskSummary;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.FailureReport;
import dev.kiln.api.runconfig.PackSummary;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.runconfig.TerminationMessage;
import dev.kiln.api.runconfig.WritableFolder;
import dev.kiln.data.packed.PackedFormat;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.packing.BinCompletion;
import dev.kiln.data.packing.FirstFitDecreasing;
import dev.kiln.data.packing.PackingPlan;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.data.webdataset.ShardWriter;
import dev.kiln.datajobs.Inputs;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Packs every input shard of a stage into sequences of {@code --seq-len} positions, in four steps
 * that a cluster runs as separate Jobs: {@code prepare} (tokenize and resize; split into
 * {@code --tasks} runs of input shards, one pod each), {@code plan} (over every sample's length at
 * once: first-fit-decreasing or bin completion), {@code write} (the packed shards in plan order,
 * split the same way) and {@code finish} (the manifest). {@code --step all} runs them in turn in one
 * process. Same inputs, same bytes, whatever the number of tasks.
 */
@Command(name = "pack", mixinStandardHelpOptions = true, description = "Pack samples into fixed-length multimodal sequences.")
public final class PackCommand implements Callable<Integer> {

  /** Samples prepared per parallel batch: big enough to keep every core busy, small enough to bound memory. */
  static final int BATCH = 512;

  /** The steps, in the order they run. */
  enum Step { ALL, PREPARE, PLAN, WRITE, FINISH }

  @Option(names = "--input", required = true, paramLabel = "[NAME=]PATTERN|DIR", description = "One per source")
  List<String> inputs;

  @Option(names = "--kind", paramLabel = "captions|instructions",
      description = "What each --input holds, in the same order; a sample of the other layout is counted bad."
          + " Unset: each sample as its members say (txt: a caption, json conversations: instructions)")
  List<String> kinds;

  @Option(names = "--output", required = true, paramLabel = "DIR")
  Path output;

  @Option(names = "--tokenizer", required = true, paramLabel = "FILE")
  Path tokenizer;

  @Option(names = "--seq-len", required = true)
  int sequenceLength;

  @Option(names = "--visual-tokens", required = true)
  int visualTokens;

  @Option(names = "--image-size", required = true, description = "Side the encoder sees, in pixels")
  int imageSize;

  @Option(names = "--termination-log", paramLabel = "FILE", description = "Where to write the summary the operator records"
      + " (a prepare task's samples read, kept and bad; finish: the manifest's sha256)", defaultValue = "${env:KILN_TERMINATION_LOG:-" + PodPaths.TERMINATION_MESSAGE + "}")
  Path terminationLog;

  @Option(names = "--planner", defaultValue = "bin-completion", paramLabel = "bin-completion|first-fit-decreasing",
      description = "How samples are planned into sequences: each completed by the samples that fill it best, or the"
          + " recipe's first-fit-decreasing")
  String planner;

  @Option(names = "--seed", defaultValue = "0", description = "Recorded in the manifest; the plan itself is deterministic")
  long seed;

  @Option(names = "--shard-size", defaultValue = "1000", description = "Packed sequences per output shard")
  int shardSize;

  @Option(names = "--max-bad-fraction", defaultValue = "0.1")
  double maxBadFraction;

  @Option(names = "--step", defaultValue = "all", paramLabel = "all|prepare|plan|write|finish",
      description = "Which step to run; all of them in turn by default")
  String step;

  @Option(names = "--tasks", defaultValue = "1", description = "Tasks the prepare and write steps are split into"
      + " (each an even run of the input shards, or of the packed shards)")
  int tasks;

  @Option(names = "--task-index", description = "The prepare or write task to run (default: $JOB_COMPLETION_INDEX,"
      + " else every task in turn)")
  Integer taskIndex;

  @Spec
  CommandSpec spec;

  private PrintWriter err;
  private PackWork work;

  @Override
  public Integer call() throws Exception {
    err = spec.commandLine().getErr();
    try {
      return run();
    } finally {
      err.flush();
    }
  }

  private int run() throws Exception {
    if (!List.of("bin-completion", "first-fit-decreasing").contains(planner)) {
      err.println("pack: --planner " + planner + ": must be bin-completion or first-fit-decreasing");
      return ExitCodes.USAGE;
    }
    Step which;
    try {
      which = Step.valueOf(step.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      err.println("pack: --step " + step + ": must be all, prepare, plan, write or finish");
      return ExitCodes.USAGE;
    }
    List<Integer> taskIndexes;
    try {
      taskIndexes = taskIndexes();
    } catch (IllegalArgumentException e) {
      err.println("pack: " + e.getMessage());
      return ExitCodes.USAGE;
    }
    if (!Files.isRegularFile(tokenizer)) {
      err.println("--tokenizer " + tokenizer + ": no such file");
      return ExitCodes.CONFIG;
    }
    List<SamplePreparer.Kind> sourceKinds;
    try {
      sourceKinds = kinds(inputs.size());
    } catch (IllegalArgumentException e) {
      err.println("pack: " + e.getMessage());
      return ExitCodes.USAGE;
    }
    var unwritable = WritableFolder.problem(output, System.getenv());
    if (unwritable.isPresent()) {
      err.println("pack: " + unwritable.get());
      return ExitCodes.CONFIG;
    }
    Files.createDirectories(output);
    work = new PackWork(output);
    int exit = ExitCodes.OK;
    if (which == Step.ALL || which == Step.PREPARE) {
      for (int task : which == Step.ALL ? allTasks() : taskIndexes) {
        exit = prepare(task, sourceKinds);
        if (exit != ExitCodes.OK) {
          return exit;
        }
      }
    }
    if (which == Step.ALL || which == Step.PLAN) {
      exit = plan();
      if (exit != ExitCodes.OK) {
        return exit;
      }
    }
    if (which == Step.ALL || which == Step.WRITE) {
      for (int task : which == Step.ALL ? allTasks() : taskIndexes) {
        exit = write(task);
        if (exit != ExitCodes.OK) {
          return exit;
        }
      }
    }
    if (which == Step.ALL || which == Step.FINISH) {
      exit = finish();
    }
    return exit;
  }

  /** The task {@code --task-index} or the Job's completion index names, else every one. */
  private List<Integer> taskIndexes() {
    if (tasks < 1) {
      throw new IllegalArgumentException("--tasks " + tasks + ": must be at least 1");
    }
    String completion = System.getenv("JOB_COMPLETION_INDEX");
    Integer index = taskIndex != null ? taskIndex : completion != null ? Integer.valueOf(completion) : null;
    if (index == null) {
      return allTasks();
    }
    if (index < 0 || index >= tasks) {
      throw new IllegalArgumentException("task index " + index + " is outside --tasks " + tasks);
    }
    return List.of(index);
  }

  private List<Integer> allTasks() {
    return java.util.stream.IntStream.range(0, tasks).boxed().toList();
  }

  /** Task {@code task}'s even share of {@code count} things, as [from, to). */
  static int[] share(int count, int task, int tasks) {
    return new int[] {(int) ((long) count * task / tasks), (int) ((long) count * (task + 1) / tasks)};
  }

  /** One input shard and the source it belongs to. */
  private record InputShard(Inputs.Source source, SamplePreparer.Kind kind, Path path) {}

  /** Decodes, resizes and tokenizes task {@code task}'s run of input shards into its part. */
  private int prepare(int task, List<SamplePreparer.Kind> sourceKinds) throws Exception {
    long start = System.nanoTime();
    List<Inputs.Source> sources = Inputs.resolve(inputs);
    List<InputShard> all = new ArrayList<>();
    for (int i = 0; i < sources.size(); i++) {
      // A filtered source may have kept nothing; shards named but absent are a mistake.
      var missing = sources.get(i).shards().isEmpty() ? Optional.<String>empty()
          : Inputs.missing(inputs.get(i), sources.get(i).shards());
      if (missing.isPresent()) {
        err.println("pack: " + missing.get());
        return ExitCodes.DATA;
      }
      for (Path shard : sources.get(i).shards()) {
        all.add(new InputShard(sources.get(i), sourceKinds.get(i), shard));
      }
    }
    TextTokenizer text;
    try {
      text = TextTokenizer.load(tokenizer);
    } catch (RuntimeException e) {
      err.println("pack: --tokenizer " + FailureReport.describe(e));
      return ExitCodes.CONFIG;
    }
    if (text.chat().isEmpty() && sourceKinds.contains(SamplePreparer.Kind.INSTRUCTIONS)) {
      err.println("pack: " + tokenizer + ": an instructions source is laid out in ChatML, and this tokenizer has no "
          + TextTokenizer.TURN_START + " and " + TextTokenizer.TURN_END + " tokens");
      text.close();
      return ExitCodes.CONFIG;
    }
    int[] range = share(all.size(), task, tasks);
    Problems bad = new Problems();
    List<PackWork.InputShard> read = new ArrayList<>();
    PackWork.deleteTree(work.partialPart(task));
    int prepared;
    try (text; PreparedPart.Writer part = new PreparedPart.Writer(work.partialPart(task))) {
      SamplePreparer preparer = new SamplePreparer(text, imageSize);
      ShardReader reader = new ShardReader(bad);
      for (InputShard shard : all.subList(range[0], range[1])) {
        List<Sample> batch = new ArrayList<>();
        String sha256 = reader.readShard(shard.path(), sample -> {
          batch.add(sample);
          if (batch.size() == BATCH) {
            stage(batch, shard, preparer, part, bad);
            batch.clear();
          }
        });
        stage(batch, shard, preparer, part, bad);
        // As the pod sees it: the manifest's bytes must not depend on where a node keeps the claim.
        read.add(new PackWork.InputShard(PodRoot.fromEnvironment().podPath(shard.path()), sha256));
      }
      prepared = part.count();
    }
    work.write(work.partialPart(task).resolve("task.json"),
        new PackWork.PreparedTask(prepareSettings(), prepared + bad.total(), bad.counts(), bad.examples(), read));
    work.completePart(task);
    TerminationMessage.write(terminationLog, JSON.writeValueAsString(
        new DataTaskSummary(prepared + bad.total(), (long) prepared, bad.total())));
    err.printf("pack: prepare task %d of %d: %d input shards, %d samples, %d bad, %.1fs%n", task, tasks,
        range[1] - range[0], prepared, bad.total(), (System.nanoTime() - start) / 1e9);
    return ExitCodes.OK;
  }

  private void stage(List<Sample> batch, InputShard shard, SamplePreparer preparer, PreparedPart.Writer part,
      Problems bad) {
    List<PreparedSample> prepared = batch.parallelStream()
        .map(s -> preparer.prepare(s, shard.source().name(), shard.kind())).toList();
    for (int i = 0; i < prepared.size(); i++) {
      PreparedSample sample = prepared.get(i);
      if (!sample.ok()) {
        bad.add(sample.problem(), batch.get(i).shard() + ":" + sample.key());
        continue;
      }
      part.add(sample, sample.tokens().length(visualTokens));
    }
  }

  /** Every prepare task's part, in task order; empty when one is missing (said on stderr). */
  private Optional<List<Path>> parts() {
    List<Path> parts = new ArrayList<>();
    for (int task = 0; task < tasks; task++) {
      if (!Files.isRegularFile(work.preparedTask(task))) {
        err.println("pack: prepare task " + task + " of " + tasks + " has not finished: " + work.preparedTask(task)
            + " is missing (run --step prepare for it first)");
        return Optional.empty();
      }
      parts.add(work.part(task));
    }
    return Optional.of(parts);
  }

  /** Plans every prepared sample into sequences, over their lengths only. */
  private int plan() throws Exception {
    long start = System.nanoTime();
    Optional<List<Path>> parts = parts();
    if (parts.isEmpty()) {
      return ExitCodes.DATA;
    }
    Problems bad = new Problems();
    long samplesRead = 0;
    List<PackWork.InputShard> read = new ArrayList<>();
    for (int task = 0; task < tasks; task++) {
      PackWork.PreparedTask prepared = work.read(work.preparedTask(task), PackWork.PreparedTask.class);
      if (!prepareSettings().equals(prepared.settings())) {
        err.println("pack: prepare task " + task + " was run with other settings (" + prepared.settings() + ") than this"
            + " step (" + prepareSettings() + "): pack the stage again from its prepare step");
        return ExitCodes.DATA;
      }
      samplesRead += prepared.samplesRead();
      bad.addAll(Problems.of(prepared.bad(), prepared.badExamples()));
      read.addAll(prepared.inputs());
    }
    try (PreparedPart.Reader samples = new PreparedPart.Reader(parts.get())) {
      int[] lengths = samples.lengths();
      PackingPlan plan = "first-fit-decreasing".equals(planner) ? FirstFitDecreasing.plan(lengths, sequenceLength)
          : BinCompletion.plan(lengths, sequenceLength);
      for (int oversize : plan.oversize()) {
        bad.add("longer_than_sequence", samples.read(oversize).key() + " (" + lengths[oversize] + " > "
            + sequenceLength + ")");
      }
      work.writePlanSlices(plan, tasks, shardSize, samples);
      work.write(work.planSummary(), new PackWork.PlanSummary(planSettings(), samplesRead, plan.placed(), plan.bins().size(),
          plan.itemTokens(), bad.counts(), bad.examples(), read));
      err.printf("pack: plan: %d samples -> %d sequences of %d (fill %.4f), %.1fs%n", plan.placed(),
          plan.bins().size(), sequenceLength, plan.fill(), (System.nanoTime() - start) / 1e9);
    }
    return ExitCodes.OK;
  }

  /** Writes task {@code task}'s run of packed shards, sequences in plan order. */
  private int write(int task) throws Exception {
    long start = System.nanoTime();
    Optional<List<Path>> parts = parts();
    if (parts.isEmpty()) {
      return ExitCodes.DATA;
    }
    if (!Files.isRegularFile(work.planSummary()) || !Files.isRegularFile(work.planSlice(task))) {
      return planMissing();
    }
    if (!plannedWithTheseSettings(work.read(work.planSummary(), PackWork.PlanSummary.class))) {
      return ExitCodes.DATA;
    }
    PackWork.PlanSlice slice = work.readPlanSlice(task);
    List<PackWork.Shard> written = new ArrayList<>();
    ShardWriter writer = new ShardWriter(output, "packed", shardSize, Long.MAX_VALUE, slice.firstShard());
    try (PreparedPart.Reader samples = new PreparedPart.Reader(parts.get())) {
      for (int s = 0; s < slice.sequences().size(); s++) {
        List<PackedSequence.Segment> segments = new ArrayList<>();
        List<byte[]> images = new ArrayList<>();
        for (PreparedPart.Reader.Location location : slice.sequences().get(s)) {
          PreparedPart.Entry entry = samples.read(location);
          int image = entry.tokens().imagePosition() < 0 ? -1 : images.size();
          if (image >= 0) {
            images.add(entry.jpeg());
          }
          segments.add(new PackedSequence.Segment(entry.key(), entry.source(), entry.tokens().tokens(),
              entry.tokens().imagePosition(), image, entry.tokens().lossSpans()));
        }
        String key = String.format("%08d", slice.firstSequence() + s);
        writer.write(key, PackedFormat.toMembers(
            new PackedSequence(key, sequenceLength, visualTokens, imageSize, segments, images)));
      }
      writer.close();
    } catch (RuntimeException e) {
      writer.abort();  // no cut-off shard under a final name
      throw e;
    }
    for (ShardWriter.WrittenShard shard : writer.shards()) {
      written.add(new PackWork.Shard(shard.path().getFileName().toString(), shard.samples(), shard.bytes(),
          shard.sha256()));
    }
    work.write(work.written(task), written);
    err.printf("pack: write task %d of %d: %d packed shards, %.1fs%n", task, tasks, written.size(),
        (System.nanoTime() - start) / 1e9);
    return ExitCodes.OK;
  }

  /** Writes the manifest from the plan and every write task's shards, then clears the work folder. */
  private int finish() throws Exception {
    if (!Files.isRegularFile(work.planSummary())) {
      if (!Files.exists(work.root()) && Files.isRegularFile(output.resolve("manifest.json"))) {
        // Finished before: a retry after the work folder was cleared says so again.
        return report(JSON.readTree(output.resolve("manifest.json").toFile()),
            Canonical.sha256(output.resolve("manifest.json")));
      }
      return planMissing();
    }
    PackWork.PlanSummary plan = work.read(work.planSummary(), PackWork.PlanSummary.class);
    if (!plannedWithTheseSettings(plan)) {
      return ExitCodes.DATA;
    }
    List<PackWork.Shard> shards = new ArrayList<>();
    for (int task = 0; task < tasks; task++) {
      if (!Files.isRegularFile(work.written(task))) {
        err.println("pack: write task " + task + " of " + tasks + " has not finished: " + work.written(task)
            + " is missing (run --step write for it first)");
        return ExitCodes.DATA;
      }
      shards.addAll(List.of(work.read(work.written(task), PackWork.Shard[].class)));
    }
    long sequences = shards.stream().mapToLong(PackWork.Shard::sequences).sum();
    if (sequences != plan.sequences()) {
      err.println("pack: the write tasks wrote " + sequences + " sequences and the plan has " + plan.sequences()
          + ": were they run with the same --tasks and --shard-size?");
      return ExitCodes.DATA;
    }
    TextTokenizer.Conventions conventions;
    try (TextTokenizer text = TextTokenizer.load(tokenizer)) {
      conventions = text.conventions();
    } catch (RuntimeException e) {
      err.println("pack: --tokenizer " + FailureReport.describe(e));
      return ExitCodes.CONFIG;
    }
    ObjectNode manifest = manifest(plan, shards, conventions);
    byte[] bytes = (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(manifest) + "\n")
        .getBytes(StandardCharsets.UTF_8);
    PackWork.writeAtomically(output.resolve("manifest.json"), bytes);
    removeShardsNotIn(shards);
    work.clear();
    return report(manifest, Canonical.sha256(bytes));
  }

  private int planMissing() {
    err.println("pack: the plan step has not finished: " + work.planSummary() + " is missing (run --step plan first)");
    return ExitCodes.DATA;
  }

  /** The summary for the operator and the log line, and whether the bad input is within bounds. */
  private int report(JsonNode manifest, String manifestSha256) throws Exception {
    long samples = manifest.get("samples").asLong();
    long sequences = manifest.get("sequences").asLong();
    double fill = manifest.get("fill").asDouble();
    long seen = manifest.get("samplesRead").asLong();
    long bad = 0;
    for (JsonNode count : manifest.get("bad")) {
      bad += count.asLong();
    }
    err.printf("pack: %d samples -> %d sequences of %d (fill %.4f), %d bad%n", samples, sequences, sequenceLength,
        fill, bad);
    if (seen > 0 && (double) bad / seen > maxBadFraction) {
      err.printf("pack: too much bad input: %d of %d samples (%.1f%%) are bad, more than --max-bad-fraction %s; see %s%n",
          bad, seen, 100.0 * bad / seen, maxBadFraction, output.resolve("manifest.json"));
      return ExitCodes.DATA;
    }
    // Only on success: a failing pod's message is its cause, from its log.
    TerminationMessage.write(terminationLog, JSON.writeValueAsString(new PackSummary(manifestSha256,
        manifest.get("tokenizerSha256").asText(), samples, sequences, fill)));
    return ExitCodes.OK;
  }

  /**
   * What the prepared parts depend on. A later step run with other settings (the job's spec edited
   * between two steps) would mix two packings, or silently leave parts out: it stops instead.
   */
  private String prepareSettings() {
    // The tokenizer by its content: each pod may see the claim under another root.
    return "inputs=" + inputs + " kinds=" + (kinds == null ? List.of() : kinds) + " tokenizer-sha256="
        + tokenizerSha256() + " image-size=" + imageSize + " visual-tokens=" + visualTokens + " tasks=" + tasks;
  }

  /** The tokenizer file's sha256, read once: the settings and the manifest both name it. */
  private String tokenizerSha256() {
    if (tokenizerSha256 == null) {
      try {
        tokenizerSha256 = Canonical.sha256(tokenizer);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(tokenizer + ": " + e.getMessage(), e);
      }
    }
    return tokenizerSha256;
  }

  private String tokenizerSha256;

  /** What the plan and the packed shards depend on besides the prepared parts. */
  private String planSettings() {
    return prepareSettings() + " seq-len=" + sequenceLength + " planner=" + planner + " shard-size=" + shardSize;
  }

  private boolean plannedWithTheseSettings(PackWork.PlanSummary plan) {
    if (planSettings().equals(plan.settings())) {
      return true;
    }
    err.println("pack: the plan was made with other settings (" + plan.settings() + ") than this step ("
        + planSettings() + "): pack the stage again from its prepare step");
    return false;
  }

  /** Packed shards an earlier, larger packing left beside this one's: a reader of the folder must not take them. */
  private void removeShardsNotIn(List<PackWork.Shard> shards) throws java.io.IOException {
    java.util.Set<String> names = new java.util.HashSet<>();
    shards.forEach(s -> names.add(s.name()));
    for (Path shard : ShardReader.shardsIn(output)) {
      if (shard.getFileName().toString().startsWith("packed-") && !names.contains(shard.getFileName().toString())) {
        Files.delete(shard);
      }
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private ObjectNode manifest(PackWork.PlanSummary plan, List<PackWork.Shard> shards,
      TextTokenizer.Conventions conventions) throws Exception {
    ObjectNode manifest = JSON.createObjectNode();
    manifest.put("format", PackedFormat.FORMAT);
    manifest.put("sequenceLength", sequenceLength);
    manifest.put("visualTokens", visualTokens);
    manifest.put("imageSize", imageSize);
    manifest.put("seed", seed);
    manifest.put("planner", planner);
    manifest.put("samplesRead", plan.samplesRead());
    manifest.put("samples", plan.samples());
    manifest.put("sequences", plan.sequences());
    manifest.put("tokens", plan.tokens());
    manifest.put("fill", plan.sequences() == 0 ? 0 : (double) plan.tokens() / ((long) plan.sequences() * sequenceLength));
    manifest.set("bad", JSON.valueToTree(plan.problems().counts()));
    manifest.set("badExamples", JSON.valueToTree(plan.problems().examples()));
    manifest.put("tokenizerSha256", tokenizerSha256());
    manifest.set("tokenizer", JSON.valueToTree(conventions));
    manifest.set("inputs", JSON.valueToTree(plan.inputs()));
    ArrayNode out = manifest.putArray("shards");
    for (PackWork.Shard shard : shards) {
      out.addObject().put("name", shard.name()).put("sequences", shard.sequences()).put("bytes", shard.bytes())
          .put("sha256", shard.sha256());
    }
    return manifest;
  }

  /** The kind of each input: one --kind per --input, or none at all (each sample as its members say). */
  private List<SamplePreparer.Kind> kinds(int inputCount) {
    if (kinds == null || kinds.isEmpty()) {
      return java.util.Collections.nCopies(inputCount, SamplePreparer.Kind.ANY);
    }
    if (kinds.size() != inputCount) {
      throw new IllegalArgumentException("give one --kind per --input (" + inputCount + "), or none; found " + kinds.size());
    }
    List<SamplePreparer.Kind> parsed = new ArrayList<>();
    for (String kind : kinds) {
      switch (kind.toLowerCase(java.util.Locale.ROOT)) {
        case "captions" -> parsed.add(SamplePreparer.Kind.CAPTIONS);
        case "instructions" -> parsed.add(SamplePreparer.Kind.INSTRUCTIONS);
        default -> throw new IllegalArgumentException("--kind " + kind + ": must be captions or instructions");
      }
    }
    return parsed;
  }
}
