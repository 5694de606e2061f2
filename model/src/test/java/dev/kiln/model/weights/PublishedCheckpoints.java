package dev.kiln.model.weights;

import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Checkpoint folders in the hub's published layouts, written by {@code scripts/published-checkpoints.py}
 * (names and shapes from Transformers' state dicts, not from Kiln's code) for a model's dimensions.
 */
public final class PublishedCheckpoints {

  private PublishedCheckpoints() {}

  /** Qwen2.5's config.json fields for the model's language model. */
  public static String qwen2Config(LanguageModelSpec lm) {
    return "{\"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d,"
        .formatted(lm.hiddenSize(), lm.layers(), lm.heads(), lm.kvHeads())
        + " \"intermediate_size\": %d, \"vocab_size\": %d, \"rope_theta\": %s, \"rms_norm_eps\": %s, \"tie_word_embeddings\": %s}"
        .formatted(lm.intermediateSize(), lm.vocabSize(), lm.ropeTheta(), lm.rmsNormEps(), lm.tieEmbeddings());
  }

  /** SigLIP's vision_config fields for the model's vision encoder (published depth: every block). */
  public static String siglipVisionConfig(VisionEncoderSpec vision) {
    return "{\"hidden_size\": %d, \"image_size\": %d, \"patch_size\": %d, \"intermediate_size\": %d,".formatted(
        vision.width(), vision.imageSize(), vision.patchSize(), vision.mlpDim())
        + " \"num_attention_heads\": %d, \"num_hidden_layers\": %d}".formatted(vision.heads(), vision.depth());
  }

  /** A small SigLIP text tower, present in the file as in the published dual encoder, and unused. */
  public static final String SIGLIP_TEXT = "{\"hidden_size\": 16, \"intermediate_size\": 32, \"num_hidden_layers\": 1,"
      + " \"vocab_size\": 50, \"max_position_embeddings\": 8}";

  /** Writes a Qwen2 folder ({@code shards} > 1: sharded with an index). */
  public static Path qwen2(Path out, ModelDimensions dims, int shards, String fill) throws IOException {
    return run(List.of("qwen2", out.toString(), "--config", qwen2Config(dims.languageModel()),
        "--shards", Integer.toString(shards), "--fill", fill), out);
  }

  /** Writes a SigLIP dual-encoder folder. */
  public static Path siglip(Path out, ModelDimensions dims, String fill) throws IOException {
    return run(List.of("siglip", out.toString(), "--vision", siglipVisionConfig(dims.vision()), "--text", SIGLIP_TEXT,
        "--fill", fill), out);
  }

  /**
   * Writes a scoring model as MLM-Filter publishes it (LLaVA's layout): {@code mm} holds config.json's
   * {@code mm_*} fields; with {@code visionConfig}, the tower's dimensions go into config.json too.
   */
  public static Path llava(Path out, ModelDimensions dims, String mm, boolean visionConfig, String fill) throws IOException {
    List<String> args = new ArrayList<>(List.of("llava", out.toString(), "--config", qwen2Config(dims.languageModel()),
        "--vision", siglipVisionConfig(dims.vision()), "--mm", mm, "--fill", fill));
    if (visionConfig) {
      args.add("--vision-config-in-config");
    }
    return run(args, out);
  }

  /** Runs the script with {@code args}; returns {@code out}. */
  public static Path run(List<String> args, Path out) throws IOException {
    List<String> command = new ArrayList<>(List.of("python3", script().toString()));
    command.addAll(args);
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!process.waitFor(10, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new IOException("published-checkpoints.py did not finish in 10 minutes");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.exitValue() != 0) {
      throw new IOException("published-checkpoints.py failed: " + output);
    }
    return out;
  }

  private static Path script() {
    String root = System.getProperty("kiln.root");
    Path base = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    return base.resolve("scripts/published-checkpoints.py");
  }
}
