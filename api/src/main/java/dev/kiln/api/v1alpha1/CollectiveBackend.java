package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** How a stage's ranks exchange gradients and parameters. */
public enum CollectiveBackend {
  /** A ring over TCP between the ranks, on tensors in host memory. */
  @JsonProperty("Tcp") TCP,
  /** NVIDIA's NCCL between GPUs. */
  @JsonProperty("Nccl") NCCL;

  /** The backend for a stage that names none: NCCL when it has GPUs, TCP on CPU. */
  public static CollectiveBackend forStage(CollectiveBackend chosen, int gpusPerNode) {
    return chosen != null ? chosen : gpusPerNode > 0 ? NCCL : TCP;
  }
}
