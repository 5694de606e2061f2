package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Scalar operands as engine-owned float32 tensors made once and kept for the life of the
 * process. DJL turns a Java number operand into a fresh tensor over a direct buffer on every
 * call; autograd keeps such operands for the backward pass, so they must not depend on the
 * Java garbage collector.
 */
public final class Constants {

  private static final NDManager MANAGER = NDManager.newBaseManager();
  private static final Map<Double, NDArray> VALUES = new ConcurrentHashMap<>();

  private Constants() {}

  public static NDArray of(double value) {
    return VALUES.computeIfAbsent(value, v -> Parameters.owned(MANAGER.create(v.floatValue())));
  }
}
