package dev.kiln.operator.manifests;

/**
 * Operator-wide inputs to the manifest builders: default images and the rendezvous port.
 * Pure data, so builders stay functions of (job, settings).
 */
public record OperatorSettings(String trainerImage, String dataJobsImage, String imagePullPolicy, int masterPort) {

  public static final int DEFAULT_MASTER_PORT = 29500;

  /** The images built from this repository at this version. */
  public static OperatorSettings defaults(String version) {
    return new OperatorSettings("ghcr.io/kiln-dev/kiln-trainer:" + version, "ghcr.io/kiln-dev/kiln-data-jobs:" + version,
        "IfNotPresent", DEFAULT_MASTER_PORT);
  }
}
