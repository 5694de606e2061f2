package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;

/**
 * SigLIP-style ViT: patch embedding (a linear map of flattened patches, the same numbers as
 * SigLIP's Conv2d), learned position embeddings, pre-norm blocks (LayerNorm, attention with
 * biases, GELU-tanh MLP). Features come from the penultimate block; no CLS token, no head.
 */
final class VisionEncoder {

  static final String PREFIX = "vision_model.";
  static final double EPS = 1e-6;

  private final VisionEncoderSpec spec;
  private final Parameters p;

  VisionEncoder(VisionEncoderSpec spec, Parameters p) {
    this.spec = spec;
    this.p = p;
    int w = spec.width();
    int patch = spec.patchSize();
    int patches = spec.gridSize() * spec.gridSize();
    // SigLIP's Conv2d weight (w, 3, p, p), kept flattened to (w, 3*p*p): the same numbers in the
    // same order, used directly by the patch matmul with no per-step view of a parameter.
    p.normal(PREFIX + "embeddings.patch_embedding.weight", 0.02, w, 3L * patch * patch);
    p.zeros(PREFIX + "embeddings.patch_embedding.bias", w);
    p.normal(PREFIX + "embeddings.position_embedding.weight", 0.02, patches, w);
    // Only the blocks whose output is used: features come from the penultimate block, so the
    // last block would get no gradient and only cost memory (its weights in a SigLIP file are skipped).
    for (int i = 0; i < spec.depth() - 1; i++) {
      String b = layer(i);
      p.ones(b + "layer_norm1.weight", w);
      p.zeros(b + "layer_norm1.bias", w);
      for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        p.normal(b + "self_attn." + proj + ".weight", 0.02, w, w);
        p.zeros(b + "self_attn." + proj + ".bias", w);
      }
      p.ones(b + "layer_norm2.weight", w);
      p.zeros(b + "layer_norm2.bias", w);
      p.normal(b + "mlp.fc1.weight", 0.02, spec.mlpDim(), w);
      p.zeros(b + "mlp.fc1.bias", spec.mlpDim());
      p.normal(b + "mlp.fc2.weight", 0.02, w, spec.mlpDim());
      p.zeros(b + "mlp.fc2.bias", w);
    }
  }

  static String layer(int i) {
    return PREFIX + "encoder.layers." + i + ".";
  }

  /** Images (N, 3, S, S) in [-1, 1] to patch features (N, G*G, width) of the penultimate block. */
  NDArray forward(NDArray images) {
    long n = images.getShape().get(0);
    int g = spec.gridSize();
    int patch = spec.patchSize();
    int covered = g * patch;
    if (covered != spec.imageSize()) {
      // SigLIP's stride-p Conv2d never reaches the last S mod p rows and columns (384 px at 14: 27
      // patches cover 378), so neither do the patches here.
      images = images.get(":, :, :" + covered + ", :" + covered);      // (N, 3, G*p, G*p)
    }
    NDArray patches = images
        .reshape(n, 3, g, patch, g, patch)                              // (N, 3, G, p, G, p)
        .transpose(0, 2, 4, 1, 3, 5)                                    // (N, G, G, 3, p, p)
        .reshape(n, (long) g * g, 3L * patch * patch);                  // (N, G*G, 3*p*p)
    NDArray x = Ops.linear(patches, p.get(PREFIX + "embeddings.patch_embedding.weight"),
        p.get(PREFIX + "embeddings.patch_embedding.bias"));             // (N, G*G, w)
    x = x.add(p.get(PREFIX + "embeddings.position_embedding.weight"));  // (N, G*G, w)
    // Each block's intermediates are freed as soon as its output exists: without this, two 384 px
    // images through a frozen encoder kept ~10 GB until the step ended.
    for (int i = 0; i < spec.depth() - 1; i++) {                        // the last block's output is not used
      String b = layer(i);
      x = BlockScope.run(x, in -> EncoderBlock.forward(in, p, b, spec.heads(), EPS, Ops::geluTanh, null)); // (N, G*G, w)
    }
    return x;                                                           // (N, G*G, w)
  }
}
