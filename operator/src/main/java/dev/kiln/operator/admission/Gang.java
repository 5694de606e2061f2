package dev.kiln.operator.admission;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.v1alpha1.TopologySpec;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/**
 * What one stage attempt asks for, all at once: {@code pods} pods, each requesting {@code perPod}
 * (GPUs, cpu, memory, extended resources and its pod slot), on nodes labelled with {@code product}
 * when it is not null, whose labels include {@code nodeSelector} and whose taints
 * {@code tolerations} tolerate (the stage's pod settings), all sharing one value of the
 * {@code topology} label when there is one (required, or preferred).
 */
public record Gang(int pods, ResourceList perPod, String product, Map<String, String> nodeSelector,
    List<Toleration> tolerations, TopologySpec topology) {

  public Gang {
    nodeSelector = nodeSelector != null ? Map.copyOf(nodeSelector) : Map.of();
    tolerations = tolerations != null ? List.copyOf(tolerations) : List.of();
  }

  /** A gang with no topology constraint. */
  public Gang(int pods, ResourceList perPod, String product, Map<String, String> nodeSelector,
      List<Toleration> tolerations) {
    this(pods, perPod, product, nodeSelector, tolerations, null);
  }

  /** A gang of pods that request GPUs only, with no node selector and no tolerations beyond the GPU taint's. */
  public Gang(int pods, int gpusPerPod, String product) {
    this(pods, ResourceList.gpus(gpusPerPod), product, Map.of(), List.of());
  }

  /** The same placement constraints for another number of pods. */
  public Gang withPods(int pods) {
    return new Gang(pods, perPod, product, nodeSelector, tolerations, topology);
  }

  /** The same gang, free to use any nodes. */
  public Gang withoutTopology() {
    return new Gang(pods, perPod, product, nodeSelector, tolerations, null);
  }

  public int gpusPerPod() {
    return perPod.gpus();
  }

  public int gpus() {
    return pods * gpusPerPod();
  }

  /** What all its pods request of one resource, in thousandths. */
  public long total(String resource) {
    return pods * perPod.get(resource);
  }

  /** "16 x NVIDIA-A100-SXM4-40GB", "16 GPUs", or "CPU only". */
  public String describe() {
    if (gpus() == 0) {
      return "CPU only";
    }
    return product != null ? gpus() + " x " + product : gpus() + (gpus() == 1 ? " GPU" : " GPUs");
  }
}
