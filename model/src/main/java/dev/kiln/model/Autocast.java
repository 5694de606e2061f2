package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * fp16 mixed precision the way PyTorch's autocast does it: while a scope is open on this thread,
 * matrix products run on float16 copies of their operands, while norms, softmax and the loss run
 * in float32; parameters, their gradients and the residual stream stay float32.
 *
 * <p>The casts are made inside the autograd graph by an in-place add into a fresh tensor of the
 * target type ({@code zeros(fp16).addi(x)}), because DJL's {@code toType} is not differentiable
 * (its result has no grad_fn). Gradients flow back through the cast in the source type.
 */
public final class Autocast implements AutoCloseable {

  private static final ThreadLocal<Boolean> ACTIVE = ThreadLocal.withInitial(() -> false);

  private final boolean previous;

  private Autocast(boolean active) {
    previous = ACTIVE.get();
    ACTIVE.set(active);
  }

  /** Opens an fp16 scope on this thread until {@link #close()}. */
  public static Autocast fp16() {
    return new Autocast(true);
  }

  public static boolean active() {
    return ACTIVE.get();
  }

  /** {@code x} as an operand of a matrix product: a float16 copy in a scope, {@code x} itself outside. */
  static NDArray forMatMul(NDArray x, NDManager activations) {
    return active() ? cast(x, DataType.FLOAT16, activations) : x;
  }

  /** {@code x} as the input of a reduction (norm, softmax, loss): float32. */
  static NDArray forReduction(NDArray x) {
    return x.getDataType() == DataType.FLOAT16 ? cast(x, DataType.FLOAT32, x.getManager()) : x;
  }

  private static NDArray cast(NDArray x, DataType type, NDManager activations) {
    if (x.getDataType() == type) {
      return x;
    }
    return activations.zeros(x.getShape(), type).addi(x);
  }

  @Override
  public void close() {
    ACTIVE.set(previous);
  }
}
