package dev.kiln.trainer.optim;

import dev.kiln.api.v1alpha1.OptimizerSpec;

/**
 * HF's get_cosine_schedule_with_warmup (and its linear and constant siblings): linear warmup over
 * floor(warmupRatio x total) steps from 0, then decay to minLrRatio x lr.
 */
public record LearningRate(OptimizerSpec spec, long totalSteps) {

  public long warmupSteps() {
    return (long) Math.floor(spec.warmupRatio() * totalSteps);
  }

  /** Learning rate for optimizer step {@code step} (0-based). */
  public double at(long step) {
    long warmup = warmupSteps();
    if (step < warmup) {
      return spec.lr() * step / Math.max(1, warmup);
    }
    double progress = (double) (step - warmup) / Math.max(1, totalSteps - warmup);
    double decay = switch (spec.schedule()) {
      case COSINE -> Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
      case LINEAR -> Math.max(0, 1 - progress);
      case CONSTANT -> 1;
    };
    return spec.lr() * (spec.minLrRatio() + (1 - spec.minLrRatio()) * decay);
  }
}
