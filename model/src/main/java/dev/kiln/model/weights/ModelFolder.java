package dev.kiln.model.weights;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A trained vision-language model as a folder: {@code model.safetensors} with HF tensor names
 * (Qwen2 {@code model.*}, SigLIP {@code vision_model.*}, the projector), {@code config.json}
 * (HF-style configs plus Kiln's exact dimensions under {@code kiln_dimensions}) and, for
 * scoring, the {@code tokenizer.json} it was trained with. {@code kiln-trainer export} writes
 * one; the MLM-Filter scorer reads one, or a model as MLM-Filter publishes it ({@link LlavaLayout}).
 */
public final class ModelFolder {

  public static final String WEIGHTS = "model.safetensors";
  public static final String CONFIG = "config.json";
  public static final String TOKENIZER = "tokenizer.json";
  static final String PATCH = "vision_model.embeddings.patch_embedding.weight";
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private ModelFolder() {}

  /** Writes weights (by Kiln's parameter names) and config; {@code provenance} goes into config.json as it is. */
  public static void write(Path dir, Map<String, SafeTensors.Tensor> parameters, ModelDimensions dims, int visualTokens,
      Map<String, Object> provenance) throws IOException {
    Files.createDirectories(dir);
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(parameters);
    var vision = dims.vision();
    if (tensors.containsKey(PATCH)) {
      // Back to SigLIP's Conv2d layout (w, 3, p, p); the numbers are already in that order.
      tensors.put(PATCH, new SafeTensors.Tensor(new long[] {vision.width(), 3, vision.patchSize(), vision.patchSize()},
          tensors.get(PATCH).data()));
    }
    SafeTensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
    var lm = dims.languageModel();
    Map<String, Object> hf = new LinkedHashMap<>();
    hf.put("architectures", new String[] {"KilnVisionLanguageModel"});
    hf.put("text_config", Map.of("model_type", "qwen2", "hidden_size", lm.hiddenSize(), "num_hidden_layers", lm.layers(),
        "num_attention_heads", lm.heads(), "num_key_value_heads", lm.kvHeads(), "intermediate_size", lm.intermediateSize(),
        "vocab_size", lm.vocabSize(), "rope_theta", lm.ropeTheta(), "rms_norm_eps", lm.rmsNormEps(),
        "tie_word_embeddings", lm.tieEmbeddings()));
    hf.put("vision_config", Map.of("model_type", "siglip_vision_model", "image_size", vision.imageSize(),
        "patch_size", vision.patchSize(), "hidden_size", vision.width(), "num_hidden_layers", vision.depth() - 1,
        "num_attention_heads", vision.heads(), "intermediate_size", vision.mlpDim()));
    hf.put("projector", Map.of("type", "avgpool", "hidden_size", dims.projectorHidden(), "visual_tokens", visualTokens));
    hf.put("kiln_dimensions", dims);
    hf.putAll(provenance);
    Files.writeString(dir.resolve(CONFIG), JSON.writeValueAsString(hf));
  }

  /**
   * A model published in the LLaVA layout (MLM-Filter's scoring models), checked first
   * ({@link WeightsCheck#checkScoringModel}) and refused naming every problem.
   */
  private static Loaded readLlava(Path dir, JsonNode config, NDManager manager) throws IOException {
    WeightsCheck.Report report = WeightsCheck.checkScoringModel(dir);
    if (!report.fits()) {
      throw new IOException(dir + ": cannot score with this model:\n" + report.describe());
    }
    LlavaLayout.Described described = LlavaLayout.describe(config);
    VisionLanguageModel model = new VisionLanguageModel(described.dimensions(), manager, 0);
    InitialWeights.load(model.parameters(), LlavaLayout::kilnName, dir);
    model.parameters().setTrainable(name -> true, false);
    return new Loaded(model, described.visualTokens());
  }

  /** A model read back from a folder. */
  public record Loaded(VisionLanguageModel model, int visualTokens) {}

  /** Builds the model the folder describes and loads its weights; fails naming the folder and what is wrong. */
  public static Loaded read(Path dir, NDManager manager) throws IOException {
    if (!Files.isRegularFile(dir.resolve(CONFIG)) || !Files.isRegularFile(dir.resolve(WEIGHTS))) {
      throw new IOException(dir + ": not a Kiln model folder (needs " + CONFIG + " and " + WEIGHTS
          + ", as kiln-trainer export writes them)");
    }
    JsonNode config = JSON.readTree(dir.resolve(CONFIG).toFile());
    if (LlavaLayout.describes(config)) {
      return readLlava(dir, config, manager);
    }
    if (!config.has("kiln_dimensions")) {
      throw new IOException(dir.resolve(CONFIG) + ": no kiln_dimensions (exported by an older Kiln?)");
    }
    ModelDimensions dims = JSON.treeToValue(config.get("kiln_dimensions"), ModelDimensions.class);
    VisionLanguageModel model = new VisionLanguageModel(dims, manager, 0);
    SafeTensors.each(dir.resolve(WEIGHTS), (name, t) -> model.parameters().load(name, t.data(), new Shape(t.shape())));
    model.parameters().setTrainable(name -> true, false);
    return new Loaded(model, config.path("projector").path("visual_tokens").asInt(dims.vision().gridSize()
        * dims.vision().gridSize()));
  }
}
