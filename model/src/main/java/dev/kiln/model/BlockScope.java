package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.UnaryOperator;

/**
 * Runs one block of a model in a manager of its own, so that only its output and what autograd
 * saved for backward outlive it.
 *
 * <p>DJL keeps every array until its manager closes, so without this a step holds every
 * intermediate of every block (attention scores before and after the mask, the MLP's gate before
 * and after its activation) until the step ends. Closing an array only drops DJL's handle:
 * libtorch counts references, and the tensors a backward function saved stay alive through its
 * graph until backward has used them, as they do in PyTorch.
 */
final class BlockScope {

  private BlockScope() {}

  /** {@code block.apply(x)}, with the handles of all arrays it made but its output closed. */
  static NDArray run(NDArray x, UnaryOperator<NDArray> block) {
    NDManager caller = x.getManager();
    try (NDManager scope = caller.newSubManager()) {
      x.tempAttach(scope);
      NDArray out = block.apply(x);
      out.attach(caller);
      return out;
    }
  }
}
