package dev.kiln.operator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Optional;

/** Operator-wide settings: kiln.operator.* in application.properties, or KILN_OPERATOR_* environment variables. */
@ConfigMapping(prefix = "kiln.operator")
public interface KilnOperatorConfig {

  /** Trainer image for jobs that do not pin spec.images.trainer. */
  @WithDefault("ghcr.io/kiln-dev/kiln-trainer:0.1.0")
  String trainerImage();

  /** Trainer image for GPU stages (its CUDA variant) of jobs that do not pin spec.images.trainer. */
  @WithDefault("ghcr.io/kiln-dev/kiln-trainer:0.1.0-cuda")
  String trainerGpuImage();

  /**
   * The RuntimeClass GPU pods run under when their stage names none (for example nvidia, where the
   * NVIDIA container runtime is not the default); empty: the cluster's default runtime.
   */
  Optional<String> gpuRuntimeClassName();

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

  LeaderElectionSettings leaderElection();

  /**
   * A Lease that one replica holds while it reconciles; the others keep their caches warm and take
   * over when it stops renewing (KILN_OPERATOR_LEADER_ELECTION_*).
   */
  interface LeaderElectionSettings {

    /** Off only where one operator runs alone (the local cluster of {@code kiln run}). */
    @WithDefault("true")
    boolean enabled();

    @WithDefault("kiln-operator")
    String leaseName();

    /** Where the Lease lives; default: the namespace the operator runs in. */
    Optional<String> leaseNamespace();

    /** How long a Lease not renewed stays the holder's: the longest a failover takes. */
    @WithDefault("15")
    int leaseDurationSeconds();

    /** How long the leader keeps trying to renew before it gives up and exits. */
    @WithDefault("10")
    int renewDeadlineSeconds();

    @WithDefault("2")
    int retryPeriodSeconds();
  }
}
