package dev.kiln.datajobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.data.packed.PackedFormat;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FromLlavaCommandTest {

  @TempDir
  Path dir;

  /** Four entries as LLaVA-665k has them: two with images, one text-only, one whose image is missing. */
  Path llavaJson() throws Exception {
    Files.createDirectories(dir.resolve("images/coco"));
    Files.write(dir.resolve("images/coco/0001.png"), TestShards.png(1, 40));
    Files.write(dir.resolve("images/coco/0002.png"), TestShards.png(2, 40));
    Path json = dir.resolve("llava.json");
    Files.writeString(json, """
        [
          {"id": "a1", "image": "coco/0001.png", "conversations": [
            {"from": "human", "value": "<image>\\nWhat color is the shape?"}, {"from": "gpt", "value": "Red."}]},
          {"id": "t2", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]},
          {"id": "m3", "image": "coco/missing.png", "conversations": [
            {"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A square."}]},
          {"id": "b4", "image": "coco/0002.png", "conversations": [
            {"from": "human", "value": "Describe it briefly.\\n<image>"}, {"from": "gpt", "value": "A blue circle on the left."}]}
        ]""");
    return json;
  }

  List<Sample> read(Path out) {
    return new ShardReader(new Problems()).readAll(Inputs.resolve(out.toString()).shards());
  }

  @Test
  void entriesWithImagesBecomeSamplesAndTheRestAreCountedByReason() throws Exception {
    var r = DataJobsTestSupport.run("from-llava", "--json", llavaJson().toString(), "--images",
        dir.resolve("images").toString(), "--output", dir.resolve("qa").toString());

    assertThat(r.exit()).as(r.err()).isZero();
    List<Sample> samples = read(dir.resolve("qa"));
    assertThat(samples).extracting(Sample::key).containsExactly("000000000", "000000003");
    assertThat(samples.getFirst().members().get("png")).isEqualTo(Files.readAllBytes(dir.resolve("images/coco/0001.png")));
    JsonNode meta = new ObjectMapper().readTree(samples.getFirst().members().get("json"));
    assertThat(meta.get("id").asText()).isEqualTo("a1");
    assertThat(meta.get("conversations").get(1).get("value").asText()).isEqualTo("Red.");
    JsonNode report = new ObjectMapper().readTree(dir.resolve("qa/report.json").toFile());
    assertThat(report.get("entries").asInt()).isEqualTo(4);
    assertThat(report.get("written").asInt()).isEqualTo(2);
    assertThat(report.get("skipped").toString()).isEqualTo("{\"image_missing\":1,\"no_image\":1}");
    assertThat(report.get("skippedExamples").get("image_missing").get(0).asText()).isEqualTo("entry 2 (id m3)");
  }

  @Test
  void captionsTakeTheLastAnswerAndBothLayoutsPackWithTheRecipesTokenizer() throws Exception {
    Path json = llavaJson();
    DataJobsTestSupport.run("from-llava", "--json", json.toString(), "--images", dir.resolve("images").toString(),
        "--output", dir.resolve("qa").toString());
    var r = DataJobsTestSupport.run("from-llava", "--json", json.toString(), "--images", dir.resolve("images").toString(),
        "--output", dir.resolve("captions").toString(), "--kind", "captions");

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(read(dir.resolve("captions")).get(1).text("txt")).hasValue("A blue circle on the left.");
    var packed = DataJobsTestSupport.run("pack", "--input", dir.resolve("captions").toString(), "--kind", "captions",
        "--input", dir.resolve("qa").toString(), "--kind", "instructions", "--output", dir.resolve("packed").toString(),
        "--tokenizer", TestShards.qwenTokenizer().toString(), "--seq-len", "256", "--visual-tokens", "16",
        "--image-size", "32");
    assertThat(packed.exit()).as(packed.err()).isZero();
    List<PackedSequence.Segment> segments = read(dir.resolve("packed")).stream().map(PackedFormat::fromSample)
        .flatMap(s -> s.segments().stream()).toList();
    assertThat(segments).hasSize(4).allSatisfy(s -> assertThat(s.imagePosition()).isNotNegative());
  }

  @Test
  void aFileThatIsNotAListIsRefusedNamingIt() throws Exception {
    Path json = dir.resolve("one.json");
    Files.writeString(json, "{\"id\": 1}", StandardCharsets.UTF_8);

    var r = DataJobsTestSupport.run("from-llava", "--json", json.toString(), "--images", dir.toString(), "--output",
        dir.resolve("out").toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err().strip()).isEqualTo("from-llava: " + json + ": not a JSON list of entries");
  }
}
