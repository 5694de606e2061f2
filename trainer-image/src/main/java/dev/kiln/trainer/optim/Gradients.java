package dev.kiln.trainer.optim;

import ai.djl.ndarray.NDArray;
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

  private final Map<NDArray, NDArray> byParameter = new IdentityHashMap<>();

  public NDArray of(NDArray parameter) {
    return byParameter.computeIfAbsent(parameter, NDArray::getGradient);
  }

  /** Scales gradients so their global L2 norm is at most {@code maxNorm}; returns the norm before clipping. */
  public double clip(List<NDArray> parameters, double maxNorm) {
    double sumSquares = 0;
    for (NDArray p : parameters) {
      try (NDArray squared = of(p).square(); NDArray sum = squared.sum()) {
        sumSquares += sum.getFloat();
      }
    }
    double norm = Math.sqrt(sumSquares);
    if (maxNorm > 0 && norm > maxNorm) {
      double coefficient = maxNorm / (norm + 1e-6);
      for (NDArray p : parameters) {
        of(p).muli(coefficient);
      }
    }
    return norm;
  }

  /** Sets every gradient to zero, ready for the next accumulation. */
  public void zero(List<NDArray> parameters) {
    for (NDArray p : parameters) {
      of(p).muli(0);
    }
  }
}
