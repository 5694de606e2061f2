package dev.kiln.api.sizing;

import dev.kiln.api.v1alpha1.Precision;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Dense peak FLOP/s per GPU by the start of its {@code nvidia.com/gpu.product} label (SXM parts):
 * what {@code kiln estimate} plans with, and what a trainer's MFU is measured against.
 */
public final class GpuPeaks {

  /** The trainer's environment variable holding its GPU's peak at the stage's precision, where known. */
  public static final String ENV = "KILN_PEAK_FLOPS_PER_GPU";

  /** A GPU's dense peaks: fp16 tensor cores (Float16Mixed), and fp32 without TF32 (Float32, libtorch's default). */
  public record Peak(double float16, double float32) {
    public double of(Precision precision) {
      return precision == Precision.FLOAT16_MIXED ? float16 : float32;
    }
  }

  private static final Map<String, Peak> PEAKS = new LinkedHashMap<>();

  static {
    PEAKS.put("NVIDIA-H200", new Peak(989e12, 67e12));
    PEAKS.put("NVIDIA-H100", new Peak(989e12, 67e12));
    PEAKS.put("NVIDIA-A100", new Peak(312e12, 19.5e12));
    PEAKS.put("NVIDIA-L40S", new Peak(362e12, 91.6e12));
    PEAKS.put("NVIDIA-A10", new Peak(125e12, 31.2e12));
    PEAKS.put("Tesla-V100", new Peak(125e12, 15.7e12));
  }

  private GpuPeaks() {}

  public static Optional<Peak> of(String product) {
    return product == null ? Optional.empty() : PEAKS.entrySet().stream()
        .filter(e -> product.startsWith(e.getKey())).map(Map.Entry::getValue).findFirst();
  }

  /** The product prefixes known. */
  public static Set<String> known() {
    return Collections.unmodifiableSet(PEAKS.keySet());
  }
}
