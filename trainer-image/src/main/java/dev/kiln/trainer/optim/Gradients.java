package dev.kiln.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gradient of each parameter, fetched once and kept: gradients accumulate in place and are
 * zeroed in place, so the engine's gradient tensor of a parameter never changes. Handles are
 * never closed one by one (closing one can release the engine's own gradient); they go with
 * the manager that owns the parameters.
 */
public final class Gradients {

  private static final NDIndex EVERYTHING = new NDIndex("...");

  private final Map<NDArray, NDArray> byParameter = new IdentityHashMap<>();

  public NDArray of(NDArray parameter) {
    return byParameter.computeIfAbsent(parameter, NDArray::getGradient);
  }

  /** Multiplies every gradient by {@code factor} (1 / the loss scale); nothing to do for 1. */
  public void unscale(List<NDArray> parameters, double factor) {
    if (factor != 1) {
      for (NDArray p : parameters) {
        of(p).muli(factor);
      }
    }
  }

  /** The global L2 norm of the gradients. */
  public double norm(List<NDArray> parameters) {
    double sumSquares = 0;
    for (NDArray p : parameters) {
      try (NDArray squared = of(p).square(); NDArray sum = squared.sum()) {
        sumSquares += sum.getFloat();
      }
    }
    return Math.sqrt(sumSquares);
  }

  /** Scales gradients whose global L2 norm is {@code norm} so that it is at most {@code maxNorm}. */
  public void clip(List<NDArray> parameters, double norm, double maxNorm) {
    if (maxNorm > 0 && norm > maxNorm) {
      double coefficient = maxNorm / (norm + 1e-6);
      for (NDArray p : parameters) {
        of(p).muli(coefficient);
      }
    }
  }

  /**
   * Sets every gradient to zero, ready for the next accumulation. A fill, not a multiplication
   * by zero: the gradients of a skipped float16 step hold infinities, and 0 x inf is NaN.
   */
  public void zero(List<NDArray> parameters) {
    for (NDArray p : parameters) {
      of(p).set(EVERYTHING, 0);
    }
  }
}
