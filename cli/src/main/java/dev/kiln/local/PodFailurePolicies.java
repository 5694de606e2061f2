package dev.kiln.local;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyOnExitCodesRequirement;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyRule;
import java.util.List;
import java.util.Objects;

/** A Job's {@code podFailurePolicy} applied to one failed pod, rule by rule as the Job controller does. */
final class PodFailurePolicies {

  /** What to do with a failed pod: the rule's action ({@code Count} when none matches) and, for FailJob, why. */
  record Verdict(String action, String message) {
    static final Verdict COUNT = new Verdict("Count", null);
  }

  private PodFailurePolicies() {}

  static Verdict match(Job job, Pod pod) {
    var policy = job.getSpec().getPodFailurePolicy();
    if (policy == null || policy.getRules() == null) {
      return Verdict.COUNT;
    }
    String podName = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    List<PodFailurePolicyRule> rules = policy.getRules();
    for (int i = 0; i < rules.size(); i++) {
      PodFailurePolicyRule rule = rules.get(i);
      String why = null;
      if (rule.getOnExitCodes() != null) {
        why = exitCodeMatch(pod, rule.getOnExitCodes(), podName);
      } else if (rule.getOnPodConditions() != null) {
        why = conditionMatch(pod, rule, podName);
      }
      if (why != null) {
        return new Verdict(rule.getAction(), why + " matching " + rule.getAction() + " rule at index " + i);
      }
    }
    return Verdict.COUNT;
  }

  private static String exitCodeMatch(Pod pod, PodFailurePolicyOnExitCodesRequirement requirement, String podName) {
    var statuses = pod.getStatus() == null ? null : pod.getStatus().getContainerStatuses();
    if (statuses == null) {
      return null;
    }
    for (var status : statuses) {
      var terminated = status.getState() == null ? null : status.getState().getTerminated();
      if (terminated == null || terminated.getExitCode() == null || terminated.getExitCode() == 0
          || (requirement.getContainerName() != null && !requirement.getContainerName().equals(status.getName()))) {
        continue;
      }
      boolean listed = requirement.getValues().contains(terminated.getExitCode());
      if ("In".equals(requirement.getOperator()) == listed) {
        return "Container " + status.getName() + " for pod " + podName + " failed with exit code "
            + terminated.getExitCode();
      }
    }
    return null;
  }

  private static String conditionMatch(Pod pod, PodFailurePolicyRule rule, String podName) {
    var conditions = pod.getStatus() == null ? null : pod.getStatus().getConditions();
    if (conditions == null) {
      return null;
    }
    for (var condition : conditions) {
      for (var pattern : rule.getOnPodConditions()) {
        if (Objects.equals(condition.getType(), pattern.getType())
            && Objects.equals(condition.getStatus(), pattern.getStatus() == null ? "True" : pattern.getStatus())) {
          return "Pod " + podName + " has condition " + condition.getType();
        }
      }
    }
    return null;
  }
}
