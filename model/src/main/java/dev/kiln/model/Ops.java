package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;

/**
 * The numerical building blocks, each checked against PyTorch in the tests. The first operand
 * of every op is an activation, never a parameter: DJL attaches results to the first operand's
 * manager, and activations live in the per-step manager that is closed after the step.
 */
public final class Ops {

  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

  private Ops() {}

  /** x @ w^T + b, HF layout: w is (out, in). */
  public static NDArray linear(NDArray x, NDArray w, NDArray b) {
    NDManager activations = x.getManager();
    x = Autocast.forMatMul(x, activations);
    w = Autocast.forMatMul(w, activations);
    b = b == null ? null : Autocast.forMatMul(b, activations);
    return b == null ? Linear.linear(x, w).singletonOrThrow() : Linear.linear(x, w, b).singletonOrThrow();
  }

  /** x / sqrt(mean(x^2) + eps) * w, over the last axis. */
  public static NDArray rmsNorm(NDArray x, NDArray w, double eps) {
    x = Autocast.forReduction(x);
    NDArray rms = x.square().mean(new int[] {-1}, true).add(Constants.of(eps)).sqrt(); // (..., 1)
    return x.div(rms).mul(w);                                             // (..., d)
  }

  public static NDArray layerNorm(NDArray x, NDArray w, NDArray b, double eps) {
    x = Autocast.forReduction(x);
    return LayerNorm.layerNorm(x, new Shape(x.getShape().get(x.getShape().dimension() - 1)), w, b, (float) eps)
        .singletonOrThrow();
  }

  /** GELU, tanh approximation (SigLIP's gelu_pytorch_tanh). */
  public static NDArray geluTanh(NDArray x) {
    NDArray cube = x.mul(x).mul(x);
    NDArray inner = x.add(cube.mul(Constants.of(0.044715))).mul(Constants.of(SQRT_2_OVER_PI));
    return x.mul(Constants.of(0.5)).mul(Activation.tanh(inner).add(Constants.of(1)));
  }

  /** GELU, exact (the projector's nn.GELU). */
  public static NDArray gelu(NDArray x) {
    return Activation.gelu(x);
  }

  public static NDArray silu(NDArray x) {
    return x.mul(Activation.sigmoid(x));
  }

  /**
   * Rotary embedding, HF/Qwen2 layout (rotate half): x * cos + rotate_half(x) * sin.
   * x is (B, H, T, hd); cos and sin are (B, 1, T, hd).
   */
  public static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
    long half = x.getShape().get(3) / 2;
    NDArray x1 = x.get("..., :" + half);                         // (B, H, T, hd/2)
    NDArray x2 = x.get("..., " + half + ":");                    // (B, H, T, hd/2)
    NDArray rotated = x2.neg().concat(x1, 3);                        // (B, H, T, hd)
    return x.mul(cos).add(rotated.mul(sin));
  }

  /**
   * Scaled dot-product attention with an additive mask. q is (B, H, T, hd), k and v are
   * (B, Hkv, T, hd) and are shared by H/Hkv query heads each (grouped-query attention).
   */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask) {
    long heads = q.getShape().get(1);
    long kvHeads = k.getShape().get(1);
    if (heads != kvHeads) {
      k = k.repeat(1, heads / kvHeads);                              // (B, H, T, hd)
      v = v.repeat(1, heads / kvHeads);                              // (B, H, T, hd)
    }
    double scale = 1 / Math.sqrt(q.getShape().get(3));
    NDManager activations = q.getManager();
    q = Autocast.forMatMul(q, activations);
    k = Autocast.forMatMul(k, activations);
    NDArray scores = Autocast.forReduction(q.matMul(k.transpose(0, 1, 3, 2)).mul(Constants.of(scale))); // (B, H, T, T)
    if (mask != null) {
      scores = scores.add(mask);                                     // mask (B, 1, T, T) broadcasts
    }
    NDArray weights = Autocast.forMatMul(scores.softmax(-1), activations); // (B, H, T, T)
    return weights.matMul(Autocast.forMatMul(v, activations));        // (B, H, T, hd)
  }

  /** log softmax over the last axis, in float32 (the loss). */
  public static NDArray logSoftmax(NDArray x) {
    return Autocast.forReduction(x).logSoftmax(-1);
  }
}
