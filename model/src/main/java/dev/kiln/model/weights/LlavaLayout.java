package dev.kiln.model.weights;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The LLaVA layout MLM-Filter's scoring models are published in: a Qwen2 causal LM whose
 * {@code model} also holds the SigLIP vision tower ({@code model.vision_tower.vision_tower.vision_model.*})
 * and the projector ({@code model.mm_projector.0} and {@code .2}, an MLP with GELU between; under
 * {@code mlp_projector.} for the average-pooling projector), described by a Qwen2 config.json
 * with LLaVA's {@code mm_*} fields. Maps its names to Kiln's and reads the model it describes.
 */
public final class LlavaLayout {

  static final String VISION_TOWER = "model.vision_tower.vision_tower.";
  static final String PROJECTOR = "model.mm_projector.";
  /** Vision towers Kiln knows the dimensions of, by the name LLaVA configs give them. */
  static final Map<String, VisionEncoderSpec> KNOWN_TOWERS = Map.of(
      "google/siglip-so400m-patch14-384", ModelPreset.OPEN_QWEN2VL_2B.dimensions().vision());

  /** The model a LLaVA folder describes and the visual tokens it was trained with, or why Kiln cannot run it. */
  public record Described(ModelDimensions dimensions, int visualTokens, List<String> problems) {}

  private LlavaLayout() {}

  /** Whether a config.json is LLaVA's: it names a projector type. */
  public static boolean describes(JsonNode config) {
    return config.has("mm_projector_type");
  }

  /** Kiln's name for a tensor of a LLaVA checkpoint; names Kiln shares with it (the Qwen2 decoder) stay. */
  public static String kilnName(String name) {
    if (name.startsWith(VISION_TOWER)) {
      return name.substring(VISION_TOWER.length());
    }
    if (name.startsWith(PROJECTOR)) {
      String rest = name.substring(PROJECTOR.length()).replaceFirst("^mlp_projector\\.", "");
      if (rest.startsWith("0.")) {
        return "projector.fc1." + rest.substring(2);
      }
      if (rest.startsWith("2.")) {
        return "projector.fc2." + rest.substring(2);
      }
    }
    return name;
  }

  /**
   * The model: the decoder from the Qwen2 fields; the vision tower from a {@code vision_config}
   * if the config has one, else from the tower {@code mm_vision_tower} names; the projector as
   * wide as the decoder. Kiln computes the penultimate block's features
   * ({@code mm_vision_select_layer: -2}) and the MLP projectors ({@code mlp2x_gelu}, all
   * patches as visual tokens; {@code aapool_mlp}, pooled to {@code mm_num_image_tokens}).
   */
  public static Described describe(JsonNode config) {
    List<String> problems = new ArrayList<>();
    int hidden = config.path("hidden_size").asInt();
    int heads = config.path("num_attention_heads").asInt();
    LanguageModelSpec languageModel = new LanguageModelSpec(hidden, config.path("num_hidden_layers").asInt(), heads,
        config.path("num_key_value_heads").asInt(heads), config.path("intermediate_size").asInt(),
        config.path("vocab_size").asInt(), config.path("rope_theta").asDouble(10000.0),
        config.path("rms_norm_eps").asDouble(1e-6), config.path("tie_word_embeddings").asBoolean(false));
    VisionEncoderSpec vision = null;
    JsonNode visionConfig = config.path("vision_config");
    String tower = config.path("mm_vision_tower").asText("");
    if (visionConfig.isObject()) {
      vision = new VisionEncoderSpec(visionConfig.path("image_size").asInt(), visionConfig.path("patch_size").asInt(),
          visionConfig.path("hidden_size").asInt(), visionConfig.path("num_hidden_layers").asInt(),
          visionConfig.path("num_attention_heads").asInt(), visionConfig.path("intermediate_size").asInt());
    } else if (KNOWN_TOWERS.containsKey(tower)) {
      vision = KNOWN_TOWERS.get(tower);
    } else {
      problems.add("config.json mm_vision_tower " + (tower.isEmpty() ? "is missing" : tower)
          + ": Kiln knows the dimensions of " + KNOWN_TOWERS.keySet() + ", or reads them from a vision_config");
    }
    if (vision != null && config.has("mm_hidden_size") && config.path("mm_hidden_size").asInt() != vision.width()) {
      problems.add("config.json mm_hidden_size is " + config.path("mm_hidden_size").asInt() + ", the vision tower's width "
          + vision.width());
    }
    int selectLayer = config.path("mm_vision_select_layer").asInt(-2);
    if (selectLayer != -2) {
      problems.add("config.json mm_vision_select_layer is " + selectLayer
          + ": Kiln computes the penultimate block's features (-2)");
    }
    String projector = config.path("mm_projector_type").asText();
    int visualTokens = vision == null ? 0 : vision.gridSize() * vision.gridSize();
    switch (projector) {
      case "mlp2x_gelu" -> { }
      case "aapool_mlp" -> visualTokens = config.path("mm_num_image_tokens").asInt(144);
      default -> problems.add("config.json mm_projector_type is " + projector
          + ": Kiln's projector is mlp2x_gelu or aapool_mlp (an MLP of two layers with GELU, pooled or not)");
    }
    ModelDimensions dims = vision == null ? null : new ModelDimensions(vision, hidden, languageModel);
    return new Described(dims, visualTokens, problems);
  }
}
