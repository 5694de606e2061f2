package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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

  /** x * rsqrt(mean(x^2) + eps) * w, over the last axis (as HF computes it). */
  public static NDArray rmsNorm(NDArray x, NDArray w, double eps) {
    x = Autocast.forReduction(x);
    NDArray inverseRms = x.square().mean(new int[] {-1}, true).add(Constants.of(eps)).pow(Constants.of(-0.5)); // (..., 1)
    return x.mul(inverseRms).mul(w);                                      // (..., d)
  }

  public static NDArray layerNorm(NDArray x, NDArray w, NDArray b, double eps) {
    x = Autocast.forReduction(x);
    return LayerNorm.layerNorm(x, new Shape(x.getShape().get(x.getShape().dimension() - 1)), w, b, (float) eps)
        .singletonOrThrow();
  }

  /**
   * GELU, tanh approximation (SigLIP's gelu_pytorch_tanh): 0.5 x (1 + tanh(z)) written as
   * x sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3): six elementwise ops instead of eight.
   */
  public static NDArray geluTanh(NDArray x) {
    NDArray twoZ = x.square().mul(Constants.of(2 * SQRT_2_OVER_PI * 0.044715))
        .add(Constants.of(2 * SQRT_2_OVER_PI)).mul(x);
    return x.mul(Activation.sigmoid(twoZ));
  }

  /** GELU, exact (the projector's nn.GELU). */
  public static NDArray gelu(NDArray x) {
    return Activation.gelu(x);
  }

  public static NDArray silu(NDArray x) {
    return x.mul(Activation.sigmoid(x));
  }

  /**
   * Rotary embedding, HF/Qwen2 layout (rotate half): x * cos + rotate_half(x) * sin, with
   * rotate_half's sign folded into the table: x is (B, H, T, hd); cos and signedSin (B, 1, T, hd)
   * come from {@link PackedBatch#rotary}, signedSin = [-sin, sin] over the two halves.
   */
  public static NDArray rope(NDArray x, NDArray cos, NDArray signedSin) {
    long half = x.getShape().get(3) / 2;
    NDArray x1 = x.get("..., :" + half);                         // (B, H, T, hd/2)
    NDArray x2 = x.get("..., " + half + ":");                    // (B, H, T, hd/2)
    NDArray swapped = x2.concat(x1, 3);                              // (B, H, T, hd)
    return x.mul(cos).add(swapped.mul(signedSin));
  }

  /**
   * Scaled dot-product attention with an additive mask (B or 1, 1, T, T), or none. q is (B, H, T, hd),
   * k and v are (B, Hkv, T, hd) and are shared by H/Hkv query heads each (grouped-query attention).
   */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask) {
    Shape shape = q.getShape();
    long kvHeads = k.getShape().get(1);
    long group = shape.get(1) / kvHeads;
    // A group's query heads are adjacent, so (B, H, T, hd) is (B, Hkv, g*T, hd) without a copy.
    NDArray grouped = q.reshape(shape.get(0), kvHeads, group * shape.get(2), shape.get(3)); // (B, Hkv, g*T, hd)
    NDArray groupMask = mask == null ? null
        : mask.reshape(mask.getShape().get(0), 1, 1, shape.get(2), k.getShape().get(2));    // (B, 1, 1, T, T)
    return attend(grouped, k, v, groupMask, group).reshape(shape);                          // (B, H, T, hd)
  }

  /**
   * Attention of each block of {@code block} queries to the {@code window} blocks of keys that
   * end with its own; keys before the start of the sequence are zeros and must be masked. Equal
   * to dense attention when no query may see a key outside its window, at window x block / T
   * of the work. Shapes as {@link #attention}; mask is additive (B, 1, T/block, block, window*block).
   */
  public static NDArray localAttention(NDArray q, NDArray k, NDArray v, NDArray mask, int block, int window) {
    Shape shape = q.getShape();
    long kvHeads = k.getShape().get(1);
    long group = shape.get(1) / kvHeads;
    long blocks = shape.get(2) / block;
    long hd = shape.get(3);
    NDArray grouped = q.reshape(shape.get(0), kvHeads, group, blocks, block, hd)             // (B, Hkv, g, nb, C, hd)
        .transpose(0, 1, 3, 2, 4, 5)                                                         // (B, Hkv, nb, g, C, hd)
        .reshape(shape.get(0), kvHeads, blocks, group * block, hd);                          // (B, Hkv, nb, g*C, hd)
    NDArray groupMask = mask.reshape(shape.get(0), 1, blocks, 1, block, (long) window * block); // (B, 1, nb, 1, C, W*C)
    return attend(grouped, keyWindows(k, block, window), keyWindows(v, block, window), groupMask, group) // (B, Hkv, nb, g*C, hd)
        .reshape(shape.get(0), kvHeads, blocks, group, block, hd)                            // (B, Hkv, nb, g, C, hd)
        .transpose(0, 1, 3, 2, 4, 5)                                                         // (B, Hkv, g, nb, C, hd)
        .reshape(shape);                                                                     // (B, H, T, hd)
  }

  /** (B, Hkv, T, hd) to (B, Hkv, T/block, window*block, hd): for block j, positions (j-window+1)*block to (j+1)*block. */
  private static NDArray keyWindows(NDArray x, int block, int window) {
    Shape shape = x.getShape();
    long length = shape.get(2);
    NDArray before = x.getManager().zeros(new Shape(shape.get(0), shape.get(1), (long) (window - 1) * block, shape.get(3)),
        x.getDataType());
    NDArray padded = before.concat(x, 2);                                                  // (B, Hkv, T + (W-1)C, hd)
    NDList shifted = new NDList(window);
    for (int w = 0; w < window; w++) {
      shifted.add(padded.get(new NDIndex(":, :, {}:{}", (long) w * block, w * block + length))
          .reshape(shape.get(0), shape.get(1), length / block, block, shape.get(3)));       // (B, Hkv, nb, C, hd)
    }
    return NDArrays.stack(shifted, 3)                                                      // (B, Hkv, nb, W, C, hd)
        .reshape(shape.get(0), shape.get(1), length / block, (long) window * block, shape.get(3)); // (B, Hkv, nb, W*C, hd)
  }

  /**
   * Softmax(q k^T / sqrt(hd) + mask) v for query groups sharing keys: q is (..., g*Tq, hd), k and
   * v (..., Tk, hd), mask broadcasts to (..., g, Tq, Tk) or is null. No copy of k or v per head.
   */
  private static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask, long group) {
    int last = q.getShape().dimension() - 1;
    double scale = 1 / Math.sqrt(q.getShape().get(last));
    NDManager activations = q.getManager();
    // Scaling the queries rather than the scores: Tq x hd multiplications instead of Tq x Tk.
    q = Autocast.forMatMul(q.mul(Constants.of(scale)), activations);
    k = Autocast.forMatMul(k, activations);
    NDArray scores = Autocast.forReduction(q.matMul(k.swapAxes(last - 1, last)));  // (..., g*Tq, Tk)
    if (mask != null) {
      Shape flat = scores.getShape();
      long[] split = new long[flat.dimension() + 1];
      System.arraycopy(flat.getShape(), 0, split, 0, last - 1);
      split[last - 1] = group;
      split[last] = flat.get(last - 1) / group;
      split[last + 1] = flat.get(last);
      scores = scores.reshape(split).add(mask).reshape(flat);                    // mask added per (g, Tq, Tk)
    }
    NDArray weights = Autocast.forMatMul(scores.softmax(-1), activations);      // (..., g*Tq, Tk)
    return weights.matMul(Autocast.forMatMul(v, activations));                  // (..., g*Tq, hd)
  }

  /** log softmax over the last axis, in float32 (the loss). */
  public static NDArray logSoftmax(NDArray x) {
    return Autocast.forReduction(x).logSoftmax(-1);
  }
}
