package dev.kiln.model.weights;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import dev.kiln.model.Parameters;
import dev.kiln.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Checkpoint folders as the hub publishes them (Qwen2.5's, SigLIP's), checked against the model
 * before anything trains, from their headers alone: {@code config.json}'s dimensions; every tensor
 * the model needs present, with its shape and a dtype Kiln converts; nothing else but what is
 * known to be unused (SigLIP's text tower, {@code logit_scale}/{@code logit_bias}, its
 * attention-pooling head and post-norm, the last vision block; a tied model's {@code lm_head}).
 * Sharded folders are read through {@code model.safetensors.index.json}.
 */
public final class WeightsCheck {

  /** One thing wrong, and the folder it is in. */
  public record Problem(Path folder, String message) {
    @Override
    public String toString() {
      return folder + ": " + message;
    }
  }

  /** What the folders hold, and what is wrong with them. */
  public record Report(List<String> summary, List<Problem> problems) {

    public boolean fits() {
      return problems.isEmpty();
    }

    /** The summary, then each problem, one per line. */
    public String describe() {
      List<String> lines = new ArrayList<>(summary);
      problems.forEach(p -> lines.add("  problem: " + p));
      lines.add(fits() ? "the weights fit the model" : problems.size() + " problem(s): the weights do not fit the model");
      return String.join("\n", lines);
    }
  }

  static final String INDEX = "model.safetensors.index.json";

  private WeightsCheck() {}

  /** Checks a language model's folder and a vision encoder's folder (either may be null) against the model. */
  public static Report check(ModelDimensions dims, Path languageModel, Path visionEncoder) throws IOException {
    Map<String, Shape> layout = VisionLanguageModel.layout(dims);
    List<String> summary = new ArrayList<>();
    List<Problem> problems = new ArrayList<>();
    if (languageModel != null) {
      Folder folder = Folder.read(languageModel, problems);
      languageModelConfig(languageModel, dims.languageModel(), problems);
      tensors(folder, layout, name -> name.startsWith("model.") || name.equals("lm_head.weight"),
          unusedByLanguageModel(dims.languageModel()), problems);
      summary.add("language model " + languageModel + ": " + folder.describe());
    }
    if (visionEncoder != null) {
      Folder folder = Folder.read(visionEncoder, problems);
      visionConfig(visionEncoder, dims.vision(), problems);
      tensors(folder, layout, name -> name.startsWith("vision_model."), unusedByVision(dims.vision()), problems);
      summary.add("vision encoder " + visionEncoder + ": " + folder.describe());
    }
    return new Report(summary, problems);
  }

  /**
   * A scoring model's folder (MLM-Filter's, in the LLaVA layout, or a Kiln export) checked
   * against the model its own config.json describes: every tensor of the vision tower, projector
   * and decoder present (by {@link LlavaLayout#kilnName}), with its shape and a readable dtype.
   */
  public static Report checkScoringModel(Path path) throws IOException {
    List<String> summary = new ArrayList<>();
    List<Problem> problems = new ArrayList<>();
    JsonNode config = config(path, problems);
    if (config == null) {
      return new Report(summary, problems);
    }
    ModelDimensions dims;
    String described;
    if (LlavaLayout.describes(config)) {
      LlavaLayout.Described llava = LlavaLayout.describe(config);
      llava.problems().forEach(p -> problems.add(new Problem(path, p)));
      dims = llava.dimensions();
      described = "LLaVA layout, projector " + config.path("mm_projector_type").asText() + ", " + llava.visualTokens()
          + " visual tokens";
    } else if (config.has("kiln_dimensions")) {
      dims = ModelFolder.JSON.treeToValue(config.get("kiln_dimensions"), ModelDimensions.class);
      described = "a Kiln export";
    } else {
      problems.add(new Problem(path, ModelFolder.CONFIG + " has neither mm_projector_type (LLaVA's layout, as MLM-Filter"
          + " publishes its models) nor kiln_dimensions (a Kiln export)"));
      return new Report(summary, problems);
    }
    Folder folder = Folder.read(path, problems).renamed(LlavaLayout::kilnName, problems);
    if (dims != null) {
      tensors(folder, VisionLanguageModel.layout(dims), name -> true,
          unusedByLanguageModel(dims.languageModel()).or(unusedByVision(dims.vision())), problems);
    }
    summary.add("scoring model " + path + ": " + described + "; " + folder.describe());
    return new Report(summary, problems);
  }

  /** Tensors a Qwen2 checkpoint may hold that the model does not use. */
  static Predicate<String> unusedByLanguageModel(LanguageModelSpec spec) {
    return name -> (spec.tieEmbeddings() && name.equals("lm_head.weight")) || name.endsWith(".rotary_emb.inv_freq");
  }

  /**
   * Tensors a SigLIP checkpoint may hold that the model does not use: the text tower and the
   * contrastive scale and bias of the dual encoder, the attention-pooling head and the post-norm
   * (the recipe takes the penultimate block's features), and the last block itself.
   */
  static Predicate<String> unusedByVision(VisionEncoderSpec spec) {
    String lastBlock = "vision_model.encoder.layers." + (spec.depth() - 1) + ".";
    return name -> name.startsWith("text_model.") || name.equals("logit_scale") || name.equals("logit_bias")
        || name.startsWith("vision_model.head.") || name.startsWith("vision_model.post_layernorm.")
        || name.startsWith(lastBlock);
  }

  /**
   * Each tensor of this part of the model present with the model's shape (a Conv2d kernel may
   * come unflattened) and a readable dtype; each other tensor either the model's (another part,
   * loaded by name) or known to be unused.
   */
  private static void tensors(Folder folder, Map<String, Shape> layout, Predicate<String> part,
      Predicate<String> knownUnused, List<Problem> problems) {
    for (var expected : layout.entrySet()) {
      if (!part.test(expected.getKey())) {
        continue;
      }
      SafeTensors.Entry found = folder.tensors().get(expected.getKey());
      if (found == null) {
        problems.add(new Problem(folder.path(), "missing tensor " + expected.getKey() + " " + expected.getValue()));
        continue;
      }
      Shape shape = new Shape(found.shape());
      if (!shape.equals(expected.getValue()) && !Parameters.flattens(shape, expected.getValue())) {
        problems.add(new Problem(folder.path(), "tensor " + expected.getKey() + " has shape " + shape + ", the model needs "
            + expected.getValue()));
      }
    }
    for (var tensor : folder.tensors().entrySet()) {
      String name = tensor.getKey();
      if (!SafeTensors.READABLE_DTYPES.contains(tensor.getValue().dtype())) {
        problems.add(new Problem(folder.path(), "tensor " + name + " " + new Shape(tensor.getValue().shape())
            + " has dtype " + tensor.getValue().dtype() + "; Kiln converts " + new TreeSet<>(SafeTensors.READABLE_DTYPES)));
      }
      if (!layout.containsKey(name) && !knownUnused.test(name)) {
        problems.add(new Problem(folder.path(), "unexpected tensor " + name + " " + new Shape(tensor.getValue().shape())
            + ": not part of this model"));
      }
    }
  }

  /** Qwen2's config.json (or a Kiln export's {@code text_config}) against the model's language model. */
  private static void languageModelConfig(Path folder, LanguageModelSpec spec, List<Problem> problems) throws IOException {
    JsonNode config = config(folder, problems);
    if (config == null) {
      return;
    }
    JsonNode text = config.has("text_config") ? config.get("text_config") : config;
    String prefix = config.has("text_config") ? "text_config." : "";
    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("hidden_size", spec.hiddenSize());
    expected.put("num_hidden_layers", spec.layers());
    expected.put("num_attention_heads", spec.heads());
    expected.put("num_key_value_heads", spec.kvHeads());
    expected.put("intermediate_size", spec.intermediateSize());
    expected.put("vocab_size", spec.vocabSize());
    expected.put("rope_theta", spec.ropeTheta());
    expected.put("rms_norm_eps", spec.rmsNormEps());
    expected.put("tie_word_embeddings", spec.tieEmbeddings());
    // What Transformers assumes for a Qwen2 config that leaves them out.
    Map<String, Object> defaults = Map.of("num_key_value_heads", text.path("num_attention_heads").asInt(),
        "rope_theta", 10000.0, "rms_norm_eps", 1e-6, "tie_word_embeddings", false);
    compare(folder, text, prefix, expected, defaults, problems);
  }

  /** SigLIP's config.json (its {@code vision_config}, or a vision-only config) against the model's vision encoder. */
  private static void visionConfig(Path folder, VisionEncoderSpec spec, List<Problem> problems) throws IOException {
    JsonNode config = config(folder, problems);
    if (config == null) {
      return;
    }
    JsonNode vision = config.has("vision_config") ? config.get("vision_config") : config;
    String prefix = config.has("vision_config") ? "vision_config." : "";
    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("image_size", spec.imageSize());
    expected.put("patch_size", spec.patchSize());
    expected.put("hidden_size", spec.width());
    expected.put("intermediate_size", spec.mlpDim());
    expected.put("num_attention_heads", spec.heads());
    // The published depth, or the blocks before the last that a Kiln export keeps.
    int layers = vision.path("num_hidden_layers").asInt(-1);
    expected.put("num_hidden_layers", layers == spec.depth() - 1 ? layers : spec.depth());
    compare(folder, vision, prefix, expected, Map.of(), problems);
  }

  private static JsonNode config(Path folder, List<Problem> problems) throws IOException {
    Path file = folder.resolve(ModelFolder.CONFIG);
    if (!Files.isRegularFile(file)) {
      problems.add(new Problem(folder, "no " + ModelFolder.CONFIG + ": the model's dimensions cannot be checked"));
      return null;
    }
    return ModelFolder.JSON.readTree(file.toFile());
  }

  private static void compare(Path folder, JsonNode config, String prefix, Map<String, Object> expected,
      Map<String, Object> defaults, List<Problem> problems) {
    for (var field : expected.entrySet()) {
      JsonNode value = config.get(field.getKey());
      Object found = value == null || value.isNull() ? defaults.get(field.getKey()) : switch (field.getValue()) {
        case Boolean b -> value.asBoolean();
        case Double d -> value.asDouble();
        default -> value.asLong();
      };
      Object want = field.getValue() instanceof Integer i ? (Object) i.longValue() : field.getValue();
      if (found instanceof Integer i) {
        found = i.longValue();
      }
      boolean same = found instanceof Double f && want instanceof Double w ? Math.abs(f - w) <= 1e-9 * Math.abs(w)
          : want.equals(found);
      if (!same) {
        problems.add(new Problem(folder, ModelFolder.CONFIG + " " + prefix + field.getKey() + " is "
            + (found == null ? "missing" : found) + ", the model has " + want));
      }
    }
  }

  /** The shards {@code model.safetensors.index.json} names, or every {@code *.safetensors} of a folder without one. */
  static List<Path> files(Path folder) throws IOException {
    Map<String, String> index = index(folder);
    if (!index.isEmpty()) {
      return index.values().stream().distinct().sorted().map(folder::resolve).toList();
    }
    try (Stream<Path> list = Files.list(folder)) {
      return list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
    }
  }

  /** The index's tensor-to-file map; empty without an index. */
  private static Map<String, String> index(Path folder) throws IOException {
    Map<String, String> index = new TreeMap<>();
    if (Files.isRegularFile(folder.resolve(INDEX))) {
      ModelFolder.JSON.readTree(folder.resolve(INDEX).toFile()).path("weight_map").properties()
          .forEach(e -> index.put(e.getKey(), e.getValue().asText()));
    }
    return index;
  }

  /** A checkpoint folder's tensors by name, from every shard. */
  record Folder(Path path, Map<String, SafeTensors.Entry> tensors, int files) {

    static Folder read(Path path, List<Problem> problems) throws IOException {
      Map<String, SafeTensors.Entry> tensors = new TreeMap<>();
      if (!Files.isDirectory(path)) {
        problems.add(new Problem(path, "not a folder"));
        return new Folder(path, tensors, 0);
      }
      Map<String, String> index = index(path);
      List<Path> files = WeightsCheck.files(path);
      if (files.isEmpty()) {
        problems.add(new Problem(path, "no *.safetensors files"));
      }
      for (Path file : files) {
        if (!Files.isRegularFile(file)) {
          problems.add(new Problem(path, "shard " + file.getFileName() + " named by " + INDEX + " is missing"));
          continue;
        }
        for (var entry : SafeTensors.header(file).entrySet()) {
          if (tensors.put(entry.getKey(), entry.getValue()) != null) {
            problems.add(new Problem(path, "tensor " + entry.getKey() + " is in more than one file"));
          }
        }
      }
      index.forEach((name, file) -> {
        if (Files.isRegularFile(path.resolve(file)) && !tensors.containsKey(name)) {
          problems.add(new Problem(path, INDEX + " puts " + name + " in " + file + ", which does not hold it"));
        }
      });
      return new Folder(path, tensors, files.size());
    }

    /** The same tensors under the names {@code rename} gives them. */
    Folder renamed(java.util.function.UnaryOperator<String> rename, List<Problem> problems) {
      Map<String, SafeTensors.Entry> renamed = new TreeMap<>();
      tensors.forEach((name, entry) -> {
        if (renamed.put(rename.apply(name), entry) != null) {
          problems.add(new Problem(path, "two tensors map to " + rename.apply(name)));
        }
      });
      return new Folder(path, renamed, files);
    }

    String describe() {
      long scalars = tensors.values().stream().mapToLong(e -> Arrays.stream(e.shape()).reduce(1, (a, b) -> a * b)).sum();
      Map<String, Long> dtypes = new TreeMap<>();
      tensors.values().forEach(e -> dtypes.merge(e.dtype(), 1L, Long::sum));
      return tensors.size() + " tensors in " + files + " file(s), " + String.format("%.2fB", scalars / 1e9)
          + " parameters, dtypes " + dtypes;
    }
  }
}
