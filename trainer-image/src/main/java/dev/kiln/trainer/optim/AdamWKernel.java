package dev.kiln.trainer.optim;

import dev.kiln.api.v1alpha1.OptimizerSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One AdamW step over float32 memory in a single pass: each element's parameter, gradient and
 * both moments are read once and written once, in torch.optim.AdamW's order of operations
 * (decoupled decay, then the moments, then the bias-corrected update); clipping and zeroing the
 * gradient are folded into the same pass. Used on CPU memory by
 * {@link AdamW} (a tensor's own memory) and by the sharded optimizer (a rank's slice).
 */
public final class AdamWKernel {

  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

  private final float stepSize;
  private final float sqrtBiasCorrection2;
  private final float decay;
  private final float beta1;
  private final float beta2;
  private final float oneMinusBeta1;
  private final float oneMinusBeta2;
  private final float eps;

  /** The constants of step {@code step} (counted from 1) at learning rate {@code lr}. */
  public AdamWKernel(OptimizerSpec spec, long step, double lr) {
    stepSize = (float) (lr / (1 - Math.pow(spec.beta1(), step)));
    sqrtBiasCorrection2 = (float) Math.sqrt(1 - Math.pow(spec.beta2(), step));
    decay = (float) (1 - lr * spec.weightDecay());
    beta1 = spec.beta1().floatValue();
    beta2 = spec.beta2().floatValue();
    oneMinusBeta1 = (float) (1 - spec.beta1());
    oneMinusBeta2 = (float) (1 - spec.beta2());
    eps = spec.eps().floatValue();
  }

  /**
   * Updates {@code count} floats from float {@code at} of each segment with the gradient times
   * {@code gradientScale} (the clipping coefficient), and leaves the gradient zero, ready for the
   * next accumulation, in the same pass; {@code decays}: weight decay applies.
   */
  public void apply(MemorySegment parameter, MemorySegment gradient, float gradientScale, MemorySegment firstMoment,
      MemorySegment secondMoment, long at, long count, boolean decays) {
    for (long i = 4 * at, end = 4 * (at + count); i < end; i += 4) {
      float p = parameter.get(FLOAT, i);
      if (decays) {
        p *= decay;
      }
      float g = gradient.get(FLOAT, i) * gradientScale;
      gradient.set(FLOAT, i, 0f);
      float m = firstMoment.get(FLOAT, i) * beta1 + g * oneMinusBeta1;
      float v = secondMoment.get(FLOAT, i) * beta2 + g * g * oneMinusBeta2;
      firstMoment.set(FLOAT, i, m);
      secondMoment.set(FLOAT, i, v);
      float denominator = (float) Math.sqrt(v) / sqrtBiasCorrection2 + eps;
      parameter.set(FLOAT, i, p - m / denominator * stepSize);
    }
  }
}
