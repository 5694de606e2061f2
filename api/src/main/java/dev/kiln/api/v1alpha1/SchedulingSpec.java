package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;

/** Admission: which queue, at which priority, and how long a stage may take to start or stall. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SchedulingSpec(
    @JsonPropertyDescription("The TrainingQueue (Builtin) or Kueue LocalQueue (Kueue) the stages wait in.") @Default("default") @Size(max = Bounds.LABEL) @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$") String queue,
    @Size(max = Bounds.NAME) @JsonPropertyDescription("A PriorityClass (scheduling.k8s.io) an administrator owns: its value orders the job in a Builtin queue (higher first, ties to the older job; the cluster's globalDefault class, or 0, when absent) and decides whom it may preempt; it is also the priority class of the stages' pods where their pod settings name none (Kueue reads it there). A job naming a class that does not exist waits until it does.")
    String priorityClassName,
    @Size(max = Bounds.NAME) @JsonPropertyDescription("Kueue mode: a Kueue WorkloadPriorityClass for the stages' Workloads (the kueue.x-k8s.io/priority-class label), ordering them in Kueue without changing the pods' priority.")
    String workloadPriorityClassName,
    @Default("Builtin") @JsonPropertyDescription("Builtin: Kiln's GPU-aware gang queue. Kueue: children carry kueue.x-k8s.io/queue-name.")
    Mode mode,
    @Default("1800") @Min(1) @JsonPropertyDescription("Seconds a stage's pods may take to all run.") Integer startupDeadlineSeconds,
    @Default("1800") @Min(1) @JsonPropertyDescription("Seconds without a training step before the stage is Stalled.") Integer progressDeadlineSeconds,
    @Default("300") @Min(1) @Max(86400) @JsonPropertyDescription("Seconds a stopped stage (preempted, evicted, drained) has to finish its step and write a checkpoint: the pods' terminationGracePeriodSeconds.")
    Integer stopGracePeriodSeconds,
    @Default("5") @Min(0) @Max(100) @JsonPropertyDescription("Times a stage attempt whose pods do not all start within startupDeadlineSeconds goes back to the queue, after 1, 2, 4 ... minutes (at most an hour), before the job fails as Unschedulable with the reason its pods waited.")
    Integer startupRetries) {

  public SchedulingSpec {
    queue = queue != null ? queue : "default";
    mode = mode != null ? mode : Mode.BUILTIN;
    startupDeadlineSeconds = startupDeadlineSeconds != null ? startupDeadlineSeconds : 1800;
    progressDeadlineSeconds = progressDeadlineSeconds != null ? progressDeadlineSeconds : 1800;
    stopGracePeriodSeconds = stopGracePeriodSeconds != null ? stopGracePeriodSeconds : 300;
    startupRetries = startupRetries != null ? startupRetries : 5;
  }

  /** Who admits the job. */
  public enum Mode {
    @JsonProperty("Builtin") BUILTIN,
    @JsonProperty("Kueue") KUEUE
  }
}
