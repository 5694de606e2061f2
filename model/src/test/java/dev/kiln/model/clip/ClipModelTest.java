package dev.kiln.model.clip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.model.Reference;
import dev.kiln.model.weights.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLIP dual encoder against a tiny CLIP computed in PyTorch, loaded from HF-layout files. */
public class ClipModelTest {

  @TempDir
  Path dir;

  /**
   * Writes the reference's tiny CLIP as config.json, model.safetensors and a word-level
   * tokenizer.json ({@code <unk>} 0, start 1, end 2 added around every text, then {@code words});
   * returns the reference.
   */
  public static JsonNode writeTinyClip(Path dir, List<String> words) throws IOException {
    ObjectMapper json = new ObjectMapper();
    Map<String, Integer> vocab = new LinkedHashMap<>(Map.of("<unk>", 0, "<|startoftext|>", 1, "<|endoftext|>", 2));
    words.forEach(w -> vocab.putIfAbsent(w, vocab.size()));
    Map<String, Object> tokenizer = new LinkedHashMap<>();
    tokenizer.put("version", "1.0");
    tokenizer.put("added_tokens", List.of(special(0, "<unk>"), special(1, "<|startoftext|>"), special(2, "<|endoftext|>")));
    tokenizer.put("normalizer", Map.of("type", "Lowercase"));
    tokenizer.put("pre_tokenizer", Map.of("type", "Whitespace"));
    tokenizer.put("post_processor", Map.of("type", "TemplateProcessing",
        "single", List.of(Map.of("SpecialToken", Map.of("id", "<|startoftext|>", "type_id", 0)),
            Map.of("Sequence", Map.of("id", "A", "type_id", 0)),
            Map.of("SpecialToken", Map.of("id", "<|endoftext|>", "type_id", 0))),
        "pair", List.of(Map.of("Sequence", Map.of("id", "A", "type_id", 0)), Map.of("Sequence", Map.of("id", "B", "type_id", 1))),
        "special_tokens", Map.of(
            "<|startoftext|>", Map.of("id", "<|startoftext|>", "ids", List.of(1), "tokens", List.of("<|startoftext|>")),
            "<|endoftext|>", Map.of("id", "<|endoftext|>", "ids", List.of(2), "tokens", List.of("<|endoftext|>")))));
    tokenizer.put("model", Map.of("type", "WordLevel", "vocab", vocab, "unk_token", "<unk>"));
    Files.writeString(dir.resolve("tokenizer.json"), json.writeValueAsString(tokenizer));
    return writeTinyClip(dir);
  }

  private static Map<String, Object> special(int id, String content) {
    return Map.of("id", id, "content", content, "single_word", false, "lstrip", false, "rstrip", false,
        "normalized", false, "special", true);
  }

  /** Writes the reference's tiny CLIP as config.json and model.safetensors; returns the reference. */
  public static JsonNode writeTinyClip(Path dir) throws IOException {
    JsonNode clip = Reference.load().get("clip");
    Files.writeString(dir.resolve("config.json"), new ObjectMapper().writeValueAsString(clip.get("config")));
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
    clip.get("weights").fields().forEachRemaining(e -> {
      long[] shape = new long[e.getValue().get("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = e.getValue().get("shape").get(i).asLong();
      }
      tensors.put(e.getKey(), new SafeTensors.Tensor(shape, Reference.floats(e.getValue().get("data"))));
    });
    SafeTensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    return clip;
  }

  @Test
  void imageAndTextEmbeddingsMatchPyTorch() throws IOException {
    JsonNode clip = writeTinyClip(dir);
    try (NDManager manager = NDManager.newBaseManager(); ClipModel model = ClipModel.load(dir, manager)) {
      NDArray images = model.embedImages(Reference.array(manager, clip.get("pixels"), 2, 3, 8, 8));
      int[][] ids = new ObjectMapper().convertValue(clip.get("ids"), int[][].class);
      long[] flat = new long[16];
      for (int r = 0; r < 2; r++) {
        for (int c = 0; c < 8; c++) {
          flat[r * 8 + c] = ids[r][c];
        }
      }
      NDArray texts = model.embedTexts(manager.create(flat, new Shape(2, 8)),
          new int[] {clip.get("eos").get(0).asInt(), clip.get("eos").get(1).asInt()});

      Reference.assertClose(images, clip.get("image_embeds"), 1e-5f);
      Reference.assertClose(texts, clip.get("text_embeds"), 1e-5f);
      float[] scores = images.mul(texts).sum(new int[] {1}).toFloatArray();
      assertThat((double) scores[0]).isCloseTo(clip.get("scores").get(0).asDouble(), within(1e-5));
      assertThat(model.eosTokenId()).isEqualTo(2);
      assertThat(model.contextLength()).isEqualTo(8);
    }
  }

  @Test
  void captionsAreTokenizedWithStartAndEndAndCutToTheContextKeepingTheEnd() throws IOException {
    writeTinyClip(dir, List.of("a", "red", "circle", "on", "the", "left"));
    try (ClipScorer scorer = ClipScorer.load(dir)) {
      assertThat(scorer.tokens("A red circle")).containsExactly(1, 3, 4, 5, 2);
      assertThat(scorer.tokens("a red circle on the left a red circle")).containsExactly(1, 3, 4, 5, 6, 7, 8, 2);
    }
  }
}
