package dev.kiln.operator.lifecycle;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.TrainerSummary;
import dev.kiln.operator.manifests.FailurePolicies;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import java.io.IOException;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Reads an attempt's Job conditions and pod statuses into an {@link AttemptState}. Pure. */
public final class AttemptObserver {

  /** Pod status reasons the kubelet or scheduler give when a pod is removed through no fault of its own. */
  static final Set<String> DISRUPTION_REASONS = Set.of("Evicted", "Preempting", "NodeLost", "NodeShutdown", "Shutdown",
      "Terminated", "DeletionByTaintManager", "TerminationByKubelet");
  /** Exit codes of a process killed by a signal (SIGKILL, SIGTERM): usually a peer's failure, not the cause. */
  static final Set<Integer> SIGNAL_EXITS = Set.of(137, 143);

  private static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private AttemptObserver() {}

  public static AttemptState observe(Job job, List<Pod> pods, List<Integer> nonRetryableExitCodes) {
    if (hasCondition(job, "Complete")) {
      return new AttemptState.Succeeded(summary(pods).orElse(null));
    }
    Optional<JobCondition> failed = condition(job, "Failed");
    if (failed.isEmpty()) {
      return new AttemptState.Running();
    }
    Optional<String> disruptedOnJob = disruptedPodNamedByJob(failed.get());
    if (disruptedOnJob.isPresent() && pods.stream().noneMatch(p -> name(p).equals(disruptedOnJob.get()))) {
      // Evicted through the API: the pod is gone, and the Job's pod failure policy kept why.
      return new AttemptState.Failed(AttemptState.FailureKind.DISRUPTED, "Disrupted", "pod " + disruptedOnJob.get()
          + " was disrupted (" + FailurePolicies.DISRUPTION + ") and deleted", null, disruptedOnJob.get());
    }
    for (Pod pod : pods) {
      if (disrupted(pod)) {
        String reason = pod.getStatus().getReason() != null ? pod.getStatus().getReason() : "DisruptionTarget";
        return new AttemptState.Failed(AttemptState.FailureKind.DISRUPTED, "Disrupted",
            "pod " + name(pod) + " was disrupted (" + reason + ")", null, name(pod));
      }
    }
    Optional<Pod> culprit = pods.stream()
        .filter(p -> terminated(p).map(t -> t.getExitCode() != null && t.getExitCode() != 0).orElse(false))
        .min(Comparator.comparing((Pod p) -> SIGNAL_EXITS.contains(terminated(p).get().getExitCode()))
            .thenComparing(StageJobManifest::completionIndex));
    if (culprit.isEmpty()) {
      return new AttemptState.Failed(AttemptState.FailureKind.RETRYABLE, orElse(failed.get().getReason(), "JobFailed"),
          orElse(failed.get().getMessage(), "the Job failed without a failed pod"), null, null);
    }
    ContainerStateTerminated terminated = terminated(culprit.get()).get();
    int exitCode = terminated.getExitCode();
    String detail = "pod " + name(culprit.get()) + " exited with code " + exitCode
        + (terminated.getReason() != null ? " (" + terminated.getReason() + ")" : "")
        + (terminated.getMessage() != null && !terminated.getMessage().isBlank()
            ? ": " + causeLine(terminated.getMessage()) : "");
    if (exitCode == ExitCodes.PIN_MISMATCH) {
      // The trainer found its inputs other than the job pins them: a retry would find the same files.
      return new AttemptState.Failed(AttemptState.FailureKind.NON_RETRYABLE, Reproducibility.PIN_MISMATCH,
          terminated.getMessage() != null && !terminated.getMessage().isBlank() ? causeLine(terminated.getMessage()) : detail,
          exitCode, name(culprit.get()));
    }
    if (nonRetryableExitCodes.contains(exitCode)) {
      return new AttemptState.Failed(AttemptState.FailureKind.NON_RETRYABLE, "NonRetryableExitCode", detail, exitCode,
          name(culprit.get()));
    }
    if (exitCode == ExitCodes.DIVERGED) {
      // The same data and settings diverge again from the same checkpoint.
      return new AttemptState.Failed(AttemptState.FailureKind.NON_RETRYABLE, "Diverged", detail, exitCode,
          name(culprit.get()));
    }
    if ("OOMKilled".equals(terminated.getReason())) {
      // Memory use repeats with the same model, batch and data: a retry would fail the same way.
      return new AttemptState.Failed(AttemptState.FailureKind.NON_RETRYABLE, "OOMKilled", "pod " + name(culprit.get())
          + " was killed for using more memory than " + memoryLimit(culprit.get()) + "; raise the stage's"
          + " resources.memory or lower its batch.microBatchSize, then retry with spec.restartNonce", exitCode,
          name(culprit.get()));
    }
    return new AttemptState.Failed(AttemptState.FailureKind.RETRYABLE, "PodFailed", detail, exitCode, name(culprit.get()));
  }

  /**
   * The pod a FailJob rule on {@code DisruptionTarget} failed the Job for, from the condition's
   * message ({@code Pod <namespace>/<name> has condition DisruptionTarget matching FailJob rule at index 0}).
   */
  static Optional<String> disruptedPodNamedByJob(JobCondition failed) {
    String message = failed.getMessage();
    String marker = " has condition " + FailurePolicies.DISRUPTION;
    if (!FailurePolicies.REASON.equals(failed.getReason()) || message == null || !message.startsWith("Pod ")
        || !message.contains(marker)) {
      return Optional.empty();
    }
    String pod = message.substring("Pod ".length(), message.indexOf(marker));
    return Optional.of(pod.substring(pod.indexOf('/') + 1));
  }

  /**
   * Why an attempt's pods wait, pod by pod: the scheduler's message (no node fits), or the
   * container's waiting reason (image pull, volume attach); pods not yet created count as missing.
   */
  static String whyWaiting(List<Pod> pods, int expected) {
    List<String> reasons = new java.util.ArrayList<>();
    for (Pod pod : pods) {
      if (pod.getStatus() != null && pod.getStatus().getPhase() != null && !"Pending".equals(pod.getStatus().getPhase())) {
        continue;
      }
      String why = "Pending";
      if (pod.getStatus() != null && pod.getStatus().getConditions() != null) {
        why = pod.getStatus().getConditions().stream()
            .filter(c -> "PodScheduled".equals(c.getType()) && "False".equals(c.getStatus()))
            .map(c -> orElse(c.getReason(), "Unschedulable") + (c.getMessage() != null ? ": " + c.getMessage() : ""))
            .findFirst().orElse(why);
      }
      if (pod.getStatus() != null && pod.getStatus().getContainerStatuses() != null) {
        why = pod.getStatus().getContainerStatuses().stream()
            .filter(c -> c.getState() != null && c.getState().getWaiting() != null)
            .map(c -> c.getState().getWaiting().getReason()
                + (c.getState().getWaiting().getMessage() != null ? ": " + c.getState().getWaiting().getMessage() : ""))
            .findFirst().orElse(why);
      }
      reasons.add("pod " + name(pod) + " " + why);
    }
    if (pods.size() < expected) {
      reasons.add((expected - pods.size()) + " of " + expected + " pods not created");
    }
    return reasons.isEmpty() ? "pods not running" : String.join("; ", reasons);
  }

  static boolean disrupted(Pod pod) {
    if (pod.getStatus() == null) {
      return false;
    }
    if (pod.getStatus().getReason() != null && DISRUPTION_REASONS.contains(pod.getStatus().getReason())) {
      return true;
    }
    List<PodCondition> conditions = pod.getStatus().getConditions();
    return conditions != null && conditions.stream()
        .anyMatch(c -> "DisruptionTarget".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** The JSON summary rank 0 wrote to its termination message, when it wrote one. */
  static Optional<TrainerSummary> summary(List<Pod> pods) {
    return summary(pods.stream().filter(p -> StageJobManifest.completionIndex(p) == 0).toList(), TrainerSummary.class);
  }

  /** The JSON summary of the first pod that exited 0 with one in its termination message. */
  static <T> Optional<T> summary(List<Pod> pods, Class<T> type) {
    return pods.stream()
        .map(AttemptObserver::terminated)
        .flatMap(Optional::stream)
        .filter(t -> t.getExitCode() != null && t.getExitCode() == 0 && t.getMessage() != null)
        .map(t -> parse(t.getMessage(), type))
        .flatMap(Optional::stream)
        .findFirst();
  }

  /** The JSON summary of each completion index whose pod exited 0 with one (one per index, though retried). */
  static <T> java.util.Map<Integer, T> summariesByIndex(List<Pod> pods, Class<T> type) {
    java.util.Map<Integer, T> byIndex = new java.util.TreeMap<>();
    for (Pod pod : pods) {
      terminated(pod)
          .filter(t -> t.getExitCode() != null && t.getExitCode() == 0 && t.getMessage() != null)
          .flatMap(t -> parse(t.getMessage(), type))
          .ifPresent(summary -> byIndex.putIfAbsent(StageJobManifest.completionIndex(pod), summary));
    }
    return byIndex;
  }

  private static <T> Optional<T> parse(String message, Class<T> type) {
    try {
      return Optional.of(JSON.readValue(message.strip(), type));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Optional<ContainerStateTerminated> terminated(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getContainerStatuses().stream()
        .map(ContainerStatus::getState)
        .filter(s -> s != null && s.getTerminated() != null)
        .map(s -> s.getTerminated())
        .findFirst();
  }

  static boolean hasCondition(Job job, String type) {
    return condition(job, type).isPresent();
  }

  private static Optional<JobCondition> condition(Job job, String type) {
    if (job.getStatus() == null || job.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return job.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus()))
        .findFirst();
  }

  private static String name(Pod pod) {
    return pod.getMetadata().getName();
  }

  private static String memoryLimit(Pod pod) {
    var limits = pod.getSpec() == null || pod.getSpec().getContainers().isEmpty()
        || pod.getSpec().getContainers().getFirst().getResources() == null ? null
        : pod.getSpec().getContainers().getFirst().getResources().getLimits();
    var memory = limits == null ? null : limits.get("memory");
    return memory == null ? "its node had (no memory limit set)" : "its limit of " + memory;
  }

  /**
   * The line that says what went wrong, from a termination message or a log's tail: the last line
   * that is not a stack frame ({@code at ...}, {@code ... 3 more}) nor blank.
   */
  static String causeLine(String text) {
    String[] lines = text.strip().split("\n");
    for (int i = lines.length - 1; i >= 0; i--) {
      String line = lines[i].stripTrailing();
      if (!line.isBlank() && !Character.isWhitespace(line.charAt(0)) && !line.startsWith("at ")) {
        return line;
      }
    }
    return lines[lines.length - 1].strip();
  }

  private static String orElse(String value, String fallback) {
    return value == null || value.isBlank() ? fallback : value;
  }
}
