package dev.kiln.model;

import ai.djl.Device;
import ai.djl.engine.Engine;

/**
 * Where the trainer computes: the CPU (what every test runs) or GPU {@code localRank} of the
 * node. The number format is the stage's {@code precision} ({@code model/Autocast}), not the
 * device's.
 *
 * <p>The GPU path is UNVERIFIED: it needs libtorch 2.7.1 built for CUDA in the image
 * ({@code PYTORCH_LIBRARY_PATH}, {@code PYTORCH_FLAVOR=cu128}, {@code PYTORCH_VERSION=2.7.1});
 * DJL 0.36's JNI failed against PyTorch 2.11's libtorch on an H200 (docs/internals/trainer.md).
 * {@code scripts/gpu-smoke.sh} checks it on a GPU machine.
 */
public record ComputeDevice(Device device) {

  public static ComputeDevice cpu() {
    return new ComputeDevice(Device.cpu());
  }

  /** GPU {@code index}; fails, saying what is missing, when libtorch sees too few GPUs. */
  public static ComputeDevice gpu(int index) {
    int visible = Engine.getInstance().getGpuCount();
    if (visible <= index) {
      throw new IllegalStateException("GPU " + index + " was asked for but libtorch sees " + visible + " GPU(s): the image"
          + " needs a CUDA libtorch (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR=cu128) and the pod nvidia.com/gpu resources");
    }
    return new ComputeDevice(Device.gpu(index));
  }

  /**
   * Set to {@value #CPU} by Kiln's local node, whose GPUs are fake: a GPU stage then trains on the
   * CPU. Nothing else moves a GPU stage to the CPU; {@code NVIDIA_VISIBLE_DEVICES} in particular is
   * not read, since NVIDIA's toolkit sets it to {@code void} when it injects the GPUs through CDI.
   */
  public static final String ENV = "KILN_DEVICE";
  public static final String CPU = "cpu";

  /**
   * The device for a rank: GPU {@code localRank} of the node when the stage has GPUs, as libtorch
   * sees them (failing, saying what is missing, when it sees too few), else the CPU.
   * {@code deviceSetting} is {@value #ENV}'s value.
   */
  public static ComputeDevice forRank(int gpusPerNode, int localRank, String deviceSetting) {
    if (gpusPerNode == 0 || CPU.equals(deviceSetting)) {
      return cpu();
    }
    return gpu(localRank);
  }

  public boolean gpu() {
    return device.isGpu();
  }
}
