package dev.kiln.operator.status;

import dev.kiln.api.Canonical;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.StageStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * The one place a job's status changes. It starts from the status last written, records the
 * reconcile's decisions, stamps transition times only when a condition flips, and says whether
 * anything changed so unchanged statuses are never written.
 */
public final class JobStatusAggregator {

  /** Condition types. Stage completion is {@code Stage<Name>Complete}, see {@link #stageCompleteType}. */
  public static final String VALIDATED = "Validated";
  public static final String ADMITTED = "Admitted";
  public static final String DATA_READY = "DataReady";
  public static final String PROMOTED = "Promoted";
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
  public static final String SUSPENDED = "Suspended";
  /**
   * The kstatus conventions GitOps tools read (Flux's health checks, {@code kubectl wait
   * --for=condition=Ready}, Argo CD through the chart's health script): {@code Ready} is True only
   * once every stage succeeded; {@code Reconciling} is True while work is in flight (a trainer
   * that stopped advancing and is being restarted included: it recovers without a person);
   * {@code Stalled} is True when the job cannot go on without a person: it failed, a spec change
   * was refused, the API server refuses the operator, its queue does not admit its namespace, or
   * another controller suspended its Builtin-mode Job. Derived from the phase and the other
   * conditions in {@link #build()}, never set on their own.
   */
  public static final String READY = "Ready";
  public static final String RECONCILING = "Reconciling";
  public static final String STALLED = "Stalled";
  /** The Admitted condition's reason when the job's queue does not admit its namespace: a person must act. */
  public static final String NAMESPACE_NOT_ADMITTED = "NamespaceNotAdmitted";
  /** The Admitted condition's reason when another controller (Kueue) suspended a Builtin-mode attempt Job. */
  public static final String SUSPENDED_EXTERNALLY = "SuspendedExternally";
  /** The Admitted condition's reason when the job names a PriorityClass that does not exist (a wait only a person ends). */
  public static final String PRIORITY_CLASS_NOT_FOUND = "PriorityClassNotFound";
  /** The Admitted condition's reason when the stage's pods would be refused by their RuntimeClass (missing, or conflicting). */
  public static final String RUNTIME_CLASS_REFUSED = "RuntimeClassRefused";
  /** Kueue mode, a wait only a person ends: Kueue cannot admit (a LocalQueue or ClusterQueue missing, inactive or stopped). */
  public static final String KUEUE_INADMISSIBLE = "KueueInadmissible";
  /** Kueue mode: the Workload is deactivated (by a person, or by Kueue after too many requeues). */
  public static final String KUEUE_DEACTIVATED = "KueueDeactivated";
  /** Kueue mode: no Workload API (Kueue not installed), or no Workload for the Job after a grace. */
  public static final String KUEUE_NOT_MANAGING = "KueueNotManaging";
  /**
   * False while the API server refuses the operator what it needs for this job (RBAC), with the
   * refused request as the message; True again once a reconcile gets through. Absent until then.
   */
  public static final String SYNCED = "Synced";
  /**
   * True while a GPU stage needs more memory per GPU than its GPUs have by the memory model, or
   * its GPUs' memory is unknown, with the numbers and what to change; False once it fits. Absent
   * for a job that always fitted. A warning: the job runs anyway.
   */
  public static final String INSUFFICIENT_GPU_MEMORY = "InsufficientGpuMemory";
  /**
   * For a job with {@code spec.reproduce}: True once its packed data and tokenizer are the pinned
   * ones, False (and the job Failed) with each difference when they are not. Absent without pins.
   */
  public static final String PINS_MATCHED = "PinsMatched";

  private final MultimodalPretrainJobStatus status;
  private final String original;
  private final long generation;
  private final Clock clock;

  public JobStatusAggregator(MultimodalPretrainJob job, Clock clock) {
    MultimodalPretrainJobStatus current = job.getStatus() != null ? job.getStatus() : new MultimodalPretrainJobStatus();
    this.original = Canonical.json(current);
    this.status = copy(current);
    this.generation = job.getMetadata().getGeneration() == null ? 0 : job.getMetadata().getGeneration();
    this.clock = clock;
    if (status.getPhase() == null) {
      status.setPhase(JobPhase.Pending);
      status.setStartTime(now());
    }
    if (status.getRestarts() == null) {
      status.setRestarts(0);
    }
  }

  /** Read-only view of the status being built. */
  public MultimodalPretrainJobStatus current() {
    return status;
  }

  public void phase(JobPhase phase, String reason, String message) {
    status.setPhase(phase);
    status.setReason(reason);
    status.setMessage(message);
    if (phase.isFinished() && status.getCompletionTime() == null) {
      status.setCompletionTime(now());
    }
  }

  /** Sets a condition; its transition time moves only when its status flips. */
  public void condition(String type, boolean value, String reason, String message) {
    String wanted = value ? "True" : "False";
    Condition existing = status.getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    String transition = existing != null && wanted.equals(existing.getStatus()) ? existing.getLastTransitionTime() : now();
    Condition updated = new ConditionBuilder()
        .withType(type)
        .withStatus(wanted)
        .withReason(reason)
        .withMessage(message == null ? "" : message)
        .withObservedGeneration(generation)
        .withLastTransitionTime(transition)
        .build();
    if (existing != null) {
      status.getConditions().set(status.getConditions().indexOf(existing), updated);
    } else {
      status.getConditions().add(updated);
    }
  }

  public boolean conditionIs(String type, boolean value) {
    return conditionIs(type, value, null);
  }

  /** The condition has this value and, unless {@code reason} is null, this reason. */
  public boolean conditionIs(String type, boolean value, String reason) {
    return find(type, value ? "True" : "False", reason) != null;
  }

  /** The stage's status entry, created in spec order on first use. */
  public StageStatus stage(String name) {
    for (StageStatus stage : status.getStages()) {
      if (name.equals(stage.getName())) {
        return stage;
      }
    }
    StageStatus stage = new StageStatus();
    stage.setName(name);
    stage.setAttempt(0);
    stage.setRestarts(0);
    stage.setDisruptions(0);
    status.getStages().add(stage);
    return stage;
  }

  public void countRestart() {
    status.setRestarts(status.getRestarts() + 1);
  }

  /** Status with observedGeneration stamped and the health conditions derived. */
  public MultimodalPretrainJobStatus build() {
    status.setObservedGeneration(generation);
    deriveHealth();
    return status;
  }

  /** {@link #READY}, {@link #RECONCILING} and {@link #STALLED} from the phase and what blocks it; see docs/how-to/gitops.md. */
  private void deriveHealth() {
    JobPhase phase = status.getPhase();
    String reason = status.getReason() != null ? status.getReason() : phase.name();
    String message = status.getMessage();
    Condition blocker = find(VALIDATED, "False", "SpecChangeRejected");
    if (blocker == null) {
      blocker = find(SYNCED, "False", null);
    }
    if (blocker == null && phase == JobPhase.Queued) {
      blocker = Stream.of(NAMESPACE_NOT_ADMITTED, PRIORITY_CLASS_NOT_FOUND, RUNTIME_CLASS_REFUSED, KUEUE_INADMISSIBLE,
          KUEUE_DEACTIVATED, KUEUE_NOT_MANAGING).map(refusal -> find(ADMITTED, "False", refusal)).filter(Objects::nonNull)
          .findFirst().orElse(null);  // waits that only a person ends
    }
    if (blocker == null && phase == JobPhase.Training) {
      blocker = find(ADMITTED, "False", SUSPENDED_EXTERNALLY);
    }
    boolean stalled = phase == JobPhase.Failed || blocker != null;
    if (phase == JobPhase.Failed) {
      condition(STALLED, true, reason, message);
    } else if (blocker != null) {
      condition(STALLED, true, blocker.getReason(), blocker.getMessage());
    } else {
      condition(STALLED, false, reason, "");
    }
    boolean inFlight = !stalled && !phase.isFinished() && phase != JobPhase.Suspended;
    condition(RECONCILING, inFlight, reason, inFlight ? message : "");
    condition(READY, phase == JobPhase.Succeeded, reason, message);
  }

  private Condition find(String type, String value, String reason) {
    return status.getConditions().stream()
        .filter(c -> type.equals(c.getType()) && value.equals(c.getStatus()) && (reason == null || reason.equals(c.getReason())))
        .findFirst().orElse(null);
  }

  /** Whether {@link #build()} differs from the status the job had. */
  public boolean changed() {
    return !original.equals(Canonical.json(build()));
  }

  public String now() {
    return Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** {@code Stage<Name>Complete}, with the stage name in CamelCase: sft-mammoth becomes StageSftMammothComplete. */
  public static String stageCompleteType(String stage) {
    StringBuilder camel = new StringBuilder("Stage");
    for (String part : stage.split("-")) {
      if (!part.isEmpty()) {
        camel.append(part.substring(0, 1).toUpperCase(Locale.ROOT)).append(part.substring(1));
      }
    }
    return camel.append("Complete").toString();
  }

  private static MultimodalPretrainJobStatus copy(MultimodalPretrainJobStatus status) {
    return Canonical.copy(status, MultimodalPretrainJobStatus.class);
  }
}
