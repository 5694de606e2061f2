package dev.kiln.operator.lifecycle;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.jboss.logging.Logger;

/**
 * Kubernetes Events on the job for each transition (kubectl describe mpj shows them). The operator
 * writes them in the background, as client-go's event recorder does: a reconcile never waits for
 * an event, and when {@link #MAX_QUEUED} are waiting a new one is dropped and logged, not queued.
 */
public final class EventRecorder {

  /** Events waiting to be written before new ones are dropped: client-go's {@code maxQueuedEvents}. */
  static final int MAX_QUEUED = 1000;

  private static final Logger LOG = Logger.getLogger(EventRecorder.class);
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private final KubernetesClient client;
  private final Clock clock;
  private final BiConsumer<String, String> recorded;
  private final Executor writer;

  /** Writes each event before it returns. */
  public EventRecorder(KubernetesClient client, Clock clock) {
    this(client, clock, (type, reason) -> {}, Runnable::run);
  }

  /**
   * {@code recorded} hears the type and reason of every event (the operator counts them);
   * {@code writer} runs each write, one at a time and in order.
   */
  EventRecorder(KubernetesClient client, Clock clock, BiConsumer<String, String> recorded, Executor writer) {
    this.client = client;
    this.clock = clock;
    this.recorded = recorded;
    this.writer = writer;
  }

  /** Writes events on one daemon thread of its own; {@code recorded} hears the type and reason of each. */
  public static EventRecorder inBackground(KubernetesClient client, Clock clock, BiConsumer<String, String> recorded) {
    return new EventRecorder(client, clock, recorded, writerThread(MAX_QUEUED));
  }

  /**
   * One daemon thread that runs at most {@code queued} waiting tasks and drops any more, logging
   * the first drop and every hundredth (a thousand jobs created at once drop hundreds).
   */
  static ThreadPoolExecutor writerThread(int queued) {
    AtomicLong dropped = new AtomicLong();
    ThreadPoolExecutor writer = new ThreadPoolExecutor(1, 1, 1, TimeUnit.MINUTES, new ArrayBlockingQueue<>(queued),
        task -> {
          Thread thread = new Thread(task, "kiln-events");
          thread.setDaemon(true);
          return thread;
        },
        (task, pool) -> {
          long count = dropped.incrementAndGet();
          if (count == 1 || count % 100 == 0) {
            LOG.errorf("%d event(s) not recorded so far: %d were already waiting to be written", count, queued);
          }
        });
    writer.allowCoreThreadTimeOut(true);  // an idle recorder holds no thread
    return writer;
  }

  public void normal(MultimodalPretrainJob job, String reason, String message) {
    record(job, "Normal", reason, message);
  }

  public void warning(MultimodalPretrainJob job, String reason, String message) {
    record(job, "Warning", reason, message);
  }

  private void record(MultimodalPretrainJob job, String type, String reason, String message) {
    String now = Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString();
    String name = job.getMetadata().getName() + "." + Long.toHexString(System.nanoTime())
        + Long.toHexString(SEQUENCE.incrementAndGet());
    Event event = new EventBuilder()
        .withNewMetadata().withName(name).withNamespace(job.getMetadata().getNamespace()).endMetadata()
        .withNewInvolvedObject()
          .withApiVersion(MultimodalPretrainJob.API_VERSION).withKind(MultimodalPretrainJob.KIND)
          .withName(job.getMetadata().getName()).withNamespace(job.getMetadata().getNamespace())
          .withUid(job.getMetadata().getUid())
        .endInvolvedObject()
        .withType(type)
        .withReason(reason)
        .withMessage(message)
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .withNewSource().withComponent("kiln-operator").endSource()
        .build();
    recorded.accept(type, reason);
    LOG.infof("%s/%s %s %s: %s", job.getMetadata().getNamespace(), job.getMetadata().getName(), type, reason, message);
    writer.execute(() -> write(event));
  }

  private void write(Event event) {
    try {
      client.v1().events().inNamespace(event.getMetadata().getNamespace()).resource(event).create();
    } catch (RuntimeException e) {
      // Events are best effort: losing one must never fail a reconcile, nor stop the writer.
      LOG.debugf("event %s not recorded: %s", event.getReason(), e.getMessage());
    }
  }
}
