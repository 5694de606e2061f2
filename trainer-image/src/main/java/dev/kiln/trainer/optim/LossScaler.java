package dev.kiln.trainer.optim;

/**
 * Dynamic loss scaling for float16 training, with PyTorch GradScaler's rules: the loss is
 * multiplied by {@link #scale()} before backward so small float16 gradients do not flush to zero;
 * a step whose gradients overflow (a non-finite norm) is skipped and the scale halves; after
 * {@code growthInterval} finite steps in a row the scale doubles. Scales are powers of two, so
 * scaling and unscaling are exact.
 */
public final class LossScaler {

  public static final double INITIAL_SCALE = 65536;
  public static final int GROWTH_INTERVAL = 2000;

  /** What a checkpoint keeps: the scale, the finite steps since it last changed, the steps skipped so far. */
  public record State(double scale, int goodSteps, long skippedSteps) {}

  private final int growthInterval;
  private double scale;
  private int goodSteps;
  private long skippedSteps;

  public LossScaler(double initialScale, int growthInterval) {
    this.scale = initialScale;
    this.growthInterval = growthInterval;
  }

  public static LossScaler resume(State state, int growthInterval) {
    LossScaler scaler = new LossScaler(state.scale(), growthInterval);
    scaler.goodSteps = state.goodSteps();
    scaler.skippedSteps = state.skippedSteps();
    return scaler;
  }

  public double scale() {
    return scale;
  }

  /**
   * Records a step whose gradients had global norm {@code gradNorm} (after unscaling); returns
   * whether the optimizer may apply it.
   */
  public boolean update(double gradNorm) {
    if (!Double.isFinite(gradNorm)) {
      scale /= 2;
      goodSteps = 0;
      skippedSteps++;
      return false;
    }
    if (++goodSteps == growthInterval) {
      scale *= 2;
      goodSteps = 0;
    }
    return true;
  }

  public State state() {
    return new State(scale, goodSteps, skippedSteps);
  }
}
