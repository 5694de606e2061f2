package dev.kiln.operator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Operator-wide settings: kiln.operator.* in application.properties, or KILN_OPERATOR_* environment variables. */
@ConfigMapping(prefix = "kiln.operator")
public interface KilnOperatorConfig {

  /** Trainer image for jobs that do not pin spec.images.trainer. */
  @WithDefault("ghcr.io/kiln-dev/kiln-trainer:0.1.0")
  String trainerImage();

  /** Data-jobs image (filter, pack) for jobs that do not pin spec.images.dataJobs. */
  @WithDefault("ghcr.io/kiln-dev/kiln-data-jobs:0.1.0")
  String dataJobsImage();

  @WithDefault("IfNotPresent")
  String imagePullPolicy();

  /**
   * How often a training job's progress is read from its rank 0 and written to status (at most):
   * one status write per training job per interval.
   */
  @WithDefault("30")
  int progressIntervalSeconds();

  /** Port rank 0 listens on for the rendezvous. */
  @WithDefault("29500")
  int masterPort();
}
