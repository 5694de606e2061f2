package dev.kiln.operator.admission;

/**
 * What one stage attempt asks for, all at once: {@code pods} pods of {@code gpusPerPod} GPUs each,
 * on nodes labelled with {@code product} when it is not null.
 */
public record Gang(int pods, int gpusPerPod, String product) {

  public int gpus() {
    return pods * gpusPerPod;
  }

  /** "16 x NVIDIA-A100-SXM4-40GB", "16 GPUs", or "CPU only". */
  public String describe() {
    if (gpus() == 0) {
      return "CPU only";
    }
    return product != null ? gpus() + " x " + product : gpus() + (gpus() == 1 ? " GPU" : " GPUs");
  }
}
