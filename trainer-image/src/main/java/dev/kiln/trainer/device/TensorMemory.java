package dev.kiln.trainer.device;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.kiln.model.weights.SafeTensors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * A float32 tensor's memory as a segment Java code (the collectives, the optimizer's kernels) can
 * read, and the way back into the tensor. On the CPU {@code toByteBuffer(true)} is the tensor's own memory, read and written in
 * place; on a GPU it is a host copy, and results go back with {@code set}.
 *
 * <p>Never {@code set} a CPU tensor from a long-lived direct buffer: DJL then makes the tensor
 * use that buffer's memory instead of copying it (measured: parameters set from the sharded
 * optimizer's scratch vector turned into the next step's gradients).
 */
public final class TensorMemory {

  private TensorMemory() {}

  /** The tensor's floats, in native order: its own memory on the CPU. */
  public static MemorySegment read(NDArray tensor) {
    return MemorySegment.ofBuffer(tensor.toByteBuffer(true));
  }

  /**
   * The tensor as a safetensors source: on the CPU its own memory, written straight to the file; on
   * a GPU a host copy made when its turn comes. Float32 only, and a little-endian machine's bytes.
   */
  public static SafeTensors.Source source(NDArray tensor) {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN || tensor.getDataType() != DataType.FLOAT32) {
      throw new IllegalStateException("checkpoints are little-endian float32; this tensor is " + tensor.getDataType()
          + " on a " + ByteOrder.nativeOrder() + " machine");
    }
    return new SafeTensors.Source(tensor.getShape().getShape(), () -> tensor.toByteBuffer(true));
  }

  /** Copies {@code floats} (native order, the tensor's size) into the tensor's memory. */
  public static void write(NDArray tensor, MemorySegment floats) {
    if (tensor.getDevice().isGpu()) {
      MemorySegment copy = Arena.ofAuto().allocate(floats.byteSize(), 64);
      MemorySegment.copy(floats, 0, copy, 0, floats.byteSize());
      tensor.set(copy.asByteBuffer().order(ByteOrder.nativeOrder()));
    } else {
      MemorySegment.copy(floats, 0, read(tensor), 0, floats.byteSize());
    }
  }
}
