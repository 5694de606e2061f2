package dev.kiln.operator;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.admission.BuiltinAdmission;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * Wakes jobs waiting in a queue (a JOSDK inbound event source) when room may have appeared: a
 * burst of changes (a Job and its pods going) is coalesced into one plan of the queues, which
 * wakes the jobs that can start now; the front of each queue is woken a little later to bring
 * positions up to date, so the first in line never waits behind the rest.
 */
final class QueueWakeups {

  private static final Logger LOG = Logger.getLogger(QueueWakeups.class);

  /** Changes closer together than this are planned for once. */
  static final Duration COALESCE = Duration.ofMillis(50);
  /** How soon after a change the positions of the jobs still waiting are brought up to date. */
  static final Duration POSITIONS_REFRESH = Duration.ofSeconds(2);
  /**
   * How many places at the front of each queue are brought up to date after every change; jobs
   * further back learn their new place at their next poll (2 minutes), so that one admission
   * does not cost a status write per waiting job.
   */
  static final int REFRESHED_POSITIONS = 50;

  private final SimpleInboundEventSource<MultimodalPretrainJob> source = new SimpleInboundEventSource<>("queue-wakeups");
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
    Thread thread = new Thread(runnable, "kiln-queue-wakeups");
    thread.setDaemon(true);
    return thread;
  });
  private final AtomicBoolean replanScheduled = new AtomicBoolean();
  private final AtomicBoolean refreshScheduled = new AtomicBoolean();
  /** Null while the operator is still being built: informers deliver their first events before it is. */
  private volatile BuiltinAdmission admission;

  /** The queues to plan from now on. */
  void attach(BuiltinAdmission queues) {
    this.admission = queues;
  }

  SimpleInboundEventSource<MultimodalPretrainJob> source() {
    return source;
  }

  /**
   * A job was deleted: its place and any GPUs reserved for it go at once (its reconcile will
   * not come again to give them back), then the queues are planned for what that freed.
   */
  void jobDeleted(MultimodalPretrainJob job) {
    BuiltinAdmission queues = admission;
    if (queues == null) {
      return;
    }
    timer.execute(() -> logFailure("forgetting a deleted job", () -> {
      queues.forget(job);
      roomMayHaveAppeared();
    }));
  }

  /** Something changed that may free GPUs. */
  void roomMayHaveAppeared() {
    BuiltinAdmission queues = admission;
    if (queues == null) {
      return;  // the first reconcile of every job comes anyway
    }
    if (replanScheduled.compareAndSet(false, true)) {
      timer.schedule(() -> {
        replanScheduled.set(false);
        logFailure("planning the queues", queues::replan);
      }, COALESCE.toMillis(), TimeUnit.MILLISECONDS);
    }
    if (refreshScheduled.compareAndSet(false, true)) {
      timer.schedule(() -> {
        refreshScheduled.set(false);
        logFailure("refreshing queue positions", () -> queues.frontOfQueues(REFRESHED_POSITIONS).forEach(this::wake));
      }, POSITIONS_REFRESH.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Runs a task of the timer, logging its failure: the executor would keep it in a future nobody
   * reads, and jobs that should have been woken would wait for their poll with no word why.
   */
  private static void logFailure(String what, Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      LOG.errorf(e, "%s failed; the jobs waiting are planned again at the next change or their next poll", what);
    }
  }

  /** Reconciles the job {@code namespace/name} soon. */
  void wake(String key) {
    int slash = key.indexOf('/');
    try {
      source.propagateEvent(new ResourceID(key.substring(slash + 1), key.substring(0, slash)));
    } catch (RuntimeException e) {
      // not started yet: the first reconcile of every job comes anyway
    }
  }
}
