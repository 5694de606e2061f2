package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;

/** Hardware for a stage: a gang of identical nodes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ResourcesSpec(
    @JsonPropertyDescription("Pods of the stage, one per node, all running at once (a gang).") @Default("1") @Min(1) @Max(1024) Integer nodes,
    @Default("8") @Min(0) @Max(16) @JsonPropertyDescription("nvidia.com/gpu per pod; 0 runs on CPU.") Integer gpusPerNode,
    @JsonPropertyDescription("Required nvidia.com/gpu.product node label, e.g. NVIDIA-A100-SXM4-40GB.") @Size(max = Bounds.LABEL) String gpuProduct,
    @JsonPropertyDescription("CPU request and limit per pod (a Kubernetes quantity). Unset: a request of 6 per GPU (2 on CPU) and no limit. The trainer runs limit / GPUs libtorch threads per rank.") @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) String cpu,
    @JsonPropertyDescription("Memory request and limit per pod (a Kubernetes quantity). Unset: 32Gi per GPU (8Gi on CPU).") @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) String memory,
    @JsonPropertyDescription("Memory of one GPU (a Kubernetes quantity, e.g. 80Gi), for the memory check of kiln validate and kiln estimate. Unset: known from gpuProduct (A100 40 and 80 GB, H100, H200, L40S, A10).") @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) String gpuMemory,
    @JsonPropertyDescription("Nodes the pods share a label value on (a rack, an NVLink or InfiniBand domain), required or preferred: the queue plans the gang into one such domain, and in Kueue mode Kueue's topology-aware scheduling does.")
    TopologySpec topology) {

  /** Hardware without a topology constraint. */
  public ResourcesSpec(Integer nodes, Integer gpusPerNode, String gpuProduct, String cpu, String memory, String gpuMemory) {
    this(nodes, gpusPerNode, gpuProduct, cpu, memory, gpuMemory, null);
  }

  public ResourcesSpec {
    nodes = nodes != null ? nodes : 1;
    gpusPerNode = gpusPerNode != null ? gpusPerNode : 8;
  }

  /** Ranks in the stage: one per GPU, or one per pod on CPU. */
  public int worldSize() {
    return nodes * Math.max(1, gpusPerNode);
  }
}
