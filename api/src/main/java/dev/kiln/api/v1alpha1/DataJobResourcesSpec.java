package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;

/** CPU, memory and GPUs for one data-prep pod (a filter task, or a packing pod); what is unset fits the work it does. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DataJobResourcesSpec(
    @JsonPropertyDescription("CPU request per pod (a Kubernetes quantity); no limit.")
    @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) String cpu,
    @JsonPropertyDescription("Memory request and limit per pod (a Kubernetes quantity); the program's heap is 75% of it.")
    @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) String memory,
    @JsonPropertyDescription("GPUs (nvidia.com/gpu) per filter pod, 0 or 1: with 1, a model scorer (clipScore, mlmFilter) "
        + "runs its batches on it (more pods, not more GPUs per pod, score faster); unset or 0: on the CPU. Only a filtered "
        + "source's pods may have a GPU: packing runs on CPUs. The GPU path is unverified.")
    @Min(0) @Max(1) Integer gpus) {

  public DataJobResourcesSpec(String cpu, String memory) {
    this(cpu, memory, null);
  }

  /** This, with {@code defaults} for what it leaves unset. */
  public DataJobResourcesSpec or(DataJobResourcesSpec defaults) {
    return new DataJobResourcesSpec(cpu != null ? cpu : defaults.cpu(), memory != null ? memory : defaults.memory(),
        gpus != null ? gpus : defaults.gpus());
  }
}
