package dev.kiln.operator.lifecycle;

import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.runconfig.TrainerProgress;
import dev.kiln.api.runconfig.TrainerSummary;
import dev.kiln.api.sizing.MemoryFit;
import dev.kiln.api.v1alpha1.CheckpointRef;
import dev.kiln.api.v1alpha1.CheckpointsStatus;
import dev.kiln.api.v1alpha1.DataPrepStatus;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.FailureStatus;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.PromotionSpec;
import dev.kiln.api.v1alpha1.QueueStatus;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import dev.kiln.operator.admission.Admission;
import dev.kiln.operator.admission.BuiltinAdmission;
import dev.kiln.operator.admission.ClusterRoom;
import dev.kiln.operator.manifests.CheckpointClaimManifest;
import dev.kiln.operator.manifests.FilterJobManifest;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.Names;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.manifests.PackJobManifest;
import dev.kiln.operator.manifests.RunConfigMapManifest;
import dev.kiln.operator.manifests.RunConfigs;
import dev.kiln.operator.manifests.SampleDataJobManifest;
import dev.kiln.operator.manifests.StageJobManifest;
import dev.kiln.operator.manifests.StageServiceManifest;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Drives one MultimodalPretrainJob a step further, as a list of named steps: validate, apply a
 * restart request, ensure the working volume, suspend or resume, prepare data, run the current
 * stage (admit each attempt through the queue, observe, restart or promote), finish. It holds
 * no state between calls: all it knows comes from the job's status and the children it finds,
 * so a restarted operator picks up exactly where the last one stopped.
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
  private final Admission admission;
  private final ProgressReader progress;
  private final Duration progressInterval;
  private final OperatorSettings settings;
  private final Clock clock;
  /** Set when this reconcile recorded a failure whose attempt the next one replaces. */
  private boolean recordedForNextReconcile;

  public JobLifecycle(ChildResources children, EventRecorder events, Admission admission, ProgressReader progress,
      Duration progressInterval, OperatorSettings settings, Clock clock) {
    this.children = children;
    this.events = events;
    this.admission = admission;
    this.progress = progress;
    this.progressInterval = progressInterval;
    this.settings = settings;
    this.clock = clock;
  }

  /** When to look again, if nothing happens before. */
  public record Outcome(Optional<Duration> requeueAfter, boolean statusWritten) {}

  private enum Next { CONTINUE, STOP }

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
    } else if (validate(job, status) == Next.CONTINUE
        && applyRestartRequest(job, status) == Next.CONTINUE
        && checkSharedClaims(job, status) == Next.CONTINUE
        && ensureWorkspace(job, status) == Next.CONTINUE
        && suspendOrResume(job, status) == Next.CONTINUE
        && prepareData(job, status) == Next.CONTINUE) {
      runStages(job, status);
      if (status.current().getPhase() == JobPhase.Training && progressInterval.compareTo(POLL) < 0) {
        requeue = Optional.of(progressInterval);  // look at the trainer's progress that often
      } else if (status.current().getPhase() == JobPhase.Queued) {
        requeue = Optional.of(QUEUED_POLL);  // woken at once when room may appear; this is the safety net
      }
      if (recordedForNextReconcile) {
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

  // --- validate ------------------------------------------------------------------------------

  private Next validate(MultimodalPretrainJob job, JobStatusAggregator status) {
    List<Violation> violations = new ArrayList<>(JobValidator.validate(job));
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
      fail(job, status, "InvalidSpec", message);
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
      int index = stageIndex(job, running.getName());
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

  /**
   * The trainer found a stage's packed data unusable (exit 65: missing, damaged, or ids beyond the
   * vocabulary): a retry packs it again, from the filtered data, before the stage restarts.
   */
  private void repack(MultimodalPretrainJob job, JobStatusAggregator status, String stage) {
    Job pack = children.job(job.getMetadata().getNamespace(), Names.packJob(job, stage));
    if (pack != null) {
      children.delete(pack);
    }
    if (status.current().getDataPrep() != null) {
      status.current().getDataPrep().setPhase("Running");
      status.current().getDataPrep().setCompletionTime(null);
    }
    status.condition(JobStatusAggregator.DATA_READY, false, "Repacking", "stage " + stage
        + "'s packed data was unusable; packing it again");
    events.normal(job, "Repacking", "stage " + stage + "'s packed data was unusable (exit " + ExitCodes.DATA
        + "); packing it again before the stage restarts");
  }

  private void retryFailedJob(MultimodalPretrainJob job, JobStatusAggregator status) {
    for (Job child : children.allJobs(job)) {
      if (AttemptObserver.hasCondition(child, "Failed")) {
        children.delete(child);
      }
    }
    for (StageStatus stage : status.current().getStages()) {
      if (stage.getPhase() == StagePhase.Failed) {
        stage.setPhase(StagePhase.Pending);
        stage.setRestarts(0);
        if (stage.getLastFailure() != null && Integer.valueOf(ExitCodes.DATA).equals(stage.getLastFailure().getExitCode())) {
          repack(job, status, stage.getName());
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
        fail(job, status, "InvalidSpec", message);
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
    leaveQueue(job, status);
    if (!suspended) {
      events.normal(job, "Suspended", "running pods deleted; checkpoints kept");
    }
    status.condition(JobStatusAggregator.SUSPENDED, true, "SuspendedByUser", "spec.suspend is true");
    status.phase(JobPhase.Suspended, "SuspendedByUser", "spec.suspend is true; set it to false to resume");
    return Next.STOP;
  }

  // --- admission -----------------------------------------------------------------------------

  /**
   * Asks the queue to admit the stage's next attempt as a gang. While it waits the job is Queued
   * with its place and the reason; when it must make room, the attempts it preempts are marked
   * (their own jobs stop them and record the disruption).
   */
  private Next admit(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    Admission.Decision decision = admission.admit(job, index);
    QueueStatus before = status.current().getQueue();
    if (!decision.admitted()) {
      status.current().setQueue(new QueueStatus(decision.queue(), decision.position(), decision.message()));
      status.condition(JobStatusAggregator.ADMITTED, false, "Queued", decision.message());
      status.phase(JobPhase.Queued, "Queued", decision.message());
      if (before == null || before.position() == null || !Objects.equals(before.position(), decision.position())) {
        events.normal(job, "Queued", (decision.position() != null ? "position " + decision.position() + " in queue "
            + decision.queue() + ": " : "") + decision.message());
      }
      for (Admission.Victim victim : decision.victims()) {
        if (children.markPreempted(victim.namespace(), victim.attemptJob(), key(job))) {
          events.normal(job, "Preempting", "stopping " + victim.attemptJob() + " of " + victim.owner()
              + " (lower priority) to make room");
        }
      }
      return Next.STOP;
    }
    status.current().setQueue(new QueueStatus(decision.queue(), null, decision.message()));
    if (job.getSpec().scheduling().mode() == SchedulingSpec.Mode.KUEUE) {
      // The Job is created suspended: Kueue, not Kiln, admits it.
      status.condition(JobStatusAggregator.ADMITTED, false, "WaitingForKueue", decision.message());
      return Next.CONTINUE;
    }
    status.condition(JobStatusAggregator.ADMITTED, true, "Admitted", decision.message());
    events.normal(job, "Admitted", decision.message());
    return Next.CONTINUE;
  }

  /** A finished or suspended job waits for nothing: it keeps the queue's name, not a place in it. */
  private void leaveQueue(MultimodalPretrainJob job, JobStatusAggregator status) {
    admission.forget(job);
    QueueStatus queue = status.current().getQueue();
    if (queue != null && queue.position() != null) {
      status.current().setQueue(new QueueStatus(queue.name(), null, null));
    }
  }

  private static String key(MultimodalPretrainJob job) {
    return job.getMetadata().getNamespace() + "/" + job.getMetadata().getName();
  }

  // --- data preparation ----------------------------------------------------------------------

  private Next prepareData(MultimodalPretrainJob job, JobStatusAggregator status) {
    if (status.conditionIs(JobStatusAggregator.DATA_READY, true)) {
      return Next.CONTINUE;
    }
    DataPrepStatus prep = status.current().getDataPrep();
    if (prep == null) {
      prep = new DataPrepStatus();
      prep.setPhase("Running");
      prep.setStartTime(status.now());
      status.current().setDataPrep(prep);
      events.normal(job, "DataPrepStarted", "filtering " + filteredSources(job).size() + " sources, then packing "
          + job.getSpec().stages().size() + " stages");
    }
    status.phase(JobPhase.DataPrep, "DataPrep", "filtering and packing data");

    Optional<String> sample = SampleDataJobManifest.requested(job);
    if (sample.isPresent()) {
      List<Job> writer = List.of(children.ensure(SampleDataJobManifest.build(job, sample.get(), settings)));
      if (!allComplete(writer)) {
        // Only while it writes: a claim of the user's is not in the caches, and asking costs a request.
        children.ensure(SampleDataJobManifest.dataClaim(job));
      }
      if (failIfAnyFailed(job, status, writer) || !allComplete(writer)) {
        status.phase(JobPhase.DataPrep, "DataPrep", "writing the " + sample.get() + " sample data into claim "
            + job.getSpec().data().claimName());
        return Next.STOP;
      }
    }

    List<Job> filters = new ArrayList<>();
    for (DataSourceSpec source : filteredSources(job)) {
      filters.add(children.ensure(FilterJobManifest.build(job, source, settings)));
    }
    prep.setFilterJobs(filters.stream().map(j -> j.getMetadata().getName()).toList());
    if (failIfAnyFailed(job, status, filters) || !allComplete(filters)) {
      return Next.STOP;
    }

    List<Job> packs = new ArrayList<>();
    for (StageSpec stage : job.getSpec().stages()) {
      packs.add(children.ensure(PackJobManifest.build(job, stage, settings)));
    }
    prep.setPackJobs(packs.stream().map(j -> j.getMetadata().getName()).toList());
    if (failIfAnyFailed(job, status, packs) || !allComplete(packs)) {
      return Next.STOP;
    }

    prep.setPhase("Succeeded");
    prep.setCompletionTime(status.now());
    status.condition(JobStatusAggregator.DATA_READY, true, "Packed",
        packs.size() + " stages packed from " + filters.size() + " filtered sources");
    events.normal(job, "DataReady", "packed data ready for " + packs.size() + " stages");
    return Next.CONTINUE;
  }

  /** Sources that need a filter Job: those with a filter that some stage uses. */
  private static List<DataSourceSpec> filteredSources(MultimodalPretrainJob job) {
    Set<String> used = new LinkedHashSet<>();
    job.getSpec().stages().forEach(s -> used.addAll(s.sources()));
    return job.getSpec().data().sources().stream()
        .filter(s -> s.filter() != null && used.contains(s.name()))
        .toList();
  }

  private boolean failIfAnyFailed(MultimodalPretrainJob job, JobStatusAggregator status, List<Job> jobs) {
    for (Job child : jobs) {
      if (AttemptObserver.hasCondition(child, "Failed")) {
        status.current().getDataPrep().setPhase("Failed");
        // The cause itself, from the failing pod's last words (its termination message, or its log's tail).
        String cause = AttemptObserver.observe(child, children.podsOf(job, child), List.of())
            instanceof AttemptState.Failed failed ? failed.message() : "see its pods' logs";
        fail(job, status, "DataPrepFailed", "Job " + child.getMetadata().getName() + " failed: " + cause);
        return true;
      }
    }
    return false;
  }

  private static boolean allComplete(List<Job> jobs) {
    return jobs.stream().allMatch(j -> AttemptObserver.hasCondition(j, "Complete"));
  }

  // --- stages --------------------------------------------------------------------------------

  private void runStages(MultimodalPretrainJob job, JobStatusAggregator status) {
    List<StageSpec> stages = job.getSpec().stages();
    for (int index = 0; index < stages.size(); index++) {
      StageStatus stage = status.stage(stages.get(index).name());
      if (stage.getPhase() == StagePhase.Succeeded) {
        continue;
      }
      if (runStage(job, status, index) == Next.STOP) {
        return;
      }
    }
    leaveQueue(job, status);
    status.condition(JobStatusAggregator.SUCCEEDED, true, "AllStagesComplete", stages.size() + " stages complete");
    status.phase(JobPhase.Succeeded, "AllStagesComplete", "all " + stages.size() + " stages complete");
    events.normal(job, "Succeeded", "all " + stages.size() + " stages complete");
  }

  /** Moves one stage forward; CONTINUE only once it has succeeded and been promoted. */
  private Next runStage(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    status.current().setStage(spec.name());

    if (stage.getPhase() == StagePhase.Restarting) {
      retireRecordedAttempt(job, stage);
    }
    if (stage.getPhase() == null || stage.getPhase() == StagePhase.Pending || stage.getPhase() == StagePhase.Restarting) {
      if (adoptOrStart(job, status, index) == Next.STOP) {
        return Next.STOP;
      }
    }
    if (stage.getPhase() == StagePhase.Running) {
      Job attempt = children.job(job.getMetadata().getNamespace(), stage.getJobName());
      if (attempt == null) {
        // Deleted behind our back (or by a suspend we did not see complete): start over from the checkpoint,
        // an attempt the API server still has being adopted rather than started again.
        stage.setPhase(StagePhase.Pending);
        return adoptOrStart(job, status, index);
      }
      String preemptedBy = preemptedBy(attempt);
      if (preemptedBy != null && !AttemptObserver.hasCondition(attempt, "Complete")) {
        return yieldToPreemption(job, status, index, attempt, preemptedBy);
      }
      if (job.getSpec().scheduling().mode() == SchedulingSpec.Mode.KUEUE && followKueue(job, status, index, attempt)
          == Next.STOP) {
        return Next.STOP;
      }
      // Listed once per reconcile: the observation, the startup deadline and the progress read all use it.
      List<Pod> pods = children.attemptPods(job, spec.name(), stage.getAttempt());
      AttemptState state = AttemptObserver.observe(attempt, pods, spec.nonRetryableExitCodes());
      switch (state) {
        case AttemptState.Running running -> {
          if (startupDeadlinePassed(job, stage, pods, index)) {
            return giveBackUnstarted(job, status, index, attempt, pods);
          }
          status.phase(JobPhase.Training, "Training", "stage " + spec.name() + " attempt " + stage.getAttempt()
              + waitingFor(attempt, pods, spec.resources().nodes()));
          observeProgress(job, status, index, attempt, pods);
          return Next.STOP;
        }
        case AttemptState.Failed failed -> {
          return handleFailure(job, status, index, attempt, failed);
        }
        case AttemptState.Succeeded succeeded -> finishStage(job, status, index, succeeded.summary());
      }
    }
    if (stage.getPhase() == StagePhase.AwaitingPromotion) {
      return promote(job, status, index);
    }
    return stage.getPhase() == StagePhase.Succeeded ? Next.CONTINUE : Next.STOP;
  }

  /** Adopts an attempt a previous operator left running, or starts the next attempt. */
  private Next adoptOrStart(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    Job newest = children.attemptJobs(job, spec.name()).stream()
        .max((a, b) -> Integer.compare(attemptOf(a), attemptOf(b))).orElse(null);
    // A Restarting stage's own attempt failed or was given up: only a later one may be adopted.
    int adoptable = stage.getPhase() == StagePhase.Restarting ? stage.getAttempt() + 1 : stage.getAttempt();
    if (newest != null && adoptable(newest, adoptable)) {
      adopt(stage, newest);
      return Next.CONTINUE;
    }
    int next = Math.max(stage.getAttempt(), newest == null ? 0 : attemptOf(newest)) + 1;
    if (startWhenAdmitted(job, status, index, next, adoptable)) {
      status.phase(JobPhase.Training, "Training", "stage " + spec.name() + " attempt " + next);
    }
    return Next.STOP;
  }

  /** An attempt Job numbered {@code from} or later that is still live: neither failed, deleted nor preempted. */
  private static boolean adoptable(Job attempt, int from) {
    return attemptOf(attempt) >= from && !AttemptObserver.hasCondition(attempt, "Failed")
        && attempt.getMetadata().getDeletionTimestamp() == null && preemptedBy(attempt) == null;
  }

  /** Makes {@code attempt} the stage's running attempt. */
  private static void adopt(StageStatus stage, Job attempt) {
    stage.setAttempt(attemptOf(attempt));
    stage.setJobName(attempt.getMetadata().getName());
    stage.setPhase(StagePhase.Running);
  }

  /**
   * Starts attempt {@code attempt} once the pods of earlier attempts have stopped (a stopped
   * trainer may still be writing its checkpoint) and the queue admits it; true when it started, or
   * when the API server already holds a live attempt numbered {@code adoptable} or later, which is
   * adopted instead.
   */
  private boolean startWhenAdmitted(MultimodalPretrainJob job, JobStatusAggregator status, int index, int attempt,
      int adoptable) {
    StageSpec spec = job.getSpec().stages().get(index);
    List<String> stopping = children.stagePods(job, spec.name()).stream()
        .filter(p -> !ClusterRoom.terminal(p))
        .map(p -> p.getMetadata().getName())
        .toList();
    if (!stopping.isEmpty()) {
      status.phase(JobPhase.Training, "Stopping", "stage " + spec.name() + " attempt " + attempt
          + " waits for the pods of the last attempt to stop: " + String.join(", ", stopping));
      return false;
    }
    if (admit(job, status, index) == Next.STOP) {
      return false;
    }
    // The informers may not have heard of an attempt this operator created moments ago: the API
    // server decides whether one is already there to adopt, and which number comes next.
    StageStatus stage = status.stage(spec.name());
    for (Job existing : children.attemptJobsOnServer(job, spec.name())) {
      if (adoptable(existing, adoptable)) {
        adopt(stage, existing);
        return true;
      }
      attempt = Math.max(attempt, attemptOf(existing) + 1);
    }
    startAttempt(job, status, index, attempt);
    return true;
  }

  /**
   * A running attempt marked for preemption: stopped (SIGTERM, so it checkpoints the step it is
   * on), counted as a disruption, and queued again to resume from that checkpoint.
   */
  private Next yieldToPreemption(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt,
      String preemptedBy) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    countDisruption(status, stage, "Preempted", "preempted by " + preemptedBy + " (higher priority)");
    events.warning(job, "Preempted", "stage " + spec.name() + " attempt " + stage.getAttempt() + " preempted by "
        + preemptedBy + "; it checkpoints and resumes when admitted again (not counted against maxRestarts)");
    children.delete(attempt);
    stage.setPhase(StagePhase.Restarting);
    startWhenAdmitted(job, status, index, stage.getAttempt() + 1, stage.getAttempt() + 1);
    return Next.STOP;
  }

  /**
   * While an attempt's pods are not all running: what each waits for (the scheduler, an image, a
   * volume) and, for pods that do not exist, why the Job controller could not create them.
   */
  private String waitingFor(Job attempt, List<Pod> pods, int expected) {
    boolean allStarted = pods.size() >= expected && pods.stream().allMatch(p -> p.getStatus() != null
        && p.getStatus().getPhase() != null && !"Pending".equals(p.getStatus().getPhase()));
    if (allStarted) {
      return "";
    }
    String missing = pods.size() < expected ? children.failedCreate(attempt).map(m -> " (" + m + ")").orElse("") : "";
    return ", waiting: " + AttemptObserver.whyWaiting(pods, expected) + missing;
  }

  /** The attempt's pods have not all started within scheduling.startupDeadlineSeconds of its creation. */
  private boolean startupDeadlinePassed(MultimodalPretrainJob job, StageStatus stage, List<Pod> pods, int index) {
    if (stage.getAttemptStartTime() == null) {
      return false;
    }
    Instant deadline = Instant.parse(stage.getAttemptStartTime())
        .plusSeconds(job.getSpec().scheduling().startupDeadlineSeconds());
    if (Instant.now(clock).isBefore(deadline)) {
      return false;
    }
    long started = pods.stream().filter(p -> p.getStatus() != null && p.getStatus().getPhase() != null
        && !"Pending".equals(p.getStatus().getPhase())).count();
    return started < job.getSpec().stages().get(index).resources().nodes();
  }

  /**
   * Gives an attempt whose pods did not all start in time back to the queue (a disruption, not a
   * failure: nothing ran), naming the pods and why they wait, so its GPUs go to stages that can run.
   */
  private Next giveBackUnstarted(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt,
      List<Pod> pods) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    String waiting = AttemptObserver.whyWaiting(pods, spec.resources().nodes());
    String message = "stage " + spec.name() + " attempt " + stage.getAttempt() + " did not start within "
        + job.getSpec().scheduling().startupDeadlineSeconds() + "s (scheduling.startupDeadlineSeconds): " + waiting;
    countDisruption(status, stage, "StartupDeadlineExceeded", message);
    events.warning(job, "StartupDeadlineExceeded", message + "; back to the queue");
    children.delete(attempt);
    stage.setPhase(StagePhase.Restarting);
    startWhenAdmitted(job, status, index, stage.getAttempt() + 1, stage.getAttempt() + 1);
    return Next.STOP;
  }

  // --- Kueue ---------------------------------------------------------------------------------

  /**
   * In Kueue mode Kueue admits each stage Job by lifting its {@code suspend}, and preempts it by
   * setting it again (the Job controller then stops the pods, which checkpoint on SIGTERM). A
   * suspended attempt is Queued; one suspended after it was admitted is a disruption, not a
   * restart, and resumes in the same Job when Kueue admits it again.
   */
  private Next followKueue(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    String queue = job.getSpec().scheduling().queue();
    boolean admitted = status.conditionIs(JobStatusAggregator.ADMITTED, true);
    if (!Boolean.TRUE.equals(attempt.getSpec().getSuspend())) {
      if (!admitted) {
        String message = "Kueue admitted Job " + attempt.getMetadata().getName() + " (LocalQueue " + queue + ")";
        status.current().setQueue(new QueueStatus(queue, null, message));
        status.condition(JobStatusAggregator.ADMITTED, true, "AdmittedByKueue", message);
        stage.setAttemptStartTime(status.now());  // deadlines count from admission, not from the wait
        events.normal(job, "Admitted", message);
      }
      return Next.CONTINUE;
    }
    if (admitted) {
      String message = "Kueue suspended Job " + attempt.getMetadata().getName() + " (preempted or evicted by Kueue)";
      countDisruption(status, stage, "Preempted", message);
      events.warning(job, "Preempted", message + "; its pods checkpoint on SIGTERM and the stage resumes"
          + " when Kueue admits it again (not counted against maxRestarts)");
    }
    String message = "waiting for Kueue to admit Job " + attempt.getMetadata().getName() + " (LocalQueue " + queue + ")";
    status.current().setQueue(new QueueStatus(queue, null, message));
    status.condition(JobStatusAggregator.ADMITTED, false, "WaitingForKueue", message);
    status.phase(JobPhase.Queued, "WaitingForKueue", message);
    return Next.STOP;
  }

  // --- progress and stalls -------------------------------------------------------------------

  /**
   * Reads rank 0's progress into status while the stage trains, and restarts an attempt whose
   * trainer answers but has not advanced a step within scheduling.progressDeadlineSeconds
   * (counted as a restart: a hang is the attempt's own failure). A trainer that does not answer
   * is never called stalled: only what it reports is evidence.
   */
  private void observeProgress(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt,
      List<Pod> pods) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    var rankZero = pods.stream()
        .filter(p -> AttemptObserver.completionIndex(p) == 0 && p.getStatus() != null
            && "Running".equals(p.getStatus().getPhase()))
        .findFirst();
    var read = rankZero.flatMap(progress::read);
    if (read.isEmpty()) {
      return;
    }
    TrainerProgress reported = read.get();
    ProgressStatus current = status.current().getProgress();
    Instant now = Instant.now(clock);
    boolean sameAttempt = current != null && spec.name().equals(current.getStage())
        && Objects.equals(stage.getAttempt(), current.getAttempt()) && current.getStep() != null;
    if (reported.step() > 0 && (!sameAttempt || reported.step() > current.getStep())) {
      // Written at most about once per interval, so that many training jobs do not flood the API server.
      if (!sameAttempt || current.getUpdateTime() == null
          || !now.isBefore(Instant.parse(current.getUpdateTime()).plus(progressInterval.multipliedBy(4).dividedBy(5)))) {
        status.current().setProgress(progressOf(spec.name(), stage.getAttempt(), reported, status.now()));
      }
      if (status.conditionIs(JobStatusAggregator.STALLED, true)) {
        status.condition(JobStatusAggregator.STALLED, false, "Progressing", "training steps advance again");
      }
      return;
    }
    String since = sameAttempt && current.getUpdateTime() != null ? current.getUpdateTime() : stage.getAttemptStartTime();
    int deadline = job.getSpec().scheduling().progressDeadlineSeconds();
    if (since != null && now.isAfter(Instant.parse(since).plusSeconds(deadline))) {
      stall(job, status, index, attempt, "stage " + spec.name() + " attempt " + stage.getAttempt()
          + ": no training step for more than " + deadline + "s (scheduling.progressDeadlineSeconds); rank 0 reports step "
          + reported.step() + " of " + reported.totalSteps());
    }
  }

  private static ProgressStatus progressOf(String stage, Integer attempt, TrainerProgress reported, String now) {
    ProgressStatus progress = new ProgressStatus();
    progress.setStage(stage);
    progress.setAttempt(attempt);
    progress.setStep(reported.step());
    progress.setTotalSteps(reported.totalSteps());
    progress.setTokens(reported.tokens());
    progress.setLoss(reported.loss());
    // Rounded for kubectl; Math.round would turn an infinite rate into Long.MAX_VALUE.
    progress.setTokensPerSecond(reported.tokensPerSecond() == null || !Double.isFinite(reported.tokensPerSecond())
        ? null : (double) Math.round(reported.tokensPerSecond()));
    progress.setEtaSeconds(reported.etaSeconds());
    progress.setDisplay(stage + " " + reported.step() + "/" + reported.totalSteps()
        + (reported.loss() != null && !Double.isFinite(reported.loss()) ? " loss " + reported.loss() : ""));
    progress.setUpdateTime(now);
    return progress;
  }

  private void stall(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt, String message) {
    status.condition(JobStatusAggregator.STALLED, true, "NoProgress", message);
    handleFailure(job, status, index, attempt, new AttemptState.Failed(AttemptState.FailureKind.RETRYABLE, "Stalled",
        message, null, null));
    events.warning(job, "Stalled", message + "; restarting from the latest checkpoint");
  }

  /** A stop that is not the attempt's fault (preemption, a gang that could not start): counted apart from restarts. */
  private static void countDisruption(JobStatusAggregator status, StageStatus stage, String reason, String message) {
    FailureStatus failure = new FailureStatus();
    failure.setReason(reason);
    failure.setMessage(message);
    failure.setAttempt(stage.getAttempt());
    failure.setTime(status.now());
    stage.setLastFailure(failure);
    stage.setDisruptions(stage.getDisruptions() + 1);
  }

  private static String preemptedBy(Job attempt) {
    var annotations = attempt.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(BuiltinAdmission.PREEMPTED_BY);
  }

  /** Creates attempt {@code attempt}: its run config, the stage's Service, and the Job. */
  private void startAttempt(MultimodalPretrainJob job, JobStatusAggregator status, int index, int attempt) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    RunConfig config = RunConfigs.render(job, index, initFromCheckpoint(job, status, spec), settings);
    children.ensureConfigMap(RunConfigMapManifest.build(job, config));
    children.ensure(StageServiceManifest.build(job, spec.name(), settings));
    Job created = children.ensure(StageJobManifest.build(job, index, attempt, settings));
    if (stage.getSpecHash() == null) {
      stage.setSpecHash(JobValidator.stageHash(spec));
      stage.setStartTime(status.now());
      recordReproducibility(job, status);
      events.normal(job, "StageStarted", "stage " + spec.name() + " started on " + spec.resources().nodes() + " node(s) x "
          + spec.resources().gpusPerNode() + " GPU(s)");
    }
    stage.setAttempt(attempt);
    stage.setAttemptStartTime(status.now());
    stage.setJobName(created.getMetadata().getName());
    stage.setConfigMapName(Names.runConfig(job, spec.name()));
    stage.setServiceName(Names.stageService(job, spec.name()));
    stage.setPhase(StagePhase.Running);
    if (attempt > 1) {
      events.normal(job, "AttemptStarted", "stage " + spec.name() + " attempt " + attempt
          + " resumes from the latest checkpoint");
    }
  }

  private Next handleFailure(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt,
      AttemptState.Failed failed) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    FailureStatus failure = new FailureStatus();
    failure.setReason(failed.reason());
    failure.setMessage(failed.message());
    failure.setExitCode(failed.exitCode());
    failure.setAttempt(stage.getAttempt());
    failure.setPod(failed.pod());
    failure.setTime(status.now());
    stage.setLastFailure(failure);

    switch (failed.kind()) {
      case DISRUPTED -> {
        stage.setDisruptions(stage.getDisruptions() + 1);
        events.warning(job, "AttemptDisrupted", "stage " + spec.name() + " attempt " + stage.getAttempt() + ": "
            + failed.message() + "; not counted against maxRestarts");
      }
      case NON_RETRYABLE -> {
        stage.setPhase(StagePhase.Failed);
        fail(job, status, failed.reason(), "stage " + spec.name() + ": " + failed.message());
        return Next.STOP;
      }
      case RETRYABLE -> {
        stage.setRestarts(stage.getRestarts() + 1);
        status.countRestart();
        if (stage.getRestarts() > spec.maxRestarts()) {
          stage.setPhase(StagePhase.Failed);
          fail(job, status, "MaxRestartsExceeded", "stage " + spec.name() + " failed " + stage.getRestarts()
              + " times (maxRestarts " + spec.maxRestarts() + "); last: " + failed.message());
          return Next.STOP;
        }
        events.warning(job, "AttemptFailed", "stage " + spec.name() + " attempt " + stage.getAttempt() + ": "
            + failed.message() + " (restart " + stage.getRestarts() + " of " + spec.maxRestarts() + ")");
      }
    }
    // Decided and recorded first; the attempt is replaced on the next reconcile, once this status is
    // stored: were the write lost to a conflict, the replacement would otherwise be adopted uncounted.
    stage.setPhase(StagePhase.Restarting);
    status.phase(JobPhase.Training, "Restarting", "stage " + spec.name() + " attempt " + stage.getAttempt()
        + " failed (" + failed.reason() + "); the next attempt resumes from the latest checkpoint");
    recordedForNextReconcile = true;
    return Next.STOP;
  }

  /** A Restarting stage's failed attempt, recorded in the stored status by an earlier reconcile, goes now. */
  private void retireRecordedAttempt(MultimodalPretrainJob job, StageStatus stage) {
    if (stage.getJobName() == null) {
      return;
    }
    Job recorded = children.job(job.getMetadata().getNamespace(), stage.getJobName());
    if (recorded != null && attemptOf(recorded) == stage.getAttempt() && recorded.getMetadata().getDeletionTimestamp() == null) {
      children.delete(recorded);
    }
  }

  private void finishStage(MultimodalPretrainJob job, JobStatusAggregator status, int index, TrainerSummary summary) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    CheckpointRef checkpoint = new CheckpointRef();
    checkpoint.setStage(spec.name());
    if (summary != null) {
      checkpoint.setStep(summary.step());
      checkpoint.setPath(summary.checkpoint());
      checkpoint.setManifestSha256(summary.manifestSha256());
      ProgressStatus progress = new ProgressStatus();
      progress.setStage(spec.name());
      progress.setAttempt(stage.getAttempt());
      progress.setTotalSteps(summary.step());
      progress.setEtaSeconds(0L);
      progress.setStep(summary.step());
      progress.setTokens(summary.tokens());
      progress.setLoss(summary.loss());
      progress.setDisplay(spec.name() + " done" + (summary.step() != null ? " @" + summary.step() : ""));
      progress.setUpdateTime(status.now());
      status.current().setProgress(progress);
    }
    if (checkpoint.getPath() == null) {
      checkpoint.setPath(PodPaths.checkpoints(spec.name()) + "/latest");
    }
    stage.setFinalCheckpoint(checkpoint);
    stage.setCompletionTime(status.now());
    status.current().getCheckpoints().setLatest(checkpoint);
    stage.setPhase(StagePhase.AwaitingPromotion);
    status.condition(JobStatusAggregator.stageCompleteType(spec.name()), true, "AttemptSucceeded",
        "final checkpoint " + checkpoint.getPath());
    events.normal(job, "StageComplete", "stage " + spec.name() + " complete; final checkpoint " + checkpoint.getPath());
  }

  private Next promote(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    CheckpointRef checkpoint = stage.getFinalCheckpoint();
    PromotionSpec gate = spec.promotion();
    if (gate.minStep() != null && (checkpoint.getStep() == null || checkpoint.getStep() < gate.minStep())) {
      stage.setPhase(StagePhase.Failed);
      fail(job, status, "PromotionGateFailed", "stage " + spec.name() + " ended at step " + checkpoint.getStep()
          + ", before promotion.minStep " + gate.minStep());
      return Next.STOP;
    }
    Double loss = status.current().getProgress() != null ? status.current().getProgress().getLoss() : null;
    if (gate.maxLoss() != null && (loss == null || loss > gate.maxLoss())) {
      stage.setPhase(StagePhase.Failed);
      fail(job, status, "PromotionGateFailed", "stage " + spec.name() + " final loss " + loss
          + " is above promotion.maxLoss " + gate.maxLoss());
      return Next.STOP;
    }
    if (gate.mode() == PromotionSpec.Mode.MANUAL && !gate.approved() && !approvedByAnnotation(job, spec.name())) {
      status.condition(JobStatusAggregator.PROMOTED, false, "AwaitingApproval",
          "stage " + spec.name() + " waits for promotion.approved: true or annotation " + APPROVE_PROMOTION + "="
              + spec.name());
      if (status.current().getPhase() != JobPhase.AwaitingPromotion) {
        events.normal(job, "AwaitingPromotion", "stage " + spec.name() + " complete; approve to promote");
      }
      status.phase(JobPhase.AwaitingPromotion, "AwaitingApproval", "approve stage " + spec.name() + " to continue");
      return Next.STOP;
    }
    stage.setPhase(StagePhase.Succeeded);
    status.current().getCheckpoints().setPromoted(checkpoint);
    status.condition(JobStatusAggregator.PROMOTED, true, "Promoted",
        "stage " + spec.name() + " promoted: " + checkpoint.getPath());
    events.normal(job, "Promoted", "stage " + spec.name() + " promoted: " + checkpoint.getPath());
    return Next.CONTINUE;
  }

  private static boolean approvedByAnnotation(MultimodalPretrainJob job, String stage) {
    Map<String, String> annotations = job.getMetadata().getAnnotations();
    return annotations != null && stage.equals(annotations.get(APPROVE_PROMOTION));
  }

  /** The promoted checkpoint of the stage named by initFrom; null for a stage that starts fresh. */
  private static String initFromCheckpoint(MultimodalPretrainJob job, JobStatusAggregator status, StageSpec spec) {
    if (spec.initFrom() == null) {
      return null;
    }
    CheckpointRef promoted = status.stage(spec.initFrom()).getFinalCheckpoint();
    return promoted != null ? promoted.getPath() : PodPaths.checkpoints(spec.initFrom()) + "/latest";
  }

  /**
   * Records the model's hash the first time the job is valid: the model is immutable from creation
   * (the CRD's transition rule), and this holds it so where an API server did not evaluate the rule.
   */
  private static void pinModel(MultimodalPretrainJob job, JobStatusAggregator status) {
    ReproducibilityStatus record = reproducibility(status);
    if (record.getModelHash() == null) {
      record.setModelHash(Canonical.sha256(job.getSpec().model()));
    }
  }

  private static ReproducibilityStatus reproducibility(JobStatusAggregator status) {
    ReproducibilityStatus record = status.current().getReproducibility();
    if (record == null) {
      record = new ReproducibilityStatus();
      status.current().setReproducibility(record);
    }
    return record;
  }

  private void recordReproducibility(MultimodalPretrainJob job, JobStatusAggregator status) {
    ReproducibilityStatus record = reproducibility(status);
    if (record.getConfigHash() == null) {
      record.setConfigHash(Canonical.sha256(job.getSpec()));
      record.setModelHash(Canonical.sha256(job.getSpec().model()));
    }
    for (StageSpec stage : job.getSpec().stages()) {
      record.getImages().put("trainer/" + stage.name(), settings.trainerImage(job, stage));
    }
    record.getImages().put("dataJobs", settings.dataJobsImage(job));
  }

  // --- finish --------------------------------------------------------------------------------

  private void fail(MultimodalPretrainJob job, JobStatusAggregator status, String reason, String message) {
    leaveQueue(job, status);
    status.condition(JobStatusAggregator.FAILED, true, reason, message);
    status.phase(JobPhase.Failed, reason, message);
    events.warning(job, reason, message);
  }

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

  private static int stageIndex(MultimodalPretrainJob job, String name) {
    for (int i = 0; i < job.getSpec().stages().size(); i++) {
      if (job.getSpec().stages().get(i).name().equals(name)) {
        return i;
      }
    }
    throw new IllegalStateException("no stage " + name);
  }

  private static int attemptOf(Job job) {
    String attempt = job.getMetadata().getLabels() == null ? null : job.getMetadata().getLabels().get(Labels.ATTEMPT);
    return attempt == null ? 0 : Integer.parseInt(attempt);
  }
}
