package dev.kiln.operator.admission;

import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Why Kueue has not admitted a stage Job, from the Workload Kueue made for it (its
 * {@code spec.active} and status conditions, as Kueue 0.10 to 0.19 write them, v1beta1 and
 * v1beta2; the reasons and messages read from Kueue's workload controller and scheduler): waiting for quota is a
 * wait; a Workload Kueue cannot admit (its LocalQueue or ClusterQueue missing or stopped), one
 * deactivated, or no Workload at all (Kueue not installed, or not managing the Job) needs a
 * person, and says so instead of waiting.
 */
public final class KueueWorkloads {

  private KueueWorkloads() {}

  /** The API group of Kueue's Workload. */
  public static final String GROUP = "kueue.x-k8s.io";
  /** The label Kueue puts on a Job's Workload, with the Job's uid. */
  public static final String JOB_UID_LABEL = "kueue.x-k8s.io/job-uid";
  /** Workload API versions: v1beta2 (Kueue 0.15 and later; storage from 0.16, where v1beta1 is deprecated), then v1beta1. */
  public static final List<String> VERSIONS = List.of("v1beta2", "v1beta1");
  /**
   * QuotaReserved=False reasons that no quota will end: "Inadmissible" (a LocalQueue or
   * ClusterQueue missing, inactive or stopped, through Kueue 0.19), and with Kueue's
   * UnadmittedWorkloadsObservability gate (on by default after 0.19) "Misconfigured" and "Suspended".
   */
  static final Set<String> INADMISSIBLE_REASONS = Set.of("Inadmissible", "Misconfigured", "Suspended");

  /** Where a namespace's Workloads are served at {@code version} of Kueue's API. */
  public static ResourceDefinitionContext api(String version) {
    return new ResourceDefinitionContext.Builder().withGroup(GROUP).withVersion(version).withKind("Workload")
        .withPlural("workloads").withNamespaced(true).build();
  }

  /** The Job simply waits for Kueue (quota, or admission checks). */
  public static final String WAITING = "WaitingForKueue";
  /** How long Kueue may take to make a Workload for a new Job before the job says it has not. */
  public static final Duration WORKLOAD_GRACE = Duration.ofMinutes(2);

  /** What the job is told: the Admitted condition's reason, the message, and whether only a person can unblock it. */
  public record KueueWait(String reason, String message, boolean stalled) {}

  /** The wait of {@code job} (a suspended stage Job, in LocalQueue {@code queue}) by its Workload. */
  public static KueueWait of(GenericKubernetesResource workload, String job, String queue) {
    String name = workload.getMetadata().getName();
    Map<String, Object> spec = map(workload.getAdditionalProperties().get("spec"));
    Optional<Map<String, Object>> evicted = condition(workload, "Evicted", "True");
    if (Boolean.FALSE.equals(spec.get("active"))) {
      return new KueueWait(JobStatusAggregator.KUEUE_DEACTIVATED, "Kueue's Workload " + name + " for Job " + job
          + " is deactivated"
          + evicted.map(c -> " (" + c.get("reason") + ": " + c.get("message") + ")").orElse("")
          + "; set its spec.active to true to queue it again (kubectl patch workload " + name
          + " --type merge -p '{\"spec\":{\"active\":true}}'), or delete the stage's Job to start afresh", true);
    }
    Optional<Map<String, Object>> notReserved = condition(workload, "QuotaReserved", "False");
    if (notReserved.isPresent() && INADMISSIBLE_REASONS.contains(String.valueOf(notReserved.get().get("reason")))) {
      return new KueueWait(JobStatusAggregator.KUEUE_INADMISSIBLE, "Kueue cannot admit Job " + job + " (LocalQueue "
          + queue + "): "
          + notReserved.get().get("message"), true);
    }
    if (condition(workload, "QuotaReserved", "True").isPresent()) {
      return new KueueWait(WAITING, "Kueue reserved quota for Job " + job + " (LocalQueue " + queue
          + "); waiting for its admission checks" + condition(workload, "Admitted", "False")
              .map(c -> ": " + c.get("message")).orElse(""), false);
    }
    String why = evicted.map(c -> "evicted (" + c.get("reason") + ": " + c.get("message") + "), queued again")
        .orElse(notReserved.map(c -> String.valueOf(c.get("message"))).orElse(""));
    return new KueueWait(WAITING, "waiting for Kueue to admit Job " + job + " (LocalQueue " + queue + ")"
        + (why.isEmpty() ? "" : ": " + why), false);
  }

  /**
   * The wait of a Job with no Workload: Kueue is not installed ({@code served} false), or has made
   * none in {@code waited} (more than {@link #WORKLOAD_GRACE}: it does not manage the Job, or
   * cannot: a PriorityClass the pods name is missing, and Kueue makes no Workload without it).
   */
  public static KueueWait without(boolean served, Duration waited, String job, String queue, String namespace) {
    if (!served) {
      return new KueueWait(JobStatusAggregator.KUEUE_NOT_MANAGING, "Job " + job + " waits for Kueue (scheduling.mode:"
          + " Kueue), but the cluster serves no Kueue Workload API: install Kueue, or use scheduling.mode: Builtin", true);
    }
    if (waited.compareTo(WORKLOAD_GRACE) > 0) {
      return new KueueWait(JobStatusAggregator.KUEUE_NOT_MANAGING, "Kueue has made no Workload for Job " + job + " in "
          + waited.toSeconds() + "s:"
          + " check that Kueue manages batch/Job (integrations.frameworks) and namespace " + namespace
          + " (managedJobsNamespaceSelector), that LocalQueue " + queue + " exists there, and that the priority classes"
          + " the job names exist (Kueue makes no Workload without them)", true);
    }
    return new KueueWait(WAITING, "waiting for Kueue to admit Job " + job + " (LocalQueue " + queue + ")", false);
  }

  /** The wait when the Workload could not be read ({@code refusal}: the API server's answer): Kueue may still admit the Job. */
  public static KueueWait unreadable(String refusal, String job, String queue) {
    return new KueueWait(WAITING, "waiting for Kueue to admit Job " + job + " (LocalQueue " + queue + "); its Workload could"
        + " not be read (" + refusal + "): the operator needs list on workloads.kueue.x-k8s.io, as the chart grants", false);
  }

  /** Why Kueue evicted an admitted Job, from its Workload: "Preempted: ..."; empty when it does not say. */
  public static String evictedBecause(GenericKubernetesResource workload) {
    return condition(workload, "Evicted", "True").map(c -> c.get("reason") + ": " + c.get("message")).orElse("");
  }

  private static Optional<Map<String, Object>> condition(GenericKubernetesResource workload, String type, String status) {
    Object conditions = map(workload.getAdditionalProperties().get("status")).get("conditions");
    if (!(conditions instanceof List<?> list)) {
      return Optional.empty();
    }
    return list.stream().map(KueueWorkloads::map)
        .filter(c -> type.equals(c.get("type")) && status.equals(c.get("status"))).findFirst();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object value) {
    return value instanceof Map<?, ?> map ? (Map<String, Object>) map : Map.of();
  }
}
