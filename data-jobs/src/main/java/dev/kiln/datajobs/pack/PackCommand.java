package dev.kiln.datajobs.pack;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.Canonical;
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
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Packs every input shard of a stage into sequences of {@code --seq-len} positions:
 * tokenize and resize in parallel (pass 1, spilled to a staging file), plan first-fit-decreasing
 * over all samples at once, then write the packed shards in plan order (pass 2) and a manifest.
 * Same inputs, same bytes.
 */
@Command(name = "pack", mixinStandardHelpOptions = true, description = "Pack samples into fixed-length multimodal sequences.")
public final class PackCommand implements Callable<Integer> {

  /** Samples prepared per parallel batch: big enough to keep every core busy, small enough to bound memory. */
  static final int BATCH = 512;

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
      + " (the manifest's sha256)", defaultValue = "${env:KILN_TERMINATION_LOG:-" + PodPaths.TERMINATION_MESSAGE + "}")
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

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    if (!List.of("bin-completion", "first-fit-decreasing").contains(planner)) {
      err.println("pack: --planner " + planner + ": must be bin-completion or first-fit-decreasing");
      err.flush();
      return ExitCodes.USAGE;
    }
    if (!Files.isRegularFile(tokenizer)) {
      err.println("--tokenizer " + tokenizer + ": no such file");
      err.flush();
      return ExitCodes.CONFIG;
    }
    List<SamplePreparer.Kind> sourceKinds;
    try {
      sourceKinds = kinds(inputs.size());
    } catch (IllegalArgumentException e) {
      err.println("pack: " + e.getMessage());
      err.flush();
      return ExitCodes.USAGE;
    }
    List<Inputs.Source> sources = Inputs.resolve(inputs);
    for (int i = 0; i < sources.size(); i++) {
      // A filtered source may have kept nothing; shards named but absent are a mistake.
      var missing = sources.get(i).shards().isEmpty() ? Optional.<String>empty()
          : Inputs.missing(inputs.get(i), sources.get(i).shards());
      if (missing.isPresent()) {
        err.println("pack: " + missing.get());
        err.flush();
        return ExitCodes.DATA;
      }
    }
    var unwritable = WritableFolder.problem(output, System.getenv());
    if (unwritable.isPresent()) {
      err.println("pack: " + unwritable.get());
      err.flush();
      return ExitCodes.CONFIG;
    }
    long start = System.nanoTime();
    Files.createDirectories(output);
    Problems bad = new Problems();
    List<Integer> lengths = new ArrayList<>();
    ArrayNode inputManifest = new ObjectMapper().createArrayNode();
    TextTokenizer text;
    try {
      text = TextTokenizer.load(tokenizer);
    } catch (RuntimeException e) {
      err.println("pack: --tokenizer " + FailureReport.describe(e));
      err.flush();
      return ExitCodes.CONFIG;
    }
    if (text.chat().isEmpty() && sourceKinds.contains(SamplePreparer.Kind.INSTRUCTIONS)) {
      err.println("pack: " + tokenizer + ": an instructions source is laid out in ChatML, and this tokenizer has no "
          + TextTokenizer.TURN_START + " and " + TextTokenizer.TURN_END + " tokens");
      err.flush();
      text.close();
      return ExitCodes.CONFIG;
    }
    try (text; Staging staging = new Staging(output.resolve(".staging"))) {
      SamplePreparer preparer = new SamplePreparer(text, imageSize);
      ShardReader reader = new ShardReader(bad);
      for (int s = 0; s < sources.size(); s++) {
        Inputs.Source source = sources.get(s);
        SamplePreparer.Kind kind = sourceKinds.get(s);
        for (Path shard : source.shards()) {
          List<Sample> batch = new ArrayList<>();
          String sha256 = reader.readShard(shard, sample -> {
            batch.add(sample);
            if (batch.size() == BATCH) {
              stage(batch, source.name(), kind, preparer, staging, lengths, bad);
              batch.clear();
            }
          });
          stage(batch, source.name(), kind, preparer, staging, lengths, bad);
          // As the pod sees it: the manifest's bytes must not depend on where a node keeps the claim.
          inputManifest.addObject().put("path", PodRoot.fromEnvironment().podPath(shard)).put("sha256", sha256);
        }
      }
      long seen = lengths.size() + bad.total();

      int[] planned = lengths.stream().mapToInt(Integer::intValue).toArray();
      PackingPlan plan = "first-fit-decreasing".equals(planner) ? FirstFitDecreasing.plan(planned, sequenceLength)
          : BinCompletion.plan(planned, sequenceLength);
      for (int oversize : plan.oversize()) {
        bad.add("longer_than_sequence", staging.key(oversize) + " (" + planned[oversize] + " > " + sequenceLength + ")");
      }
      List<ShardWriter.WrittenShard> shards = writeSequences(plan, staging);
      String tokenizerSha256 = Canonical.sha256(tokenizer);
      String manifestSha256 = writeManifest(plan, shards, inputManifest, bad, seen, text.conventions(), tokenizerSha256);
      TerminationMessage.write(terminationLog, new ObjectMapper().writeValueAsString(new PackSummary(manifestSha256,
          tokenizerSha256, (long) plan.placed(), (long) plan.bins().size(), plan.fill())));
      double seconds = (System.nanoTime() - start) / 1e9;
      err.printf("pack: %d samples -> %d sequences of %d (fill %.4f), %d bad, %.1fs%n", plan.placed(),
          plan.bins().size(), sequenceLength, plan.fill(), bad.total(), seconds);
      err.flush();
      if (seen > 0 && (double) bad.total() / seen > maxBadFraction) {
        err.printf("pack: too much bad input: %d of %d samples (%.1f%%) are bad, more than --max-bad-fraction %s; see %s%n",
            bad.total(), seen, 100.0 * bad.total() / seen, maxBadFraction, output.resolve("manifest.json"));
        err.flush();
        return ExitCodes.DATA;
      }
      return ExitCodes.OK;
    }
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

  private void stage(List<Sample> batch, String source, SamplePreparer.Kind kind, SamplePreparer preparer,
      Staging staging, List<Integer> lengths, Problems bad) {
    List<PreparedSample> prepared = batch.parallelStream().map(s -> preparer.prepare(s, source, kind)).toList();
    for (int i = 0; i < prepared.size(); i++) {
      PreparedSample sample = prepared.get(i);
      if (!sample.ok()) {
        bad.add(sample.problem(), batch.get(i).shard() + ":" + sample.key());
        continue;
      }
      staging.add(sample);
      lengths.add(sample.tokens().length(visualTokens));
    }
  }

  private List<ShardWriter.WrittenShard> writeSequences(PackingPlan plan, Staging staging) {
    try (ShardWriter writer = new ShardWriter(output, "packed", shardSize, Long.MAX_VALUE)) {
      for (int b = 0; b < plan.bins().size(); b++) {
        List<PackedSequence.Segment> segments = new ArrayList<>();
        List<byte[]> images = new ArrayList<>();
        for (int item : plan.bins().get(b).items()) {
          Staging.Entry entry = staging.read(item);
          int image = entry.tokens().imagePosition() < 0 ? -1 : images.size();
          if (image >= 0) {
            images.add(entry.jpeg());
          }
          segments.add(new PackedSequence.Segment(staging.key(item), staging.source(item), entry.tokens().tokens(),
              entry.tokens().imagePosition(), image, entry.tokens().lossSpans()));
        }
        String key = String.format("%08d", b);
        writer.write(key, PackedFormat.toMembers(
            new PackedSequence(key, sequenceLength, visualTokens, imageSize, segments, images)));
      }
      writer.close();
      return writer.shards();
    }
  }

  /** Writes manifest.json, all or nothing; returns the sha256 of its bytes. */
  private String writeManifest(PackingPlan plan, List<ShardWriter.WrittenShard> shards, ArrayNode inputs, Problems bad,
      long seen, TextTokenizer.Conventions conventions, String tokenizerSha256) throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode manifest = json.createObjectNode();
    manifest.put("format", PackedFormat.FORMAT);
    manifest.put("sequenceLength", sequenceLength);
    manifest.put("visualTokens", visualTokens);
    manifest.put("imageSize", imageSize);
    manifest.put("seed", seed);
    manifest.put("planner", planner);
    manifest.put("samplesRead", seen);
    manifest.put("samples", plan.placed());
    manifest.put("sequences", plan.bins().size());
    manifest.put("tokens", plan.itemTokens());
    manifest.put("fill", plan.fill());
    manifest.set("bad", json.valueToTree(bad.counts()));
    manifest.set("badExamples", json.valueToTree(bad.examples()));
    manifest.put("tokenizerSha256", tokenizerSha256);
    manifest.set("tokenizer", json.valueToTree(conventions));
    manifest.set("inputs", inputs);
    ArrayNode out = manifest.putArray("shards");
    for (ShardWriter.WrittenShard shard : shards) {
      out.addObject().put("name", shard.path().getFileName().toString()).put("sequences", shard.samples())
          .put("bytes", shard.bytes()).put("sha256", shard.sha256());
    }
    byte[] bytes = (json.writerWithDefaultPrettyPrinter().writeValueAsString(manifest) + "\n").getBytes(StandardCharsets.UTF_8);
    Path temporary = output.resolve(".manifest.json.partial");
    Files.write(temporary, bytes);
    Files.move(temporary, output.resolve("manifest.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return Canonical.sha256(bytes);
  }
}
