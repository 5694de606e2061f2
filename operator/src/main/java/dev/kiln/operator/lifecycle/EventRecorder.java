package dev.kiln.operator.lifecycle;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.jboss.logging.Logger;

/** Kubernetes Events on the job for each transition (kubectl describe mpj shows them). */
public final class EventRecorder {

  private static final Logger LOG = Logger.getLogger(EventRecorder.class);
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private final KubernetesClient client;
  private final Clock clock;
  private final BiConsumer<String, String> recorded;

  public EventRecorder(KubernetesClient client, Clock clock) {
    this(client, clock, (type, reason) -> {});
  }

  /** {@code recorded} hears the type and reason of every event (the operator counts them). */
  public EventRecorder(KubernetesClient client, Clock clock, BiConsumer<String, String> recorded) {
    this.client = client;
    this.clock = clock;
    this.recorded = recorded;
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
    try {
      client.v1().events().inNamespace(job.getMetadata().getNamespace()).resource(event).create();
    } catch (KubernetesClientException e) {
      // Events are best effort: losing one must never fail a reconcile.
      LOG.debugf("event %s not recorded: %s", reason, e.getMessage());
    }
  }
}
