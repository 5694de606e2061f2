package dev.kiln.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.kiln.trainer.device.TensorMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

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

  /**
   * The global L2 norm of the gradients. On the CPU one pass over their memory on all cores,
   * summing squares in double precision chunk by chunk, then the chunks in order.
   */
  public double norm(List<NDArray> parameters) {
    List<NDArray> grads = parameters.stream().map(this::of).toList();
    if (FloatChunks.allOnCpu(grads)) {
      return Math.sqrt(FloatChunks.sum(FloatChunks.of(grads), chunk -> {
        MemorySegment g = TensorMemory.read(grads.get(chunk.tensor()));
        double squares = 0;
        for (long i = 4 * chunk.from(), end = 4 * chunk.to(); i < end; i += 4) {
          float value = g.get(FLOAT, i);
          squares += (double) value * value;
        }
        return squares;
      }));
    }
    double sumSquares = 0;
    for (NDArray g : grads) {
      try (NDArray squared = g.square(); NDArray sum = squared.sum()) {
        sumSquares += sum.getFloat();
      }
    }
    return Math.sqrt(sumSquares);
  }

  /** What gradients of global L2 norm {@code norm} are multiplied by so that it is at most {@code maxNorm} (no limit: 0). */
  public static double clipCoefficient(double norm, double maxNorm) {
    return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  }

  /**
   * Sets every gradient to zero, ready for the next accumulation (after a step that did not
   * consume them: a skipped one, or a sharded one).
   */
  public void zero(List<NDArray> parameters) {
    for (NDArray p : parameters) {
      fillZero(of(p));
    }
  }

  /** A fill, not a multiplication by zero: the gradients of a skipped float16 step hold infinities, and 0 x inf is NaN. */
  static void fillZero(NDArray gradient) {
    gradient.set(EVERYTHING, 0);
  }
}
