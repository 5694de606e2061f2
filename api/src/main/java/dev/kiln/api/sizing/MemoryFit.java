package dev.kiln.api.sizing;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.ResourcesSpec;
import dev.kiln.api.v1alpha1.StageSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether each GPU stage of a job fits its GPUs' memory by the {@link MemoryModel}, and what to
 * change when it does not. A warning, never a rejection: the model is an estimate (its GPU
 * allowance is unverified), and the user may know their GPUs better.
 */
public final class MemoryFit {

  /** Mean text tokens beside each image when nothing better is known: short captions. */
  public static final double CAPTION_TOKENS = 28;

  /** Memory per GPU in GiB as the driver reports it, by the start of the nvidia.com/gpu.product label. */
  static final Map<String, Double> KNOWN = new LinkedHashMap<>();

  static {
    KNOWN.put("NVIDIA-H200", 140.4);
    KNOWN.put("NVIDIA-H100", 79.6);
    KNOWN.put("NVIDIA-A100-SXM4-80GB", 80.0);
    KNOWN.put("NVIDIA-A100-PCIE-80GB", 80.0);
    KNOWN.put("NVIDIA-A100", 40.0);
    KNOWN.put("NVIDIA-L40S", 45.0);
    KNOWN.put("NVIDIA-A10", 22.5);
  }

  private static final Pattern SIZE_IN_LABEL = Pattern.compile("-(\\d+)GB");
  private static final double GIB = 1L << 30;

  private MemoryFit() {}

  /** One GPU stage's verdict. */
  public record Verdict(String stage, double neededGiB, Double gpuGiB, MemoryModel.Estimate estimate) {
    public Boolean fits() {
      return gpuGiB == null ? null : neededGiB <= gpuGiB;
    }
  }

  /** Memory of one GPU of {@code resources}: its gpuMemory, else known from its product; empty when neither says. */
  public static Optional<Double> gpuGiB(ResourcesSpec resources) {
    if (resources.gpuMemory() != null) {
      return Optional.of(Quantity.getAmountInBytes(new Quantity(resources.gpuMemory())).doubleValue() / GIB);
    }
    String product = resources.gpuProduct();
    if (product == null) {
      return Optional.empty();
    }
    Matcher size = SIZE_IN_LABEL.matcher(product);
    Optional<Double> known = KNOWN.entrySet().stream().filter(e -> product.startsWith(e.getKey()))
        .map(Map.Entry::getValue).findFirst();
    return known.isPresent() ? known : size.find() ? Optional.of(Double.parseDouble(size.group(1))) : Optional.empty();
  }

  /** The verdict on stage {@code stage} of {@code job}; a CPU stage has none. */
  public static Optional<Verdict> of(MultimodalPretrainJob job, StageSpec stage, double textTokensPerSample) {
    if (stage.resources().gpusPerNode() == 0) {
      return Optional.empty();
    }
    MemoryModel.Estimate estimate = MemoryModel.perRank(MemoryModel.Stage.of(job, stage, textTokensPerSample), true);
    return Optional.of(new Verdict(stage.name(), estimate.total() / GIB, gpuGiB(stage.resources()).orElse(null), estimate));
  }

  /** What the check found about one GPU stage: it does not fit ({@code exceeds}), or its GPUs' memory is unknown. */
  public record Finding(String message, boolean exceeds) {}

  /** One line per GPU stage that does not fit, or whose GPU memory is unknown, with what to change. */
  public static List<String> warnings(MultimodalPretrainJob job, double textTokensPerSample) {
    return findings(job, textTokensPerSample).stream().map(Finding::message).toList();
  }

  /** Each GPU stage that does not fit, or whose GPU memory is unknown, in spec order, assuming caption-long texts. */
  public static List<Finding> findings(MultimodalPretrainJob job) {
    return findings(job, CAPTION_TOKENS);
  }

  /** As {@link #findings(MultimodalPretrainJob)}, with {@code textTokensPerSample} text tokens beside each image. */
  public static List<Finding> findings(MultimodalPretrainJob job, double textTokensPerSample) {
    List<Finding> findings = new ArrayList<>();
    List<StageSpec> stages = job.getSpec().stages();
    for (int i = 0; i < stages.size(); i++) {
      StageSpec stage = stages.get(i);
      String at = "spec.stages[" + i + "]";
      Optional<Verdict> verdict = of(job, stage, textTokensPerSample);
      if (verdict.isEmpty()) {
        continue;
      }
      Verdict v = verdict.get();
      if (v.gpuGiB() == null) {
        findings.add(new Finding(String.format("%s.resources: memory per GPU unknown (gpuProduct %s), so the stage's %.1f GiB"
            + " per GPU cannot be checked: set resources.gpuMemory", at, stage.resources().gpuProduct(), v.neededGiB()), false));
      } else if (!v.fits()) {
        findings.add(new Finding(String.format("%s: needs about %.1f GiB per GPU (%s), more than the %.1f GiB of %s: %s", at,
            v.neededGiB(), breakdown(v.estimate()), v.gpuGiB(),
            stage.resources().gpuMemory() != null ? "resources.gpuMemory" : stage.resources().gpuProduct(),
            remedies(stage)), true));
      }
    }
    return findings;
  }

  /** The estimate by what holds it, in GiB. */
  public static String breakdown(MemoryModel.Estimate e) {
    return String.format("weights %.1f, gradients %.1f, optimizer %.1f, activations %.1f, runtime %.1f",
        e.parameters() / GIB, e.gradients() / GIB, e.optimizer() / GIB, e.activations() / GIB, e.runtime() / GIB);
  }

  private static String remedies(StageSpec stage) {
    List<String> remedies = new ArrayList<>();
    if (!Boolean.TRUE.equals(stage.recomputeActivations())) {
      remedies.add("recomputeActivations: true");
    }
    if (stage.batch().microBatchSize() > 1) {
      remedies.add("a smaller batch.microBatchSize");
    }
    if (stage.packedAttention() == PackedAttention.CONTINUOUS) {
      remedies.add("packedAttention: PerSample");
    }
    remedies.add("sharding over more GPUs (resources.nodes)");
    remedies.add("GPUs with more memory");
    return "try " + String.join(", ", remedies) + " (kiln estimate FILE shows each stage's memory)";
  }
}
