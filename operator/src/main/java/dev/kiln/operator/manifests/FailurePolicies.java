package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.ExitCodes;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicy;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyBuilder;

/**
 * The Jobs' {@code podFailurePolicy}: what a failed pod means, recorded on the Job itself, because
 * a pod evicted through the API (a drain, preemption, a taint) is deleted once the Job controller
 * has counted it, and with it the pod's own account of why it stopped.
 */
public final class FailurePolicies {

  /** The Job failure reason a matching FailJob rule gives. */
  public static final String REASON = "PodFailurePolicy";
  /** The pod condition an eviction, preemption or node loss sets. */
  public static final String DISRUPTION = "DisruptionTarget";

  private FailurePolicies() {}

  /**
   * A stage attempt fails at once when a pod is disrupted, with the disruption named on the Job, so
   * that the operator starts the next attempt without counting a restart.
   */
  static PodFailurePolicy failOnDisruption() {
    return new PodFailurePolicyBuilder()
        .addNewRule().withAction("FailJob")
          .addNewOnPodCondition().withType(DISRUPTION).withStatus("True").endOnPodCondition()
        .endRule()
        .build();
  }

  /**
   * A data-prep pod disrupted is replaced without using a retry; one that found its input or its
   * arguments unusable fails the Job at once, since a retry would read the same input.
   */
  static PodFailurePolicy retryDisruptionsNotBadInput(String container) {
    return new PodFailurePolicyBuilder()
        .addNewRule().withAction("Ignore")
          .addNewOnPodCondition().withType(DISRUPTION).withStatus("True").endOnPodCondition()
        .endRule()
        .addNewRule().withAction("FailJob")
          .withNewOnExitCodes().withContainerName(container).withOperator("In")
            .withValues(ExitCodes.USAGE, ExitCodes.DATA, ExitCodes.CONFIG).endOnExitCodes()
        .endRule()
        .build();
  }
}
