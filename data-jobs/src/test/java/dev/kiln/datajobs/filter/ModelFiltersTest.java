package dev.kiln.datajobs.filter;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.data.image.Images;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.datajobs.DataJobsTestSupport;
import dev.kiln.datajobs.TestShards;
import dev.kiln.model.VisionLanguageModel;
import dev.kiln.model.clip.ClipModelTest;
import dev.kiln.model.clip.ClipScorer;
import dev.kiln.model.mlm.MlmScorer;
import dev.kiln.model.weights.ModelFolder;
import dev.kiln.model.weights.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The clip and mlm filters through the filter job, with real (tiny) models read from HF-layout folders. */
class ModelFiltersTest {

  @TempDir
  Path dir;

  @Test
  void clipFilterKeepsExactlyThePairsScoringAtLeastTheThresholdWhateverTheBatch() throws IOException {
    Path shards = dir.resolve("raw");
    TestShards.captions(shards, 12, 6);
    Path clip = Files.createDirectories(dir.resolve("clip"));
    ClipModelTest.writeTinyClip(clip, TestShards.WORDS.subList(0, 17));
    List<Sample> samples = new ShardReader(new Problems()).readAll(ShardReader.shardsIn(shards));
    double[] scores;
    try (ClipScorer scorer = ClipScorer.load(clip)) {
      scores = scorer.scores(samples.stream().map(s -> Images.decode(s.image().get().getValue())).toList(),
          samples.stream().map(s -> new String(s.members().get("txt"))).toList());
    }
    double threshold = Arrays.stream(scores).sorted().toArray()[6];
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < samples.size(); i++) {
      if (scores[i] >= threshold) {
        expected.add(samples.get(i).key());
      }
    }

    for (String batch : List.of("32", "5")) {
      Path out = dir.resolve("out-" + batch);
      var r = DataJobsTestSupport.run("filter", "--input", shards.toString(), "--output", out.toString(),
          "--filter", "clip:model=" + clip + ",min=" + threshold, "--batch", batch);

      assertThat(r.exit()).as(r.err()).isZero();
      JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
      assertThat(report.get("kept").asLong()).isEqualTo(expected.size());
      assertThat(report.get("dropped").asLong()).isEqualTo(12 - expected.size());
      assertThat(new ShardReader(new Problems()).readAll(ShardReader.shardsIn(out)))
          .extracting(Sample::key).containsExactlyElementsOf(expected);
    }
  }

  @Test
  void mlmFilterReadsTheIntegerOnTheFirstLineOfTheModelsAnswer() throws IOException {
    Path shards = dir.resolve("raw");
    TestShards.captions(shards, 4, 4);
    // A model whose final norm is zero gives equal logits everywhere, so greedy decoding picks
    // token 0 at every step: whatever the vocabulary puts there is the whole answer.
    Map<String, String> answers = Map.of("90", "kept", "42", "dropped", "yes", "unparsable");
    for (var entry : answers.entrySet()) {
      Path model = scoringModel(dir.resolve("mlm-" + entry.getKey()), entry.getKey());
      for (String batch : List.of("1", "3")) {
        Path out = dir.resolve("out-" + entry.getKey() + "-" + batch);

        var r = DataJobsTestSupport.run("filter", "--input", shards.toString(), "--output", out.toString(),
            "--filter", "mlm:model=" + model + ",min=85,batch=" + batch, "--max-bad-fraction", "1");

        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        switch (entry.getValue()) {
          case "kept" -> assertThat(report.get("kept").asLong()).isEqualTo(4);
          case "dropped" -> assertThat(report.get("dropped").asLong()).isEqualTo(4);
          default -> assertThat(report.get("bad").get(MlmScoreFilter.UNPARSABLE).asLong()).isEqualTo(4);
        }
      }
    }
  }

  @Test
  void eachMlmMetricIsItsOwnQuestionAndAnUnknownOneIsNamed() throws IOException {
    assertThat(new java.util.HashSet<>(MlmScorer.PROMPTS.values())).as("four distinct questions").hasSize(4);
    MlmScorer.PROMPTS.forEach((metric, prompt) -> assertThat(prompt.toLowerCase(java.util.Locale.ROOT).replace('-', ' '))
        .as(metric).contains(metric.replace('_', ' ')));
    Path shards = dir.resolve("raw");
    TestShards.captions(shards, 2, 2);
    Path model = scoringModel(dir.resolve("mlm"), "90");

    var itm = DataJobsTestSupport.run("filter", "--input", shards.toString(), "--output", dir.resolve("itm").toString(),
        "--filter", "mlm:model=" + model + ",min=85,metric=image_text_matching", "--max-bad-fraction", "1");
    var bogus = DataJobsTestSupport.run("filter", "--input", shards.toString(), "--output", dir.resolve("x").toString(),
        "--filter", "mlm:model=" + model + ",min=85,metric=beauty");

    assertThat(itm.exit()).as(itm.err()).isZero();
    assertThat(bogus.exit()).isEqualTo(dev.kiln.api.runconfig.ExitCodes.CONFIG);
    assertThat(bogus.err().strip()).isEqualTo("--filter mlm:model=" + model + ",min=85,metric=beauty: unknown metric"
        + " \"beauty\" (one of caption_text_quality, image_text_matching, object_detail_fulfillment,"
        + " semantic_understanding)");
  }

  /** A tiny model folder whose answer is always {@code firstWord} repeated, with its tokenizer. */
  static Path scoringModel(Path folder, String firstWord) throws IOException {
    var dims = ModelPreset.TINY.dimensions();
    try (NDManager manager = NDManager.newBaseManager(); VisionLanguageModel model = new VisionLanguageModel(dims, manager, 3)) {
      model.parameters().load("model.norm.weight", new float[dims.languageModel().hiddenSize()],
          new Shape(dims.languageModel().hiddenSize()));
      Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
      model.parameters().all().forEach((name, array) ->
          tensors.put(name, new SafeTensors.Tensor(array.getShape().getShape(), array.toFloatArray())));
      ModelFolder.write(folder, tensors, dims, 16, Map.of());
    }
    List<String> vocab = new ArrayList<>(List.of(firstWord, "<unk>", "<pad>", "<s>", "<image>", "<|im_end|>", "<|im_start|>"));
    TestShards.WORDS.forEach(w -> {
      if (!vocab.contains(w)) {
        vocab.add(w);
      }
    });
    Map<String, Integer> ids = new LinkedHashMap<>();
    vocab.forEach(w -> ids.put(w, ids.size()));
    List<Map<String, Object>> added = new ArrayList<>();
    for (String special : List.of("<unk>", "<pad>", "<s>", "<image>", "<|im_end|>", "<|im_start|>")) {
      added.add(Map.of("id", ids.get(special), "content", special, "single_word", false, "lstrip", false, "rstrip", false,
          "normalized", false, "special", true));
    }
    Map<String, Object> tokenizer = new LinkedHashMap<>();
    tokenizer.put("version", "1.0");
    tokenizer.put("added_tokens", added);
    tokenizer.put("normalizer", Map.of("type", "Lowercase"));
    tokenizer.put("pre_tokenizer", Map.of("type", "Whitespace"));
    tokenizer.put("decoder", Map.of("type", "WordPiece", "prefix", "##", "cleanup", true));
    tokenizer.put("model", Map.of("type", "WordLevel", "vocab", ids, "unk_token", "<unk>"));
    Files.writeString(folder.resolve(ModelFolder.TOKENIZER), new ObjectMapper().writeValueAsString(tokenizer));
    return folder;
  }
}
