package dev.kiln.model.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.model.Constants;
import dev.kiln.model.EncoderBlock;
import dev.kiln.model.Ops;
import dev.kiln.model.Parameters;
import dev.kiln.model.weights.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A CLIP dual encoder in HF {@code CLIPModel} layout, for scoring image-text pairs: the image
 * tower (patch embedding, CLS token, positions, pre-LayerNorm, blocks, post-LayerNorm on the CLS
 * token, projection) and the causal text tower (token and position embeddings, blocks, final
 * LayerNorm, the end-of-text token's state, projection). Embeddings come out L2-normalized, so
 * their dot product is the cosine similarity DataComp calls the CLIP score.
 */
public final class ClipModel implements AutoCloseable {

  /** One tower's shape, from the {@code text_config} or {@code vision_config} of config.json. */
  public record Tower(int hiddenSize, int layers, int heads, double layerNormEps, String activation) {

    static Tower of(JsonNode node) {
      return new Tower(node.path("hidden_size").asInt(512), node.path("num_hidden_layers").asInt(12),
          node.path("num_attention_heads").asInt(8), node.path("layer_norm_eps").asDouble(1e-5),
          node.path("hidden_act").asText("quick_gelu"));
    }
  }

  static final String VISION = "vision_model.";
  static final String TEXT = "text_model.";

  private final Tower vision;
  private final Tower text;
  private final int imageSize;
  private final int patchSize;
  private final int eosTokenId;
  private final int contextLength;
  private final Parameters p;

  private ClipModel(JsonNode config, Map<String, SafeTensors.Tensor> tensors, NDManager manager) {
    JsonNode visionConfig = config.path("vision_config");
    JsonNode textConfig = config.path("text_config");
    this.vision = Tower.of(visionConfig);
    this.text = Tower.of(textConfig);
    this.imageSize = visionConfig.path("image_size").asInt(224);
    this.patchSize = visionConfig.path("patch_size").asInt(32);
    this.eosTokenId = textConfig.path("eos_token_id").asInt(-1);
    this.contextLength = textConfig.path("max_position_embeddings").asInt(77);
    this.p = new Parameters(manager, 0);
    tensors.forEach((name, t) -> {
      long[] shape = t.shape();
      if (name.equals(VISION + "embeddings.patch_embedding.weight")) {
        shape = new long[] {shape[0], t.data().length / shape[0]};  // Conv2d (w, 3, p, p) as a matrix
      }
      p.frozen(name, t.data(), new Shape(shape));
    });
  }

  /** Reads {@code config.json} and {@code model.safetensors} (bf16 and f16 converted in Java) from {@code dir}. */
  public static ClipModel load(Path dir, NDManager manager) throws IOException {
    JsonNode config = new ObjectMapper().readTree(Files.readString(dir.resolve("config.json")));
    return new ClipModel(config, SafeTensors.read(dir.resolve("model.safetensors")), manager);
  }

  public int imageSize() {
    return imageSize;
  }

  public int eosTokenId() {
    return eosTokenId;
  }

  public int contextLength() {
    return contextLength;
  }

  /** Normalized pixels (N, 3, S, S) to unit image embeddings (N, E). */
  public NDArray embedImages(NDArray pixels) {
    long n = pixels.getShape().get(0);
    int g = imageSize / patchSize;
    NDArray patches = pixels
        .reshape(n, 3, g, patchSize, g, patchSize)                      // (N, 3, G, p, G, p)
        .transpose(0, 2, 4, 1, 3, 5)                                    // (N, G, G, 3, p, p)
        .reshape(n, (long) g * g, 3L * patchSize * patchSize);          // (N, G*G, 3*p*p)
    NDArray x = Ops.linear(patches, p.get(VISION + "embeddings.patch_embedding.weight"), null); // (N, G*G, w)
    NDArray cls = x.zerosLike().get(":, :1, :")                         // (N, 1, w)
        .add(p.get(VISION + "embeddings.class_embedding"));
    x = cls.concat(x, 1)                                                // (N, 1+G*G, w)
        .add(p.get(VISION + "embeddings.position_embedding.weight"));
    x = Ops.layerNorm(x, p.get(VISION + "pre_layrnorm.weight"), p.get(VISION + "pre_layrnorm.bias"), vision.layerNormEps());
    for (int i = 0; i < vision.layers(); i++) {
      x = EncoderBlock.forward(x, p, VISION + "encoder.layers." + i + ".", vision.heads(), vision.layerNormEps(),
          activation(vision.activation()), null);
    }
    NDArray pooled = Ops.layerNorm(x.get(":, 0, :"), p.get(VISION + "post_layernorm.weight"),
        p.get(VISION + "post_layernorm.bias"), vision.layerNormEps());  // (N, w)
    return unit(Ops.linear(pooled, p.get("visual_projection.weight"), null)); // (N, E)
  }

  /**
   * Token ids (N, L), each row ending at its end-of-text token at {@code eosPositions[n]} (rows
   * padded after it) to unit text embeddings (N, E).
   */
  public NDArray embedTexts(NDArray ids, int[] eosPositions) {
    long n = ids.getShape().get(0);
    long length = ids.getShape().get(1);
    NDManager manager = ids.getManager();
    NDArray positions = Parameters.owned(manager.arange((int) length));   // (L)
    NDArray x = Embedding.embedding(ids, p.get(TEXT + "embeddings.token_embedding.weight"),
        ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow()       // (N, L, w)
        .add(Embedding.embedding(positions, p.get(TEXT + "embeddings.position_embedding.weight"),
            ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow()); // (L, w) broadcast
    float[] mask = new float[(int) (length * length)];
    for (int i = 0; i < length; i++) {
      for (int j = i + 1; j < length; j++) {
        mask[(int) (i * length + j)] = -1e9f;                             // a token never sees a later one
      }
    }
    NDArray causal = Parameters.owned(manager.create(mask, new Shape(1, 1, length, length))); // (1, 1, L, L)
    for (int i = 0; i < text.layers(); i++) {
      x = EncoderBlock.forward(x, p, TEXT + "encoder.layers." + i + ".", text.heads(), text.layerNormEps(),
          activation(text.activation()), causal);
    }
    x = Ops.layerNorm(x, p.get(TEXT + "final_layer_norm.weight"), p.get(TEXT + "final_layer_norm.bias"),
        text.layerNormEps());                                              // (N, L, w)
    long[] rows = new long[(int) n];
    for (int r = 0; r < n; r++) {
      rows[r] = r * length + eosPositions[r];
    }
    NDArray at = Parameters.owned(manager.create(rows));
    NDArray pooled = Embedding.embedding(at, x.reshape(n * length, text.hiddenSize()),
        ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow();      // (N, w)
    return unit(Ops.linear(pooled, p.get("text_projection.weight"), null)); // (N, E)
  }

  static UnaryOperator<NDArray> activation(String name) {
    return switch (name) {
      case "quick_gelu" -> x -> x.mul(Activation.sigmoid(x.mul(Constants.of(1.702))));
      case "gelu" -> Ops::gelu;
      case "gelu_pytorch_tanh", "gelu_new" -> Ops::geluTanh;
      default -> throw new IllegalArgumentException("config.json hidden_act: unsupported \"" + name
          + "\" (quick_gelu, gelu, gelu_pytorch_tanh)");
    };
  }

  private static NDArray unit(NDArray x) {
    return x.div(x.square().sum(new int[] {-1}, true).sqrt());            // (N, E)
  }

  @Override
  public void close() {
    p.close();
  }
}
