package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/**
 * What a cluster asks of the pods Kiln creates beyond their resources: where they may run,
 * with which priority and identity, under which runtime, with which extra devices, labels,
 * annotations and environment. Applied on top of what Kiln sets, never replacing it.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record PodSettingsSpec(
    @JsonPropertyDescription("Node labels the pods require (for example a node pool), besides the GPU product.")
    Map<String, String> nodeSelector,

    @Size(max = 32) @JsonPropertyDescription("Taints the pods tolerate, besides nvidia.com/gpu which GPU pods always tolerate.")
    List<Toleration> tolerations,

    @Size(max = Bounds.NAME) @JsonPropertyDescription("A PriorityClass for the pods (the kube-scheduler's preemption).")
    String priorityClassName,

    @Size(max = Bounds.NAME) @JsonPropertyDescription("The pods' ServiceAccount (for example one bound to cloud storage "
        + "credentials); the namespace's default when unset.")
    String serviceAccountName,

    @Size(max = Bounds.NAME) @JsonPropertyDescription("A RuntimeClass (for example nvidia, where the NVIDIA container "
        + "runtime is not the default). GPU stages take the operator's gpuRuntimeClassName when unset.")
    String runtimeClassName,

    @JsonPropertyDescription("Extended resources each pod requests and is limited to, by name (for example rdma/ib: \"1\" "
        + "for an InfiniBand device plugin); GPUs, cpu and memory have their own fields.")
    Map<String, String> extraResources,

    @JsonPropertyDescription("Labels on the pods, besides Kiln's own (kiln.dev/ and app.kubernetes.io/ keys are Kiln's).")
    Map<String, String> labels,

    @JsonPropertyDescription("Annotations on the pods (for example k8s.v1.cni.cncf.io/networks for a secondary network).")
    Map<String, String> annotations,

    @Size(max = 64) @JsonPropertyDescription("Environment variables added to the container (values or valueFrom); "
        + "names Kiln sets (KILN_*, DJL_*, MASTER_*, WORLD_SIZE, HOME, OPT_OUT_TRACKING) are refused.")
    List<EnvVar> env) {

  public PodSettingsSpec {
    nodeSelector = nodeSelector != null ? Map.copyOf(nodeSelector) : Map.of();
    tolerations = tolerations != null ? List.copyOf(tolerations) : List.of();
    extraResources = extraResources != null ? Map.copyOf(extraResources) : Map.of();
    labels = labels != null ? Map.copyOf(labels) : Map.of();
    annotations = annotations != null ? Map.copyOf(annotations) : Map.of();
    env = env != null ? List.copyOf(env) : List.of();
  }
}
