package dev.kiln.datajobs.pack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.PackSummary;
import dev.kiln.data.image.Images;
import dev.kiln.data.packed.PackedFormat;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.text.SampleTokens;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.datajobs.DataJobsTestSupport;
import dev.kiln.datajobs.Inputs;
import dev.kiln.datajobs.TestShards;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackCommandTest {

  @TempDir
  Path dir;

  DataJobsTestSupport.Result pack(Path out, String... inputs) {
    List<String> args = new ArrayList<>(List.of("pack", "--output", out.toString(), "--tokenizer",
        TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "16", "--image-size", "32",
        "--shard-size", "5"));
    for (String input : inputs) {
      args.add("--input");
      args.add(input);
    }
    return DataJobsTestSupport.run(args.toArray(String[]::new));
  }

  List<PackedSequence> read(Path out) {
    return new ShardReader(new Problems()).readAll(Inputs.resolve(out.toString()).shards()).stream()
        .map(PackedFormat::fromSample).toList();
  }

  @Test
  void packsEverySampleExactlyOnceWithoutOverfilling() throws IOException {
    TestShards.captions(dir.resolve("captions"), 60, 25);
    TestShards.conversations(dir.resolve("qa"), 20);

    var r = pack(dir.resolve("packed"), dir.resolve("captions").toString(), dir.resolve("qa").toString());

    assertThat(r.exit()).as(r.err()).isZero();
    List<PackedSequence> sequences = read(dir.resolve("packed"));
    List<String> keys = sequences.stream().flatMap(s -> s.segments().stream()).map(s -> s.source() + "/" + s.key()).toList();
    assertThat(keys).hasSize(80).doesNotHaveDuplicates();
    assertThat(sequences).allSatisfy(s -> {
      assertThat(s.length()).isLessThanOrEqualTo(128);
      assertThat(s.images()).hasSize(s.segments().size());
      assertThat(Images.decode(s.images().getFirst()).getWidth()).isEqualTo(32);
    });
    JsonNode manifest = new ObjectMapper().readTree(dir.resolve("packed/manifest.json").toFile());
    assertThat(manifest.get("samples").asInt()).isEqualTo(80);
    assertThat(manifest.get("sequences").asInt()).isEqualTo(sequences.size());
    assertThat(manifest.get("fill").asDouble()).isGreaterThan(0.8);
    assertThat(manifest.get("inputs")).hasSize(4);
    assertThat(manifest.get("inputs").get(0).get("sha256").asText()).hasSize(64);
  }

  @Test
  void segmentsCarryTheRecipesLayoutAndLossSpans() {
    TestShards.conversations(dir.resolve("qa"), 3);

    pack(dir.resolve("packed"), dir.resolve("qa").toString());

    PackedSequence.Segment segment = read(dir.resolve("packed")).getFirst().segments().getFirst();
    assertThat(segment.tokens()[0]).isEqualTo(2);
    assertThat(segment.tokens()[segment.imagePosition()]).isEqualTo(SampleTokens.IMAGE_PLACEHOLDER);
    assertThat(segment.loss()).singleElement().satisfies(span -> assertThat(span[1] - span[0]).isEqualTo(2));
  }

  @Test
  void sameInputsGiveByteIdenticalOutput() throws IOException {
    TestShards.captions(dir.resolve("captions"), 40, 10);

    pack(dir.resolve("a"), dir.resolve("captions").toString());
    pack(dir.resolve("b"), dir.resolve("captions").toString());

    List<Path> shards = Inputs.resolve(dir.resolve("a").toString()).shards();
    assertThat(shards).hasSizeGreaterThan(1);
    for (Path shard : shards) {
      assertThat(Files.readAllBytes(shard)).isEqualTo(Files.readAllBytes(dir.resolve("b").resolve(shard.getFileName())));
    }
    assertThat(Files.readString(dir.resolve("a/manifest.json")).replace(dir.resolve("a").toString(), ""))
        .isEqualTo(Files.readString(dir.resolve("b/manifest.json")).replace(dir.resolve("b").toString(), ""));
  }

  /** The steps as a cluster runs them: one process per prepare and write task, then plan and finish. */
  DataJobsTestSupport.Result packInSteps(Path out, int tasks, Path... inputs) {
    List<String> common = new ArrayList<>(List.of("pack", "--output", out.toString(), "--tokenizer",
        TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "16", "--image-size", "32",
        "--shard-size", "5", "--tasks", Integer.toString(tasks),
        "--termination-log", out.resolveSibling(out.getFileName() + "-termination-log").toString()));
    for (Path input : inputs) {
      common.add("--input");
      common.add(input.toString());
    }
    DataJobsTestSupport.Result last = null;
    for (String step : List.of("prepare", "plan", "write", "finish")) {
      boolean perTask = step.equals("prepare") || step.equals("write");
      // Tasks out of order, as pods of an Indexed Job finish.
      for (int task = perTask ? tasks - 1 : 0; task >= 0; task--) {
        List<String> args = new ArrayList<>(common);
        args.addAll(List.of("--step", step));
        if (perTask) {
          args.addAll(List.of("--task-index", Integer.toString(task)));
        }
        last = DataJobsTestSupport.run(args.toArray(String[]::new));
        assertThat(last.exit()).as(step + " " + task + ": " + last.err()).isZero();
        if (!perTask) {
          break;
        }
      }
    }
    return last;
  }

  @Test
  void anyNumberOfPrepareAndWriteTasksGivesTheSameBytesAsOneProcess() throws IOException {
    TestShards.captions(dir.resolve("captions"), 53, 7);
    TestShards.captions(dir.resolve("more"), 12, 5);
    Path[] inputs = {dir.resolve("captions"), dir.resolve("more")};
    pack(dir.resolve("one"), inputs[0].toString(), inputs[1].toString());
    List<Path> expected = Inputs.resolve(dir.resolve("one").toString()).shards();
    assertThat(expected).hasSizeGreaterThan(2);

    for (int tasks : new int[] {1, 2, 5, 13}) {
      Path out = dir.resolve("tasks-" + tasks);
      packInSteps(out, tasks, inputs);

      assertThat(Inputs.resolve(out.toString()).shards()).as(tasks + " tasks").hasSameSizeAs(expected);
      for (Path shard : expected) {
        assertThat(Files.readAllBytes(out.resolve(shard.getFileName()))).as(tasks + " tasks: " + shard.getFileName())
            .isEqualTo(Files.readAllBytes(shard));
      }
      assertThat(Files.readString(out.resolve("manifest.json")).replace(out.toString(), ""))
          .isEqualTo(Files.readString(dir.resolve("one/manifest.json")).replace(dir.resolve("one").toString(), ""));
      assertThat(out.resolve(".work")).as("the work folder, cleared once the manifest is written").doesNotExist();
    }
  }

  @Test
  void aStepRunBeforeTheOneItNeedsSaysWhichTaskHasNotFinished() throws IOException {
    TestShards.captions(dir.resolve("captions"), 20, 5);
    Path out = dir.resolve("out");
    List<String> args = List.of("pack", "--output", out.toString(), "--tokenizer", TestShards.tokenizer(dir).toString(),
        "--seq-len", "128", "--visual-tokens", "16", "--image-size", "32", "--input", dir.resolve("captions").toString(),
        "--tasks", "3");
    java.util.function.BiFunction<String, String, DataJobsTestSupport.Result> run = (step, task) -> {
      List<String> all = new ArrayList<>(args);
      all.addAll(List.of("--step", step));
      if (task != null) {
        all.addAll(List.of("--task-index", task));
      }
      return DataJobsTestSupport.run(all.toArray(String[]::new));
    };
    assertThat(run.apply("prepare", "0").exit()).isZero();
    assertThat(run.apply("prepare", "2").exit()).isZero();

    DataJobsTestSupport.Result early = run.apply("plan", null);
    assertThat(early.exit()).isEqualTo(dev.kiln.api.runconfig.ExitCodes.DATA);
    assertThat(early.err()).contains("prepare task 1 of 3 has not finished");

    assertThat(run.apply("prepare", "1").exit()).isZero();
    // A retried task replaces what its first try left.
    assertThat(run.apply("prepare", "1").exit()).isZero();
    List<String> fewer = new ArrayList<>(args.subList(0, args.size() - 2));
    fewer.addAll(List.of("--tasks", "2", "--step", "plan"));
    DataJobsTestSupport.Result mixed = DataJobsTestSupport.run(fewer.toArray(String[]::new));
    assertThat(mixed.exit()).as("a spec edited between steps: a part would be left out").isEqualTo(
        dev.kiln.api.runconfig.ExitCodes.DATA);
    assertThat(mixed.err()).contains("prepare task 0 was run with other settings");
    // Each pod may see the claim under another root: the same tokenizer elsewhere is the same setting.
    Path copy = Files.createDirectories(dir.resolve("other-root")).resolve("tokenizer.json");
    Files.copy(TestShards.tokenizer(dir), copy);
    List<String> elsewhere = new ArrayList<>(args);
    elsewhere.set(elsewhere.indexOf("--tokenizer") + 1, copy.toString());
    elsewhere.addAll(List.of("--step", "plan"));
    assertThat(DataJobsTestSupport.run(elsewhere.toArray(String[]::new)).exit()).isZero();
    assertThat(run.apply("plan", null).exit()).isZero();
    assertThat(run.apply("write", "0").exit()).isZero();
    DataJobsTestSupport.Result unwritten = run.apply("finish", null);
    assertThat(unwritten.exit()).isEqualTo(dev.kiln.api.runconfig.ExitCodes.DATA);
    assertThat(unwritten.err()).contains("write task 1 of 3 has not finished");
    assertThat(run.apply("write", "1").exit()).isZero();
    assertThat(run.apply("write", "2").exit()).isZero();
    assertThat(run.apply("finish", null).exit()).isZero();
    String manifest = Files.readString(out.resolve("manifest.json"));
    assertThat(new ObjectMapper().readTree(manifest).get("samples").asInt()).isEqualTo(20);

    DataJobsTestSupport.Result again = run.apply("finish", null);
    assertThat(again.exit()).as("a finish retried after it cleared its work").isZero();
    assertThat(again.err()).contains("20 samples ->");
    assertThat(Files.readString(out.resolve("manifest.json"))).isEqualTo(manifest);

    DataJobsTestSupport.Result outside = run.apply("write", "3");
    assertThat(outside.exit()).isEqualTo(dev.kiln.api.runconfig.ExitCodes.USAGE);
    assertThat(outside.err()).contains("task index 3 is outside --tasks 3");
  }

  @Test
  void packedShardsOfAnEarlierLargerPackingAreRemoved() throws IOException {
    TestShards.captions(dir.resolve("captions"), 40, 10);
    pack(dir.resolve("out"), dir.resolve("captions").toString());
    int before = Inputs.resolve(dir.resolve("out").toString()).shards().size();
    TestShards.captions(dir.resolve("fewer"), 8, 8);

    pack(dir.resolve("out"), dir.resolve("fewer").toString());

    JsonNode manifest = new ObjectMapper().readTree(dir.resolve("out/manifest.json").toFile());
    assertThat(Inputs.resolve(dir.resolve("out").toString()).shards()).hasSize(manifest.get("shards").size())
        .hasSizeLessThan(before);
  }

  @Test
  void theTerminationMessageCarriesTheManifestsAndTheTokenizersSha256ForTheOperator() throws IOException {
    TestShards.captions(dir.resolve("captions"), 40, 10);
    Path message = dir.resolve("termination-log");
    List<String> args = new ArrayList<>(List.of("pack", "--output", dir.resolve("out").toString(), "--tokenizer",
        TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "16", "--image-size", "32",
        "--input", dir.resolve("captions").toString(), "--termination-log", message.toString()));
    assertThat(DataJobsTestSupport.run(args.toArray(String[]::new)).exit()).isZero();

    PackSummary summary = new ObjectMapper().readValue(message.toFile(), PackSummary.class);
    assertThat(summary.manifestSha256()).isEqualTo(Canonical.sha256(Files.readAllBytes(dir.resolve("out/manifest.json"))));
    assertThat(summary.tokenizerSha256()).isEqualTo(Canonical.sha256(Files.readAllBytes(TestShards.tokenizer(dir))));
    assertThat(summary.samples()).isEqualTo(40);
    JsonNode manifest = new ObjectMapper().readTree(dir.resolve("out/manifest.json").toFile());
    assertThat(summary.sequences()).isEqualTo(manifest.get("sequences").asLong());
  }

  @Test
  void bothPlannersPackEverySampleOnceAndTheManifestSaysWhichPlanned() throws IOException {
    TestShards.captions(dir.resolve("captions"), 60, 10);
    for (String planner : List.of("bin-completion", "first-fit-decreasing")) {
      List<String> args = new ArrayList<>(List.of("pack", "--output", dir.resolve(planner).toString(), "--tokenizer",
          TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "16", "--image-size", "32",
          "--input", dir.resolve("captions").toString(), "--planner", planner));
      assertThat(DataJobsTestSupport.run(args.toArray(String[]::new)).exit()).isZero();
      JsonNode manifest = new ObjectMapper().readTree(dir.resolve(planner).resolve("manifest.json").toFile());
      assertThat(manifest.get("planner").asText()).isEqualTo(planner);
      assertThat(manifest.get("samples").asInt()).isEqualTo(60);
      assertThat(read(dir.resolve(planner)).stream().mapToInt(s -> s.segments().size()).sum()).isEqualTo(60);
    }
    DataJobsTestSupport.Result wrong = DataJobsTestSupport.run("pack", "--output", dir.resolve("x").toString(),
        "--tokenizer", TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "16",
        "--image-size", "32", "--input", dir.resolve("captions").toString(), "--planner", "best");
    assertThat(wrong.exit()).isEqualTo(dev.kiln.api.runconfig.ExitCodes.USAGE);
    assertThat(wrong.err()).contains("--planner best: must be bin-completion or first-fit-decreasing");
  }

  @Test
  void undecodableImagesAndOtherDefectsAreCountedNotFatal() throws IOException {
    Path defects = TestShards.defects(dir.resolve("raw"));

    var r = DataJobsTestSupport.run("pack", "--input", defects.getParent().toString(), "--output",
        dir.resolve("packed").toString(), "--tokenizer", TestShards.tokenizer(dir).toString(), "--seq-len", "64",
        "--visual-tokens", "4", "--image-size", "16", "--max-bad-fraction", "0.9");

    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode manifest = new ObjectMapper().readTree(dir.resolve("packed/manifest.json").toFile());
    assertThat(manifest.get("samples").asInt()).isEqualTo(3);
    assertThat(manifest.get("bad").get("undecodable_image").asInt()).isEqualTo(1);
    assertThat(manifest.get("bad").get("missing_image").asInt()).isEqualTo(1);
    assertThat(manifest.get("badExamples").get("undecodable_image").get(0).asText()).endsWith(":notanimage");
  }
  @Test
  void aSampleOfTheOtherLayoutThanItsSourcesKindIsCountedBadWithItsReason() throws IOException {
    TestShards.captions(dir.resolve("captions"), 10, 10);
    TestShards.conversations(dir.resolve("qa"), 4);

    // The two sources swapped: every sample is of the other kind.
    var r = DataJobsTestSupport.run("pack", "--input", dir.resolve("captions").toString(), "--kind", "instructions",
        "--input", dir.resolve("qa").toString(), "--kind", "captions", "--output", dir.resolve("packed").toString(),
        "--tokenizer", TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "4",
        "--image-size", "16", "--max-bad-fraction", "1");

    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode manifest = new ObjectMapper().readTree(dir.resolve("packed/manifest.json").toFile());
    assertThat(manifest.get("samples").asInt()).isZero();
    assertThat(manifest.get("bad").get("conversation_expected").asInt()).isEqualTo(10);
    assertThat(manifest.get("bad").get("caption_expected").asInt()).isEqualTo(4);
  }

  @Test
  void kindsMustMatchTheInputsOneForOne() {
    TestShards.captions(dir.resolve("captions"), 10, 10);

    var r = DataJobsTestSupport.run("pack", "--input", dir.resolve("captions").toString(), "--kind", "captions",
        "--kind", "instructions", "--output", dir.resolve("packed").toString(), "--tokenizer",
        TestShards.tokenizer(dir).toString(), "--seq-len", "128", "--visual-tokens", "4", "--image-size", "16");

    assertThat(r.exit()).isEqualTo(dev.kiln.api.runconfig.ExitCodes.USAGE);
    assertThat(r.err().strip()).isEqualTo("pack: give one --kind per --input (1), or none; found 2");
  }

  @Test
  void theRecipesOwnTokenizerPacksCaptionsAndConversationsAndIsRecorded() throws IOException {
    TestShards.captions(dir.resolve("captions"), 6, 6);
    TestShards.conversations(dir.resolve("qa"), 3);

    var r = DataJobsTestSupport.run("pack", "--input", dir.resolve("captions").toString(), "--kind", "captions",
        "--input", dir.resolve("qa").toString(), "--kind", "instructions", "--output", dir.resolve("packed").toString(),
        "--tokenizer", TestShards.qwenTokenizer().toString(), "--seq-len", "128", "--visual-tokens", "16",
        "--image-size", "32");

    assertThat(r.exit()).as(r.err()).isZero();
    List<PackedSequence.Segment> segments = read(dir.resolve("packed")).stream().flatMap(s -> s.segments().stream())
        .toList();
    assertThat(segments).hasSize(9).allSatisfy(s -> {
      assertThat(s.tokens()[s.imagePosition()]).isEqualTo(SampleTokens.IMAGE_PLACEHOLDER);
      assertThat(s.tokens()[s.tokens().length - 1]).as("<|im_end|>, the model's eos, or the \\n after it")
          .isIn(151645, 198);
    });
    assertThat(segments.stream().filter(s -> s.source().equals("qa")))
        .allSatisfy(s -> assertThat(s.tokens()[0]).as("<|im_start|>, no BOS").isEqualTo(151644));
    JsonNode tokenizer = new ObjectMapper().readTree(dir.resolve("packed/manifest.json").toFile()).get("tokenizer");
    assertThat(tokenizer.toString()).isEqualTo(
        "{\"vocabularySize\":151665,\"bos\":null,\"endOfText\":\"<|im_end|>\",\"chatMl\":true}");
  }

  @Test
  void anInstructionsSourceWithATokenizerThatHasNoChatTokensIsAConfigurationError() throws IOException {
    TestShards.conversations(dir.resolve("qa"), 2);
    Path plain = dir.resolve("plain/tokenizer.json");
    Files.createDirectories(plain.getParent());
    Files.writeString(plain, Files.readString(TestShards.tokenizer(dir)).replace("<|im_start|>", "<|turn|>"));

    var r = DataJobsTestSupport.run("pack", "--input", dir.resolve("qa").toString(), "--kind", "instructions",
        "--output", dir.resolve("packed").toString(), "--tokenizer", plain.toString(), "--seq-len", "128",
        "--visual-tokens", "16", "--image-size", "32");

    assertThat(r.exit()).isEqualTo(78);
    assertThat(r.err().strip()).isEqualTo("pack: " + plain + ": an instructions source is laid out in ChatML, and this"
        + " tokenizer has no <|im_start|> and <|im_end|> tokens");
  }
}
