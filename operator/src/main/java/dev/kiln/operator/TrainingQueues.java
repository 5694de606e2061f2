package dev.kiln.operator;

import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.api.v1alpha1.TrainingQueueStatus;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import org.jboss.logging.Logger;

/** The operator's writes to TrainingQueues: the default queue at start, and each queue's status. */
public final class TrainingQueues {

  private static final Logger LOG = Logger.getLogger(TrainingQueues.class);
  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  private TrainingQueues() {}

  /**
   * Creates queue {@code default} (no quota but the cluster's, BestEffortFIFO, no preemption) when
   * it does not exist, so that a job naming no queue runs on a fresh install; an existing one,
   * perhaps edited by an administrator, is left as it is.
   */
  public static void ensureDefault(KubernetesClient client) {
    try {
      if (client.resources(TrainingQueue.class).withName(TrainingQueue.DEFAULT).get() == null) {
        TrainingQueue queue = new TrainingQueue();
        queue.setMetadata(new ObjectMetaBuilder().withName(TrainingQueue.DEFAULT).build());
        queue.setSpec(new TrainingQueueSpec(null, null, null, null));
        client.resource(queue).create();
        LOG.infof("created TrainingQueue %s", TrainingQueue.DEFAULT);
      }
    } catch (KubernetesClientException e) {
      LOG.warnf("could not ensure TrainingQueue %s (is its CRD installed?): %s", TrainingQueue.DEFAULT, e.getMessage());
    }
  }

  /**
   * Replaces the queue's status whole: one JSON patch {@code add /status} on the status
   * subresource, which sets it whether or not the queue has one yet (a patch of the difference from
   * a read copy adds into a {@code status} the stored object may not have, which a real API server
   * refuses). A queue deleted meanwhile is not an error.
   */
  public static void writeStatus(KubernetesClient client, String name, TrainingQueueStatus status) {
    try {
      String patch = JSON.writeValueAsString(java.util.List.of(java.util.Map.of("op", "add", "path", "/status",
          "value", status)));
      client.resources(TrainingQueue.class).withName(name).subresource("status")
          .patch(PatchContext.of(PatchType.JSON), patch);
    } catch (KubernetesClientException | com.fasterxml.jackson.core.JsonProcessingException e) {
      LOG.warnf("status of TrainingQueue %s not written: %s", name, e.getMessage());
    }
  }
}
