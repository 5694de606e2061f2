package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.StageSpec;

/**
 * Operator-wide inputs to the manifest builders: default images (the trainer's CPU and CUDA
 * variants), the runtime class GPU pods get by default, and the rendezvous port. Pure data, so
 * builders stay functions of (job, settings).
 */
public record OperatorSettings(String trainerImage, String trainerGpuImage, String dataJobsImage, String imagePullPolicy,
    String gpuRuntimeClassName, int masterPort) {

  /**
   * The trainer image for a stage: the job's pinned {@code spec.images.trainer}, else the
   * operator's CUDA image for a stage with GPUs and its CPU image for one without.
   */
  public String trainerImage(MultimodalPretrainJob job, StageSpec stage) {
    var pinned = job.getSpec().images();
    if (pinned != null && pinned.trainer() != null) {
      return pinned.trainer();
    }
    return stage.resources().gpusPerNode() > 0 ? trainerGpuImage : trainerImage;
  }

  /** The data-jobs image for this job: its pinned {@code spec.images.dataJobs}, else the operator's. */
  public String dataJobsImage(MultimodalPretrainJob job) {
    var pinned = job.getSpec().images();
    return pinned != null && pinned.dataJobs() != null ? pinned.dataJobs() : dataJobsImage;
  }

  public static final int DEFAULT_MASTER_PORT = 29500;

  /** The tag suffix of the trainer's CUDA image: {@code kiln-trainer:VERSION-cuda}. */
  public static final String CUDA_TAG_SUFFIX = "-cuda";

  /** The images built from this repository at this version; no runtime class. */
  public static OperatorSettings defaults(String version) {
    return new OperatorSettings("ghcr.io/kiln-dev/kiln-trainer:" + version,
        "ghcr.io/kiln-dev/kiln-trainer:" + version + CUDA_TAG_SUFFIX, "ghcr.io/kiln-dev/kiln-data-jobs:" + version,
        "IfNotPresent", "", DEFAULT_MASTER_PORT);
  }
}
