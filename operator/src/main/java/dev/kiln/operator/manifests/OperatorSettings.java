package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;

/**
 * Operator-wide inputs to the manifest builders: default images and the rendezvous port.
 * Pure data, so builders stay functions of (job, settings).
 */
public record OperatorSettings(String trainerImage, String dataJobsImage, String imagePullPolicy, int masterPort) {

  /** The trainer image for this job: its pinned {@code spec.images.trainer}, else the operator's. */
  public String trainerImage(MultimodalPretrainJob job) {
    var pinned = job.getSpec().images();
    return pinned != null && pinned.trainer() != null ? pinned.trainer() : trainerImage;
  }

  /** The data-jobs image for this job: its pinned {@code spec.images.dataJobs}, else the operator's. */
  public String dataJobsImage(MultimodalPretrainJob job) {
    var pinned = job.getSpec().images();
    return pinned != null && pinned.dataJobs() != null ? pinned.dataJobs() : dataJobsImage;
  }

  public static final int DEFAULT_MASTER_PORT = 29500;

  /** The images built from this repository at this version. */
  public static OperatorSettings defaults(String version) {
    return new OperatorSettings("ghcr.io/kiln-dev/kiln-trainer:" + version, "ghcr.io/kiln-dev/kiln-data-jobs:" + version,
        "IfNotPresent", DEFAULT_MASTER_PORT);
  }
}
