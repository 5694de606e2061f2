package dev.kiln.operator.metrics;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueueStatus;
import dev.kiln.operator.admission.ClusterState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Kiln's Prometheus metrics (served at {@code /q/metrics} beside JOSDK's): jobs by phase, each
 * queue's depth and GPUs, reconcile time and errors, restarts, disruptions and every event reason,
 * and whether this replica leads. Gauges read the informer caches when scraped, so they cost no
 * request to the API server.
 */
@Singleton
public final class OperatorMetrics {

  /** Event reasons that mean a stage attempt failed and is retried (counted against maxRestarts). */
  static final Set<String> RESTART_REASONS = Set.of("AttemptFailed");
  /** Event reasons that mean an attempt was stopped through no fault of its own. */
  static final Set<String> DISRUPTION_REASONS = Set.of("AttemptDisrupted", "Preempted", "StartupDeadlineExceeded");

  private final MeterRegistry registry;
  private final Timer reconciles;
  private final Counter reconcileErrors;
  private final Counter restarts;
  private final Counter disruptions;
  /** True unless leader election runs and another replica holds the Lease. */
  private final AtomicBoolean leading = new AtomicBoolean(true);
  private final Set<String> queuesWatched = ConcurrentHashMap.newKeySet();
  private volatile ClusterState state;

  public OperatorMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.reconciles = Timer.builder("kiln.reconcile.duration")
        .description("Time one reconcile of a MultimodalPretrainJob takes")
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(30))
        .register(registry);
    this.reconcileErrors = Counter.builder("kiln.reconcile.errors")
        .description("Reconciles that ended in an exception (JOSDK retries them)").register(registry);
    this.restarts = Counter.builder("kiln.stage.restarts")
        .description("Stage attempts that failed and were restarted from the latest checkpoint").register(registry);
    this.disruptions = Counter.builder("kiln.stage.disruptions")
        .description("Stage attempts stopped by preemption, eviction or a startup deadline (not counted as restarts)")
        .register(registry);
    Gauge.builder("kiln.operator.leader", leading, l -> l.get() ? 1 : 0)
        .description("1 while this replica holds the leader Lease and reconciles, 0 on a standby").register(registry);
    for (JobPhase phase : JobPhase.values()) {
      Gauge.builder("kiln.jobs", this, m -> m.jobsIn(phase))
          .description("MultimodalPretrainJobs by phase").tag("phase", phase.name()).register(registry);
    }
  }

  /** The caches the gauges read. */
  public void readFrom(ClusterState clusterState) {
    this.state = clusterState;
  }

  public void reconciled(long nanos, boolean failed) {
    reconciles.record(Duration.ofNanos(nanos));
    if (failed) {
      reconcileErrors.increment();
    }
  }

  /** An event recorded on a job: counted by reason, and as a restart or disruption where it is one. */
  public void event(String type, String reason) {
    Counter.builder("kiln.job.events").description("Events the operator recorded on jobs, by type and reason")
        .tag("type", type).tag("reason", reason).register(registry).increment();
    if (RESTART_REASONS.contains(reason)) {
      restarts.increment();
    } else if (DISRUPTION_REASONS.contains(reason)) {
      disruptions.increment();
    }
  }

  public void leading(boolean isLeader) {
    leading.set(isLeader);
  }

  /** A queue whose status the operator writes: its gauges appear from now on. */
  public void queueSeen(String name) {
    if (queuesWatched.add(name)) {
      queueGauge(name, "kiln.queue.pending.jobs", "Jobs waiting in the queue", TrainingQueueStatus::getPendingCount);
      queueGauge(name, "kiln.queue.admitted.jobs", "Jobs admitted by the queue", TrainingQueueStatus::getAdmittedCount);
      queueGauge(name, "kiln.queue.gpus.in.use", "GPUs held by the queue's admitted stages",
          TrainingQueueStatus::getGpusInUse);
    }
  }

  private void queueGauge(String queue, String name, String description, Function<TrainingQueueStatus, Integer> field) {
    Gauge.builder(name, this, m -> m.queueValue(queue, field)).description(description).tag("queue", queue)
        .register(registry);
  }

  private double queueValue(String queue, Function<TrainingQueueStatus, Integer> field) {
    ClusterState current = state;
    if (current == null) {
      return Double.NaN;
    }
    return current.queue(queue).map(q -> q.getStatus() == null ? null : field.apply(q.getStatus()))
        .map(Integer::doubleValue).orElse(0.0);
  }

  private double jobsIn(JobPhase phase) {
    ClusterState current = state;
    if (current == null) {
      return 0;
    }
    long count = 0;
    for (MultimodalPretrainJob job : current.jobs()) {
      JobPhase actual = job.getStatus() == null || job.getStatus().getPhase() == null ? JobPhase.Pending
          : job.getStatus().getPhase();
      if (actual == phase) {
        count++;
      }
    }
    return count;
  }
}
