package dev.kiln.operator.lifecycle;

import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.runconfig.TrainerProgress;
import dev.kiln.api.v1alpha1.FailureStatus;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.QueueStatus;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.operator.admission.Admission;
import dev.kiln.operator.admission.BuiltinAdmission;
import dev.kiln.operator.admission.ClusterRoom;
import dev.kiln.operator.admission.KueueWorkloads;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.Names;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.manifests.RunConfigMapManifest;
import dev.kiln.operator.manifests.RunConfigs;
import dev.kiln.operator.manifests.StageJobManifest;
import dev.kiln.operator.manifests.StageServiceManifest;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Moves one stage forward through its attempts: each admitted through the queue (or Kueue) as a
 * gang, adopted when one is already there, watched for its startup deadline, preemption,
 * progress and stalls, and restarted from the latest checkpoint when it fails. Made anew with its
 * {@link JobLifecycle}, for one reconcile.
 */
final class StageAttempts {

  private static final Logger LOG = Logger.getLogger(StageAttempts.class);

  private final ChildResources children;
  private final EventRecorder events;
  private final Admission admission;
  private final ProgressReader progress;
  private final Duration progressInterval;
  private final OperatorSettings settings;
  private final Clock clock;
  private final JobOutcomes outcomes;
  private final Promotion promotion;
  /** Set when this reconcile recorded a failure whose attempt the next one replaces. */
  private boolean recordedForNextReconcile;
  /** Set when the stage is backing off after startup failures: when it may ask its queue again. */
  private Instant wakeAt;

  /** The job's failure reason once its stage's pods could not be started scheduling.startupRetries + 1 times. */
  static final String UNSCHEDULABLE = "Unschedulable";
  static final Duration STARTUP_BACKOFF_BASE = Duration.ofSeconds(60);
  static final Duration STARTUP_BACKOFF_MAX = Duration.ofHours(1);
  /**
   * How long an attempt may lack pods before the Job's events are read for why: the Job
   * controller creates them within moments, so sooner the answer is nearly always "none yet",
   * and every reconcile of a just-admitted gang would ask the API server for nothing.
   */
  static final Duration FAILED_CREATE_AFTER = Duration.ofSeconds(5);
  /**
   * How long after an attempt was stopped its pods still in the cache are looked up on the API
   * server instead: a cache that missed a pod's deletion must not hold the stage back for ever.
   */
  static final Duration STOPPING_RECHECK = Duration.ofSeconds(30);

  StageAttempts(ChildResources children, EventRecorder events, Admission admission, ProgressReader progress,
      Duration progressInterval, OperatorSettings settings, Clock clock, JobOutcomes outcomes, Promotion promotion) {
    this.children = children;
    this.events = events;
    this.admission = admission;
    this.progress = progress;
    this.progressInterval = progressInterval;
    this.settings = settings;
    this.clock = clock;
    this.outcomes = outcomes;
    this.promotion = promotion;
  }

  /** Whether this reconcile recorded a failure whose attempt the next one replaces, so the next should come soon. */
  boolean recordedForNextReconcile() {
    return recordedForNextReconcile;
  }

  /** Moves one stage forward; CONTINUE only once it has succeeded and been promoted. */
  Next runStage(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    status.current().setStage(spec.name());

    if (stage.getPhase() == StagePhase.Restarting) {
      retireRecordedAttempt(job, stage);
    }
    if (stage.getPhase() == null || stage.getPhase() == StagePhase.Pending || stage.getPhase() == StagePhase.Restarting) {
      if (backingOff(job, status, spec, stage)) {
        return Next.STOP;
      }
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
      if (job.getSpec().scheduling().mode() == SchedulingSpec.Mode.BUILTIN && Boolean.TRUE.equals(attempt.getSpec().getSuspend())) {
        return suspendedBySomeoneElse(job, status, attempt);
      }
      // Listed once per reconcile: the observation, the startup deadline and the progress read all use it.
      List<Pod> pods = children.attemptPods(job, spec.name(), stage.getAttempt());
      if (stage.getStartupFailures() != null && allStarted(pods, spec.resources().nodes())) {
        stage.setStartupFailures(null);  // however it goes on from here, this attempt started
      }
      AttemptState state = AttemptObserver.observe(attempt, pods, spec.nonRetryableExitCodes());
      switch (state) {
        case AttemptState.Running running -> {
          if (startupDeadlinePassed(job, stage, pods, index)) {
            return giveBackUnstarted(job, status, index, attempt, pods);
          }
          status.phase(JobPhase.Training, "Training", "stage " + spec.name() + " attempt " + stage.getAttempt()
              + waitingFor(attempt, pods, spec.resources().nodes(), stage.getAttemptStartTime()));
          Reproducibility.recordImageId(status, "trainer/" + spec.name(), StageJobManifest.CONTAINER, pods);
          observeProgress(job, status, index, attempt, pods);
          return Next.STOP;
        }
        case AttemptState.Failed failed -> {
          return handleFailure(job, status, index, attempt, failed);
        }
        case AttemptState.Succeeded succeeded -> promotion.finishStage(job, status, index, succeeded.summary());
      }
    }
    if (stage.getPhase() == StagePhase.AwaitingPromotion) {
      return promotion.promote(job, status, index);
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

  /** The names of the pods that have not stopped, sorted. */
  private static List<String> stoppingPods(List<Pod> pods) {
    return pods.stream().filter(p -> !ClusterRoom.terminal(p)).map(p -> p.getMetadata().getName()).sorted().toList();
  }

  /**
   * Whether the stage's pods have been stopping since before {@code instant}: its current attempt
   * was stopped then (its last failure, a preemption or a give-back), or one of the pods was
   * deleted then (a restart, a suspend, a Job deleted behind the operator's back).
   */
  private static boolean stoppingSince(StageStatus stage, List<Pod> pods, Instant instant) {
    FailureStatus last = stage.getLastFailure();
    if (last != null && Objects.equals(last.getAttempt(), stage.getAttempt()) && last.getTime() != null
        && Instant.parse(last.getTime()).isBefore(instant)) {
      return true;
    }
    // A deletion time this cannot read leaves it to the failure time.
    return pods.stream().map(p -> ChildResources.instantOrNull(p.getMetadata().getDeletionTimestamp()))
        .anyMatch(deleted -> deleted != null && deleted.isBefore(instant));
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
    List<Pod> cached = children.stagePods(job, spec.name());
    List<String> stopping = stoppingPods(cached);
    if (!stopping.isEmpty() && stoppingSince(status.stage(spec.name()), cached, Instant.now(clock).minus(STOPPING_RECHECK))) {
      // Long enough for a stopped pod to have gone: the API server, not the cache, says whether it has.
      List<String> onServer = stoppingPods(children.stagePodsOnServer(job, spec.name()));
      if (!onServer.equals(stopping)) {
        LOG.warnf("%s: the pod cache still holds %s, the API server %s", key(job), stopping, onServer);
      }
      stopping = onServer;
    }
    if (!stopping.isEmpty()) {
      status.phase(JobPhase.Training, "Stopping", "stage " + spec.name() + " attempt " + attempt
          + " waits for the pods of the last attempt to stop: " + String.join(", ", stopping));
      return false;
    }
    Admission.Decision admitted = admit(job, status, index);
    if (admitted == null) {
      return false;
    }
    // The informers may not have heard of an attempt this operator created moments ago: the API
    // server decides whether one is already there to adopt, and which number comes next.
    StageStatus stage = status.stage(spec.name());
    List<Job> onServer = children.attemptJobsOnServer(job, spec.name());
    for (Job existing : onServer) {
      if (adoptable(existing, adoptable)) {
        adopt(stage, existing);
        return true;
      }
      attempt = Math.max(attempt, attemptOf(existing) + 1);
    }
    // An attempt created but never recorded (its status write lost) that failed before it was
    // adopted would otherwise stay beside the new one: nothing of it runs (its pods stopped, above).
    for (Job leftover : onServer) {
      if (leftover.getMetadata().getDeletionTimestamp() == null) {
        children.delete(leftover);
      }
    }
    startAttempt(job, status, index, attempt, admitted.placement());
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
    countDisruption(status, stage, "Preempted", "preempted by " + preemptedBy + ", to make room for it");
    events.warning(job, "Preempted", "stage " + spec.name() + " attempt " + stage.getAttempt() + " preempted by "
        + preemptedBy + "; it checkpoints and resumes when admitted again (not counted against maxRestarts)");
    children.delete(attempt);
    stage.setPhase(StagePhase.Restarting);
    startWhenAdmitted(job, status, index, stage.getAttempt() + 1, stage.getAttempt() + 1);
    return Next.STOP;
  }

  /**
   * Gives each gated pod of every running attempt the node admission planned for its rank and
   * lifts Kiln's scheduling gate, so the scheduler binds it there and nowhere else: two gangs
   * admitted back to back cannot interleave. Done first in every reconcile, whatever stops it
   * later (a refused spec change): an admitted gang is never left gated holding its nodes. A pod
   * whose rank has no planned node (an attempt from before placements) is only ungated. An attempt
   * being deleted, or marked for preemption within the grace, keeps its gates: it is about to stop
   * (by its own reconcile, or its preemptor's after the grace), and pods released now would start
   * only to be stopped, holding their nodes from its preemptor until they had. Past the grace a
   * marked attempt still here (its reconcile stops early and its preemptor has gone) is released,
   * so that it is not left gated for good.
   */
  void releaseGatedPods(MultimodalPretrainJob job, JobStatusAggregator status) {
    for (StageStatus stage : status.current().getStages()) {
      if (stage.getPhase() != StagePhase.Running || stage.getJobName() == null) {
        continue;
      }
      Job attempt = children.job(job.getMetadata().getNamespace(), stage.getJobName());
      if (attempt == null || attempt.getMetadata().getDeletionTimestamp() != null || stopsWithinTheGrace(attempt)) {
        continue;
      }
      List<String> placement = StageJobManifest.placement(attempt);
      for (Pod pod : children.attemptPods(job, stage.getName(), stage.getAttempt())) {
        if (StageJobManifest.gated(pod) && pod.getMetadata().getDeletionTimestamp() == null) {
          int rank = StageJobManifest.completionIndex(pod);
          children.releaseGate(pod, rank < placement.size() ? placement.get(rank) : null);
        }
      }
    }
  }

  /**
   * While an attempt's pods are not all running: what each waits for (the scheduler, an image, a
   * volume) and, for pods still missing {@link #FAILED_CREATE_AFTER} after the attempt started
   * ({@code since}), why the Job controller could not create them.
   */
  private String waitingFor(Job attempt, List<Pod> pods, int expected, String since) {
    boolean allStarted = pods.size() >= expected && pods.stream().allMatch(p -> p.getStatus() != null
        && p.getStatus().getPhase() != null && !"Pending".equals(p.getStatus().getPhase()));
    if (allStarted) {
      return "";
    }
    boolean overdue = since == null || !Instant.now(clock).isBefore(Instant.parse(since).plus(FAILED_CREATE_AFTER));
    String missing = pods.size() < expected && overdue
        ? children.failedCreate(attempt).map(m -> " (" + m + ")").orElse("") : "";
    return ", waiting: " + AttemptObserver.whyWaiting(pods, expected) + missing;
  }

  private static boolean allStarted(List<Pod> pods, int expected) {
    return pods.stream().filter(p -> p.getStatus() != null && p.getStatus().getPhase() != null
        && !"Pending".equals(p.getStatus().getPhase())).count() >= expected;
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
    return !allStarted(pods, job.getSpec().stages().get(index).resources().nodes());
  }

  /**
   * Gives an attempt whose pods did not all start in time back to the queue (a disruption, not a
   * failure: nothing ran), naming the pods and why they wait, so its GPUs go to stages that can
   * run. The stage asks again after a backoff (as Kueue's waitForPodsReady requeues: 1, 2, 4 ...
   * minutes, at most an hour), and after scheduling.startupRetries give-backs in a row the job
   * fails as Unschedulable with the reason its pods waited, instead of holding its place forever.
   */
  private Next giveBackUnstarted(MultimodalPretrainJob job, JobStatusAggregator status, int index, Job attempt,
      List<Pod> pods) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    String waiting = AttemptObserver.whyWaiting(pods, spec.resources().nodes());
    int deadline = job.getSpec().scheduling().startupDeadlineSeconds();
    String message = "stage " + spec.name() + " attempt " + stage.getAttempt() + " did not start within "
        + deadline + "s (scheduling.startupDeadlineSeconds): " + waiting;
    countDisruption(status, stage, "StartupDeadlineExceeded", message);
    children.delete(attempt);
    int failures = (stage.getStartupFailures() == null ? 0 : stage.getStartupFailures()) + 1;
    stage.setStartupFailures(failures);
    int retries = job.getSpec().scheduling().startupRetries();
    if (failures > retries) {
      stage.setPhase(StagePhase.Failed);
      outcomes.fail(job, status, UNSCHEDULABLE, "stage " + spec.name() + ": pods did not all start within " + deadline
          + "s, " + failures + " times in a row (scheduling.startupRetries " + retries + "); last: " + waiting);
      return Next.STOP;
    }
    Duration backoff = startupBackoff(failures);
    stage.setRequeueTime(Instant.now(clock).plus(backoff).toString());
    stage.setPhase(StagePhase.Restarting);
    events.warning(job, "StartupDeadlineExceeded", message + "; back to the queue in " + backoff.toSeconds() + "s"
        + " (startup failure " + failures + " of " + retries + " allowed)");
    admission.forget(job);  // holds no place while it backs off: those behind it may start
    backOff(job, status, spec, stage);
    return Next.STOP;
  }

  /** Kueue's waitForPodsReady requeuing: 60 s doubled with each failure in a row, at most an hour. */
  static Duration startupBackoff(int failures) {
    long seconds = STARTUP_BACKOFF_BASE.toSeconds() << Math.min(failures - 1, 20);
    return Duration.ofSeconds(Math.min(seconds, STARTUP_BACKOFF_MAX.toSeconds()));
  }

  /** Whether the stage is waiting out a backoff before it asks its queue again; if so the job says until when. */
  private boolean backingOff(MultimodalPretrainJob job, JobStatusAggregator status, StageSpec spec, StageStatus stage) {
    if (stage.getRequeueTime() == null) {
      return false;
    }
    if (!Instant.now(clock).isBefore(Instant.parse(stage.getRequeueTime()))) {
      stage.setRequeueTime(null);
      return false;
    }
    backOff(job, status, spec, stage);
    return true;
  }

  private void backOff(MultimodalPretrainJob job, JobStatusAggregator status, StageSpec spec, StageStatus stage) {
    String queue = job.getSpec().scheduling().queue();
    String message = "stage " + spec.name() + " backs off after " + stage.getStartupFailures() + " startup failure(s)"
        + " in a row; it asks queue " + queue + " again at " + stage.getRequeueTime();
    status.current().setQueue(new QueueStatus(queue, null, message));
    status.condition(JobStatusAggregator.ADMITTED, false, "BackingOff", message);
    status.phase(JobPhase.Queued, "BackingOff", message);
    wakeAt = Instant.parse(stage.getRequeueTime());
  }

  /** When the stage's backoff ends, if this reconcile found it backing off: the next reconcile comes then. */
  Optional<Instant> wakeAt() {
    return Optional.ofNullable(wakeAt);
  }

  // --- admission -----------------------------------------------------------------------------

  /**
   * Asks the queue to admit the stage's next attempt as a gang: the decision when admitted, null
   * while it waits. While it waits the job is Queued with its place and the reason; when it must
   * make room, the attempts it preempts are marked (their own jobs stop them and record the disruption).
   */
  private Admission.Decision admit(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    Admission.Decision decision = admission.admit(job, index);
    QueueStatus before = status.current().getQueue();
    if (decision.refusal() != null) {
      status.current().setQueue(new QueueStatus(decision.queue(), null, decision.message()));
      if (!status.conditionIs(JobStatusAggregator.ADMITTED, false, decision.refusal())) {
        events.warning(job, decision.refusal(), decision.message());
      }
      status.condition(JobStatusAggregator.ADMITTED, false, decision.refusal(), decision.message());
      status.phase(JobPhase.Queued, decision.refusal(), decision.message());
      return null;
    }
    if (!decision.admitted()) {
      status.current().setQueue(new QueueStatus(decision.queue(), decision.position(), decision.message()));
      status.condition(JobStatusAggregator.ADMITTED, false, "Queued", decision.message());
      status.phase(JobPhase.Queued, "Queued", decision.message());
      // Said on entering the queue; the place as it moves is status.queue's to show (thousands of
      // waiting jobs moving up one place at every admission would be an event storm).
      if (before == null || before.position() == null || !Objects.equals(before.name(), decision.queue())) {
        events.normal(job, "Queued", (decision.position() != null ? "position " + decision.position() + " in queue "
            + decision.queue() + ": " : "") + decision.message());
      }
      for (Admission.Victim victim : decision.victims()) {
        switch (children.preempt(victim.namespace(), victim.attemptJob(), key(job), Instant.now(clock),
            BuiltinAdmission.PREEMPTION_GRACE)) {
          case MARKED -> events.normal(job, "Preempting", "stopping " + victim.attemptJob() + " of " + victim.owner()
              + " to make room (status.queue.reason says why it was chosen)");
          case STOPPED -> events.warning(job, "Preempting", "stopped " + victim.attemptJob() + " of " + victim.owner()
              + " itself: its job had not stopped it within " + BuiltinAdmission.PREEMPTION_GRACE.toSeconds() + "s");
          case ALREADY_MARKED, GONE -> { }
        }
      }
      return null;
    }
    status.current().setQueue(new QueueStatus(decision.queue(), null, decision.message()));
    if (job.getSpec().scheduling().mode() == SchedulingSpec.Mode.KUEUE) {
      // The Job is created suspended: Kueue, not Kiln, admits it.
      status.condition(JobStatusAggregator.ADMITTED, false, KueueWorkloads.WAITING, decision.message());
      return decision;
    }
    status.condition(JobStatusAggregator.ADMITTED, true, "Admitted", decision.message());
    events.normal(job, "Admitted", decision.message());
    return decision;
  }


  private static String key(MultimodalPretrainJob job) {
    return job.getMetadata().getNamespace() + "/" + job.getMetadata().getName();
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
    ChildResources.KueueWorkload workload = children.kueueWorkload(attempt);  // never throws: it only explains the wait
    String name = attempt.getMetadata().getName();
    if (admitted) {
      String because = workload.workload() == null ? "" : KueueWorkloads.evictedBecause(workload.workload());
      String message = "Kueue suspended Job " + name + " (" + (because.isEmpty() ? "preempted or evicted by Kueue" : because)
          + ")";
      countDisruption(status, stage, "Preempted", message);
      events.warning(job, "Preempted", message + "; its pods checkpoint on SIGTERM and the stage resumes"
          + " when Kueue admits it again (not counted against maxRestarts)");
    }
    KueueWorkloads.KueueWait wait = workload.workload() != null ? KueueWorkloads.of(workload.workload(), name, queue)
        : workload.unreadable() != null ? KueueWorkloads.unreadable(workload.unreadable(), name, queue)
        : KueueWorkloads.without(workload.served(), Duration.between(stage.getAttemptStartTime() == null
            ? Instant.now(clock) : Instant.parse(stage.getAttemptStartTime()), Instant.now(clock)), name, queue,
            job.getMetadata().getNamespace());
    if (wait.stalled() && !status.conditionIs(JobStatusAggregator.ADMITTED, false, wait.reason())) {
      events.warning(job, wait.reason(), wait.message());  // once: the wait needs a person
    }
    status.current().setQueue(new QueueStatus(queue, null, wait.message()));
    status.condition(JobStatusAggregator.ADMITTED, false, wait.reason(), wait.message());
    status.phase(JobPhase.Queued, wait.reason(), wait.message());
    return Next.STOP;
  }


  /**
   * A Builtin-mode attempt Job that is suspended: Kiln never suspends those, so another controller
   * did (Kueue's manageJobsWithoutQueueName, or its LocalQueue defaulting in a namespace with a
   * LocalQueue named "default"), and its pods will not start until that one lets them. Said, not waited on.
   */
  private Next suspendedBySomeoneElse(MultimodalPretrainJob job, JobStatusAggregator status, Job attempt) {
    String message = "Job " + attempt.getMetadata().getName() + " is suspended, and Kiln did not suspend it (scheduling.mode"
        + " Builtin): another controller manages it, most likely Kueue (manageJobsWithoutQueueName, or a LocalQueue"
        + " named default in namespace " + job.getMetadata().getNamespace() + "); keep Kueue off Kiln's Builtin jobs,"
        + " or use scheduling.mode: Kueue";
    if (!status.conditionIs(JobStatusAggregator.ADMITTED, false, JobStatusAggregator.SUSPENDED_EXTERNALLY)) {
      events.warning(job, JobStatusAggregator.SUSPENDED_EXTERNALLY, message);
    }
    status.condition(JobStatusAggregator.ADMITTED, false, JobStatusAggregator.SUSPENDED_EXTERNALLY, message);
    status.phase(JobPhase.Training, JobStatusAggregator.SUSPENDED_EXTERNALLY, message);
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
        .filter(p -> StageJobManifest.completionIndex(p) == 0 && p.getStatus() != null
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
    handleFailure(job, status, index, attempt, new AttemptState.Failed(AttemptState.FailureKind.RETRYABLE, "Stalled",
        message, null, null));
    events.warning(job, "Stalled", message + "; restarting from the latest checkpoint");
  }

  // --- starting and failing attempts ---------------------------------------------------------

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

  /** Marked for preemption less than {@link BuiltinAdmission#PREEMPTION_GRACE} ago (or at a time not written). */
  private boolean stopsWithinTheGrace(Job attempt) {
    if (preemptedBy(attempt) == null) {
      return false;
    }
    // An unreadable time counts as unwritten: the preemptor writes a readable one, and the grace counts from then.
    Instant at = ChildResources.instantOrNull(attempt.getMetadata().getAnnotations().get(BuiltinAdmission.PREEMPTED_AT));
    return at == null || Instant.now(clock).isBefore(at.plus(BuiltinAdmission.PREEMPTION_GRACE));
  }

  private static String preemptedBy(Job attempt) {
    var annotations = attempt.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(BuiltinAdmission.PREEMPTED_BY);
  }

  /** Creates attempt {@code attempt}: its run config, the stage's Service, and the Job, its ranks planned on {@code placement}. */
  private void startAttempt(MultimodalPretrainJob job, JobStatusAggregator status, int index, int attempt,
      List<String> placement) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    RunConfig config = RunConfigs.render(job, index, Promotion.initFromCheckpoint(job, status, spec), settings);
    children.ensureConfigMap(RunConfigMapManifest.build(job, config));
    children.ensure(StageServiceManifest.build(job, spec.name(), settings));
    Job created = children.ensure(StageJobManifest.placed(StageJobManifest.build(job, index, attempt, settings), placement));
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
        if (Reproducibility.PIN_MISMATCH.equals(failed.reason())) {
          status.condition(JobStatusAggregator.PINS_MATCHED, false, Reproducibility.PIN_MISMATCH, failed.message());
        }
        stage.setPhase(StagePhase.Failed);
        outcomes.fail(job, status, failed.reason(), "stage " + spec.name() + ": " + failed.message());
        return Next.STOP;
      }
      case RETRYABLE -> {
        stage.setRestarts(stage.getRestarts() + 1);
        status.countRestart();
        if (stage.getRestarts() > spec.maxRestarts()) {
          stage.setPhase(StagePhase.Failed);
          outcomes.fail(job, status, "MaxRestartsExceeded", "stage " + spec.name() + " failed " + stage.getRestarts()
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

  private void recordReproducibility(MultimodalPretrainJob job, JobStatusAggregator status) {
    ReproducibilityStatus record = Reproducibility.record(status);
    if (record.getConfigHash() == null) {
      record.setConfigHash(Canonical.sha256(job.getSpec()));
      record.setModelHash(Canonical.sha256(job.getSpec().model()));
    }
    for (StageSpec stage : job.getSpec().stages()) {
      record.getImages().put("trainer/" + stage.name(), settings.trainerImage(job, stage));
    }
    record.getImages().put("dataJobs", settings.dataJobsImage(job));
  }

  private static int attemptOf(Job job) {
    String attempt = Labels.get(job, Labels.ATTEMPT);
    return attempt == null ? 0 : Integer.parseInt(attempt);
  }
}
