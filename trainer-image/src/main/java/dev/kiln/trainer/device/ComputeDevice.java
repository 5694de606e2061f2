package dev.kiln.trainer.device;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;

/**
 * Where the trainer computes: the CPU (what every test runs) or GPU {@code localRank} of the
 * node, in fp32 for now. Mixed precision is not wired in: bf16 aborts the JVM in DJL 0.36 and
 * DJL's {@code toType} is not differentiable (measured: the cast has no grad_fn), so autocast-style
 * casts cannot be used; fp16 needs fp16 working weights with fp32 master copies (see
 * docs/trainer.md).
 *
 * <p>The GPU path is UNVERIFIED: no GPU was available where Kiln is built. It needs a CUDA
 * libtorch for DJL in the image ({@code PYTORCH_LIBRARY_PATH}, {@code PYTORCH_FLAVOR=cu128},
 * {@code PYTORCH_VERSION=2.7.1}); {@code scripts/gpu-smoke.sh} checks it on a GPU machine.
 */
public record ComputeDevice(Device device, DataType computeType) {

  public static ComputeDevice cpu() {
    return new ComputeDevice(Device.cpu(), DataType.FLOAT32);
  }

  /** GPU {@code index}; fails, saying what is missing, when libtorch sees too few GPUs. */
  public static ComputeDevice gpu(int index) {
    int visible = Engine.getInstance().getGpuCount();
    if (visible <= index) {
      throw new IllegalStateException("GPU " + index + " was asked for but libtorch sees " + visible + " GPU(s): the image"
          + " needs a CUDA libtorch (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR=cu128) and the pod nvidia.com/gpu resources");
    }
    return new ComputeDevice(Device.gpu(index), DataType.FLOAT32);
  }

  /**
   * The device for a rank: GPU {@code localRank} of the node when the stage has GPUs, else the
   * CPU. {@code visibleDevices} is {@code NVIDIA_VISIBLE_DEVICES}: {@code void} or {@code none}
   * (a node that advertises GPUs it does not have, like Kiln's local node) runs on the CPU.
   */
  public static ComputeDevice forRank(int gpusPerNode, int localRank, String visibleDevices) {
    if (gpusPerNode == 0 || "void".equals(visibleDevices) || "none".equals(visibleDevices)) {
      return cpu();
    }
    return gpu(localRank);
  }

  public boolean gpu() {
    return device.isGpu();
  }
}
