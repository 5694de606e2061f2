package dev.kiln.operator.lifecycle;

import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.sizing.MemoryFit;
import dev.kiln.api.v1alpha1.CheckpointsStatus;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import dev.kiln.operator.admission.Admission;
import dev.kiln.operator.manifests.CheckpointClaimManifest;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.Names;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Drives one MultimodalPretrainJob a step further, as a list of named steps: validate, apply a
 * restart request, ensure the working volume, suspend or resume, prepare data, run the current
 * stage (admit each attempt through the queue, observe, restart or promote), finish. It holds
 * no state between calls: all it knows comes from the job's status and the children it finds,
 * so a restarted operator picks up exactly where the last one stopped. Preparing the data, a
 * stage's attempts and its promotion each have a class of their own.
 */
public final class JobLifecycle {

  /** Annotation approving a Manual promotion gate: its value names the stage. */
  public static final String APPROVE_PROMOTION = "kiln.dev/approve-promotion";
  /** Safety-net requeue while work is in flight; child events normally trigger reconciles sooner. */
  static final Duration POLL = Duration.ofSeconds(30);
  /** Safety-net requeue of a job waiting in a queue: changes that can admit it wake it sooner. */
  static final Duration QUEUED_POLL = Duration.ofMinutes(2);

  /**
   * How soon to reconcile again after recording a failure that the next reconcile acts on: its own
   * status write may wake the operator first, but the Restarting stage must not wait for a poll.
   */
  static final Duration ACT_ON_RECORD = Duration.ofMillis(200);

  private final ChildResources children;
  private final EventRecorder events;
  private final Duration progressInterval;
  private final Clock clock;
  private final JobOutcomes outcomes;
  private final DataPreparation data;
  private final StageAttempts attempts;
  private final SpecValidations validations;

  public JobLifecycle(ChildResources children, EventRecorder events, Admission admission, ProgressReader progress,
      Duration progressInterval, OperatorSettings settings, Clock clock) {
    this(children, events, admission, progress, progressInterval, settings, clock, new SpecValidations());
  }

  /** As above, with the spec validations remembered across reconciles. */
  public JobLifecycle(ChildResources children, EventRecorder events, Admission admission, ProgressReader progress,
      Duration progressInterval, OperatorSettings settings, Clock clock, SpecValidations validations) {
    this.validations = validations;
    this.children = children;
    this.events = events;
    this.progressInterval = progressInterval;
    this.clock = clock;
    this.outcomes = new JobOutcomes(events, admission);
    this.data = new DataPreparation(children, events, settings, outcomes);
    this.attempts = new StageAttempts(children, events, admission, progress, progressInterval, settings, clock, outcomes,
        new Promotion(events, outcomes));
  }

  /** When to look again, if nothing happens before. */
  public record Outcome(Optional<Duration> requeueAfter, boolean statusWritten) {}

  /**
   * How soon to try again after the API server refused the operator a request: a missing RBAC
   * rule is fixed by an administrator, not by retrying at once.
   */
  static final Duration AFTER_REFUSAL = Duration.ofSeconds(30);

  /**
   * One reconcile: decide, act on children, write the status if it changed. A request the API
   * server refuses the operator (its RBAC lacks a rule, its token is not accepted) is not retried
   * blindly: the job says so, in its {@code Synced} condition and a Warning event naming the
   * request, and the next try comes after {@link #AFTER_REFUSAL}.
   */
  public Outcome reconcile(MultimodalPretrainJob job) {
    try {
      return decideAndAct(job);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 401 && e.getCode() != 403) {
        throw e;
      }
      return refused(job, e);
    }
  }

  private Outcome refused(MultimodalPretrainJob job, KubernetesClientException e) {
    String message = "the API server refused the operator: " + (e.getStatus() != null && e.getStatus().getMessage() != null
        ? e.getStatus().getMessage() : e.getMessage());
    String reason = e.getCode() == 403 ? "Forbidden" : "Unauthorized";
    JobStatusAggregator status = new JobStatusAggregator(job, clock);
    boolean known = status.current().getConditions().stream().anyMatch(c -> JobStatusAggregator.SYNCED.equals(c.getType())
        && "False".equals(c.getStatus()) && message.equals(c.getMessage()));
    if (!known) {
      events.warning(job, reason, message);
    }
    status.condition(JobStatusAggregator.SYNCED, false, reason, message);
    boolean write = status.changed();
    if (write) {
      job.setStatus(status.build());
      try {
        children.writeStatus(job);
      } catch (KubernetesClientException statusRefused) {
        write = false;  // the status write is refused too: the event and the operator's log say it
      }
    }
    return new Outcome(Optional.of(AFTER_REFUSAL), write);
  }

  private Outcome decideAndAct(MultimodalPretrainJob job) {
    JobStatusAggregator status = new JobStatusAggregator(job, clock);
    if (status.conditionIs(JobStatusAggregator.SYNCED, false)) {
      status.condition(JobStatusAggregator.SYNCED, true, "Reconciled", "");
    }
    Optional<Duration> requeue = Optional.of(POLL);
    if (status.current().getPhase().isFinished() && !restartRequested(job, status) && !specFixed(job, status)) {
      if (ttlExpired(job, status)) {
        children.delete(job);
        return new Outcome(Optional.empty(), false);
      }
      requeue = timeToLive(job, status);
    } else if (releaseGatedPods(job, status) == Next.CONTINUE
        && validate(job, status) == Next.CONTINUE
        && applyRestartRequest(job, status) == Next.CONTINUE
        && checkSharedClaims(job, status) == Next.CONTINUE
        && ensureWorkspace(job, status) == Next.CONTINUE
        && suspendOrResume(job, status) == Next.CONTINUE
        && data.prepareData(job, status) == Next.CONTINUE) {
      runStages(job, status);
      if (status.current().getPhase() == JobPhase.Training && progressInterval.compareTo(POLL) < 0) {
        requeue = Optional.of(progressInterval);  // look at the trainer's progress that often
      } else if (status.current().getPhase() == JobPhase.Queued) {
        requeue = Optional.of(QUEUED_POLL);  // woken at once when room may appear; this is the safety net
        if (status.conditionIs(JobStatusAggregator.ADMITTED, false, JobStatusAggregator.NAMESPACE_NOT_ADMITTED)
            || status.conditionIs(JobStatusAggregator.ADMITTED, false, JobStatusAggregator.PRIORITY_CLASS_NOT_FOUND)
            || status.conditionIs(JobStatusAggregator.ADMITTED, false, JobStatusAggregator.RUNTIME_CLASS_REFUSED)) {
          requeue = Optional.of(POLL);  // in no line, so nothing wakes it: a namespace labelled or a class made since is seen this soon
        }
        Optional<Duration> backoffLeft = attempts.wakeAt().map(at -> Duration.between(Instant.now(clock), at));
        if (backoffLeft.isPresent() && backoffLeft.get().compareTo(QUEUED_POLL) < 0) {
          requeue = Optional.of(backoffLeft.get().isNegative() ? Duration.ZERO : backoffLeft.get());
        }
      }
      if (attempts.recordedForNextReconcile()) {
        requeue = Optional.of(ACT_ON_RECORD);
      }
    }
    boolean write = status.changed();
    if (write) {
      job.setStatus(status.build());
      children.writeStatus(job);
    }
    return new Outcome(requeue, write);
  }

  private Next releaseGatedPods(MultimodalPretrainJob job, JobStatusAggregator status) {
    attempts.releaseGatedPods(job, status);
    return Next.CONTINUE;
  }

  // --- validate ------------------------------------------------------------------------------

  private Next validate(MultimodalPretrainJob job, JobStatusAggregator status) {
    List<Violation> violations = new ArrayList<>(validations.of(job));
    List<Violation> changes = violations.isEmpty() ? JobValidator.validateChange(job.getSpec(), status.current()) : List.of();
    violations.addAll(changes);
    if (violations.isEmpty()) {
      pinModel(job, status);
      status.condition(JobStatusAggregator.VALIDATED, true, "Valid", "");
      checkGpuMemory(job, status);
      if (status.current().getPhase() == JobPhase.Failed && "InvalidSpec".equals(status.current().getReason())) {
        status.current().setCompletionTime(null);
        status.condition(JobStatusAggregator.FAILED, false, "SpecFixed", "");
        status.phase(JobPhase.Pending, "SpecFixed", "the corrected spec is valid");
      }
      return Next.CONTINUE;
    }
    String message = violations.stream().map(Violation::toString).collect(Collectors.joining("; "));
    // An edit of what is pinned (the model, a started stage) is refused, not a reason to fail the job.
    boolean started = !changes.isEmpty() || status.current().getStages().stream().anyMatch(s -> s.getSpecHash() != null);
    if (!started) {
      status.condition(JobStatusAggregator.VALIDATED, false, "InvalidSpec", message);
      outcomes.fail(job, status, "InvalidSpec", message);
    } else if (!status.conditionIs(JobStatusAggregator.VALIDATED, false)) {
      // Running pods keep running on the spec they started with; nothing new starts until the edit is reverted.
      status.condition(JobStatusAggregator.VALIDATED, false, "SpecChangeRejected", message);
      events.warning(job, "SpecChangeRejected", message);
    }
    return Next.STOP;
  }

  /**
   * Warns, once per finding, when a GPU stage will not fit its GPUs' memory by the memory model: a
   * condition and an event with the numbers and what to change. Not a rejection: the model is an
   * estimate, and an administrator may know the GPUs better (kiln validate warns the same way).
   */
  private void checkGpuMemory(MultimodalPretrainJob job, JobStatusAggregator status) {
    List<MemoryFit.Finding> findings = MemoryFit.findings(job);
    String type = JobStatusAggregator.INSUFFICIENT_GPU_MEMORY;
    if (findings.isEmpty()) {
      if (status.current().getConditions().stream().anyMatch(c -> type.equals(c.getType()))) {
        status.condition(type, false, "Fits", "");
      }
      return;
    }
    String message = findings.stream().map(MemoryFit.Finding::message).collect(Collectors.joining("; "));
    boolean exceeds = findings.stream().anyMatch(MemoryFit.Finding::exceeds);
    boolean known = status.current().getConditions().stream()
        .anyMatch(c -> type.equals(c.getType()) && "True".equals(c.getStatus()) && message.equals(c.getMessage()));
    if (!known) {
      events.warning(job, exceeds ? "InsufficientGpuMemory" : "GpuMemoryUnknown", message);
    }
    status.condition(type, true, exceeds ? "ExceedsGpuMemory" : "GpuMemoryUnknown", message);
  }

  /**
   * Records the model's hash the first time the job is valid: the model is immutable from creation
   * (the CRD's transition rule), and this holds it so where an API server did not evaluate the rule.
   */
  private static void pinModel(MultimodalPretrainJob job, JobStatusAggregator status) {
    ReproducibilityStatus record = Reproducibility.record(status);
    if (record.getModelHash() == null) {
      record.setModelHash(Canonical.sha256(job.getSpec().model()));
    }
  }

  // --- restart request -----------------------------------------------------------------------

  /** A job rejected for its spec gets another look once the spec changes. */
  private static boolean specFixed(MultimodalPretrainJob job, JobStatusAggregator status) {
    return status.current().getPhase() == JobPhase.Failed && "InvalidSpec".equals(status.current().getReason())
        && !Objects.equals(job.getMetadata().getGeneration(), status.current().getObservedGeneration());
  }

  private static boolean restartRequested(MultimodalPretrainJob job, JobStatusAggregator status) {
    return status.current().getPhase() == JobPhase.Failed
        && !Objects.equals(job.getSpec().restartNonce(), status.current().getObservedRestartNonce());
  }

  private Next applyRestartRequest(MultimodalPretrainJob job, JobStatusAggregator status) {
    MultimodalPretrainJobStatus current = status.current();
    String nonce = job.getSpec().restartNonce();
    if (Objects.equals(nonce, current.getObservedRestartNonce())) {
      return Next.CONTINUE;
    }
    boolean fresh = current.getStages().isEmpty() && current.getDataPrep() == null;
    current.setObservedRestartNonce(nonce);
    if (fresh) {
      return Next.CONTINUE;
    }
    if (current.getPhase() == JobPhase.Failed) {
      retryFailedJob(job, status);
      return Next.CONTINUE;
    }
    StageStatus running = current.getStages().stream()
        .filter(s -> s.getPhase() == StagePhase.Running).findFirst().orElse(null);
    if (running != null) {
      Job previous = children.job(job.getMetadata().getNamespace(), running.getJobName());
      if (previous != null) {
        children.delete(previous);
      }
      running.setPhase(StagePhase.Restarting);
      events.normal(job, "RestartRequested", "restartNonce changed: stage " + running.getName()
          + " restarts as attempt " + (running.getAttempt() + 1) + " from its latest checkpoint");
    }
    return Next.CONTINUE;
  }

  private void retryFailedJob(MultimodalPretrainJob job, JobStatusAggregator status) {
    // Packed data that differed from the pins is prepared again from the inputs as they are now:
    // whichever was corrected, the inputs or the pins, the check then holds the new packing.
    boolean repackAll = Reproducibility.PIN_MISMATCH.equals(status.current().getReason())
        && status.current().getDataPrep() != null && "Failed".equals(status.current().getDataPrep().getPhase());
    List<Job> all = children.allJobs(job);
    // A failed packing step is packed again from its first: a later step cannot mend what an
    // earlier one left (too few parts, other settings), and the inputs may have been corrected.
    java.util.Set<String> repackStages = new java.util.HashSet<>();
    for (Job child : all) {
      if (AttemptObserver.hasCondition(child, "Failed") && Labels.PACK.equals(Labels.get(child, Labels.COMPONENT))) {
        repackStages.add(Labels.get(child, Labels.STAGE));
      }
    }
    for (Job child : all) {
      String component = Labels.get(child, Labels.COMPONENT);
      if (AttemptObserver.hasCondition(child, "Failed")
          || repackAll && (Labels.FILTER.equals(component) || Labels.PACK.equals(component))
          || Labels.PACK.equals(component) && repackStages.contains(Labels.get(child, Labels.STAGE))) {
        children.delete(child);
      }
    }
    if (repackAll) {
      status.condition(JobStatusAggregator.DATA_READY, false, "Repacking", "preparing the data again after a pin mismatch");
    }
    for (StageStatus stage : status.current().getStages()) {
      if (stage.getPhase() == StagePhase.Failed) {
        stage.setPhase(StagePhase.Pending);
        stage.setRestarts(0);
        stage.setStartupFailures(null);
        stage.setRequeueTime(null);
        if (stage.getLastFailure() != null && Integer.valueOf(ExitCodes.DATA).equals(stage.getLastFailure().getExitCode())) {
          data.repack(job, status, stage.getName());
        }
      }
    }
    if (status.current().getDataPrep() != null && "Failed".equals(status.current().getDataPrep().getPhase())) {
      status.current().getDataPrep().setPhase("Running");
    }
    status.current().setCompletionTime(null);
    status.condition(JobStatusAggregator.FAILED, false, "Retrying", "restartNonce changed");
    status.phase(JobPhase.Pending, "Retrying", "restartNonce changed; retrying from the latest checkpoint");
    events.normal(job, "Retrying", "restartNonce changed; retrying the failed job from its latest checkpoint");
  }

  // --- workspace -----------------------------------------------------------------------------

  private Next ensureWorkspace(MultimodalPretrainJob job, JobStatusAggregator status) {
    PersistentVolumeClaim claim = CheckpointClaimManifest.build(job);
    if (claim != null) {
      children.ensure(claim);
    }
    if (status.current().getCheckpoints() == null) {
      status.current().setCheckpoints(new CheckpointsStatus());
    }
    status.current().getCheckpoints().setClaimName(Names.checkpointClaim(job));
    return Next.CONTINUE;
  }

  /**
   * Before anything starts: a claim the user provides (data, initial weights) that a multi-node
   * stage mounts on every node must allow that (ReadOnlyMany or ReadWriteMany), or the second
   * node's pod would wait on a Multi-Attach error until the startup deadline. A claim that does not
   * exist yet is left to the pods' Pending reason.
   */
  private Next checkSharedClaims(MultimodalPretrainJob job, JobStatusAggregator status) {
    if (status.current().getPhase() != JobPhase.Pending) {
      return Next.CONTINUE;
    }
    List<StageSpec> stages = job.getSpec().stages();
    int multiNode = java.util.stream.IntStream.range(0, stages.size())
        .filter(i -> stages.get(i).resources().nodes() > 1).findFirst().orElse(-1);
    if (multiNode < 0) {
      return Next.CONTINUE;
    }
    Map<String, String> claims = new java.util.LinkedHashMap<>();
    claims.put("spec.data.claimName", job.getSpec().data().claimName());
    if (job.getSpec().model().initialWeights() != null) {
      claims.put("spec.model.initialWeights.claimName", job.getSpec().model().initialWeights().claimName());
    }
    for (var claim : claims.entrySet()) {
      Optional<List<String>> modes = children.claimAccessModes(job.getMetadata().getNamespace(), claim.getValue());
      if (modes.isPresent() && !modes.get().contains("ReadOnlyMany") && !modes.get().contains("ReadWriteMany")) {
        String message = claim.getKey() + ": claim " + claim.getValue() + " has access modes " + modes.get()
            + ", but spec.stages[" + multiNode + "] (" + stages.get(multiNode).name() + ") runs on "
            + stages.get(multiNode).resources().nodes() + " nodes that all mount it: use a ReadOnlyMany or "
            + "ReadWriteMany claim";
        status.condition(JobStatusAggregator.VALIDATED, false, "InvalidSpec", message);
        outcomes.fail(job, status, "InvalidSpec", message);
        return Next.STOP;
      }
    }
    return Next.CONTINUE;
  }

  // --- suspend -------------------------------------------------------------------------------

  private Next suspendOrResume(MultimodalPretrainJob job, JobStatusAggregator status) {
    boolean suspended = status.conditionIs(JobStatusAggregator.SUSPENDED, true);
    if (!job.getSpec().suspend()) {
      if (suspended) {
        status.condition(JobStatusAggregator.SUSPENDED, false, "Resumed", "");
        events.normal(job, "Resumed", "resuming from the latest checkpoint");
      }
      return Next.CONTINUE;
    }
    for (Job child : children.allJobs(job)) {
      if (!AttemptObserver.hasCondition(child, "Complete")) {
        children.delete(child);
      }
    }
    for (StageStatus stage : status.current().getStages()) {
      if (stage.getPhase() == StagePhase.Running || stage.getPhase() == StagePhase.Restarting) {
        stage.setPhase(StagePhase.Pending);
      }
    }
    outcomes.leaveQueue(job, status);
    if (!suspended) {
      events.normal(job, "Suspended", "running pods deleted; checkpoints kept");
    }
    status.condition(JobStatusAggregator.SUSPENDED, true, "SuspendedByUser", "spec.suspend is true");
    status.phase(JobPhase.Suspended, "SuspendedByUser", "spec.suspend is true; set it to false to resume");
    return Next.STOP;
  }

  // --- stages --------------------------------------------------------------------------------

  private void runStages(MultimodalPretrainJob job, JobStatusAggregator status) {
    List<StageSpec> stages = job.getSpec().stages();
    for (int index = 0; index < stages.size(); index++) {
      StageStatus stage = status.stage(stages.get(index).name());
      if (stage.getPhase() == StagePhase.Succeeded) {
        continue;
      }
      if (attempts.runStage(job, status, index) == Next.STOP) {
        return;
      }
    }
    outcomes.leaveQueue(job, status);
    status.condition(JobStatusAggregator.SUCCEEDED, true, "AllStagesComplete", stages.size() + " stages complete");
    status.phase(JobPhase.Succeeded, "AllStagesComplete", "all " + stages.size() + " stages complete");
    events.normal(job, "Succeeded", "all " + stages.size() + " stages complete");
  }

  // --- finish --------------------------------------------------------------------------------

  private boolean ttlExpired(MultimodalPretrainJob job, JobStatusAggregator status) {
    Optional<Duration> left = timeToLive(job, status);
    if (left.isPresent() && !left.get().isPositive()) {
      events.normal(job, "Expired", "deleted " + job.getSpec().ttlSecondsAfterFinished()
          + "s after it finished (ttlSecondsAfterFinished)");
      return true;
    }
    return false;
  }

  /** Time until ttlSecondsAfterFinished runs out, or empty when the job has none. */
  private Optional<Duration> timeToLive(MultimodalPretrainJob job, JobStatusAggregator status) {
    Integer ttl = job.getSpec().ttlSecondsAfterFinished();
    String completed = status.current().getCompletionTime();
    if (ttl == null || completed == null) {
      return Optional.empty();
    }
    return Optional.of(Duration.between(Instant.now(clock), Instant.parse(completed).plusSeconds(ttl)));
  }
}
