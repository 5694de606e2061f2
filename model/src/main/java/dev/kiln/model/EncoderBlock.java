package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import java.util.function.UnaryOperator;

/**
 * The pre-norm transformer block of ViT, SigLIP and CLIP towers, by its HF tensor names under
 * {@code prefix}: LayerNorm, attention with biases (q, k, v, out_proj), LayerNorm, MLP (fc1,
 * activation, fc2), each with a residual connection.
 */
public final class EncoderBlock {

  private EncoderBlock() {}

  /** x (N, T, w) to (N, T, w); {@code mask} is additive (N or 1, 1, T, T), or null. */
  public static NDArray forward(NDArray x, Parameters p, String prefix, int heads, double eps,
      UnaryOperator<NDArray> activation, NDArray mask) {
    long n = x.getShape().get(0);
    long t = x.getShape().get(1);
    long width = x.getShape().get(2);
    long hd = width / heads;
    NDArray h = Ops.layerNorm(x, p.get(prefix + "layer_norm1.weight"), p.get(prefix + "layer_norm1.bias"), eps);
    NDArray q = heads(Ops.linear(h, p.get(prefix + "self_attn.q_proj.weight"), p.get(prefix + "self_attn.q_proj.bias")), heads, hd);
    NDArray k = heads(Ops.linear(h, p.get(prefix + "self_attn.k_proj.weight"), p.get(prefix + "self_attn.k_proj.bias")), heads, hd);
    NDArray v = heads(Ops.linear(h, p.get(prefix + "self_attn.v_proj.weight"), p.get(prefix + "self_attn.v_proj.bias")), heads, hd);
    NDArray a = Ops.attention(q, k, v, mask)                            // (N, H, T, hd)
        .transpose(0, 2, 1, 3).reshape(n, t, width);                    // (N, T, w)
    x = x.add(Ops.linear(a, p.get(prefix + "self_attn.out_proj.weight"), p.get(prefix + "self_attn.out_proj.bias")));
    h = Ops.layerNorm(x, p.get(prefix + "layer_norm2.weight"), p.get(prefix + "layer_norm2.bias"), eps);
    h = activation.apply(Ops.linear(h, p.get(prefix + "mlp.fc1.weight"), p.get(prefix + "mlp.fc1.bias"))); // (N, T, mlp)
    return x.add(Ops.linear(h, p.get(prefix + "mlp.fc2.weight"), p.get(prefix + "mlp.fc2.bias")));        // (N, T, w)
  }

  /** (N, T, H*hd) to (N, H, T, hd). */
  static NDArray heads(NDArray x, long heads, long hd) {
    long n = x.getShape().get(0);
    long t = x.getShape().get(1);
    return x.reshape(n, t, heads, hd).transpose(0, 2, 1, 3);
  }
}
