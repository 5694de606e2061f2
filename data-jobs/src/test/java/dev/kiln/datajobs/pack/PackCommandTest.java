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
