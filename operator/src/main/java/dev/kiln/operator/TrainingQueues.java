package dev.kiln.operator;

import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.api.v1alpha1.TrainingQueueStatus;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Map;
import org.jboss.logging.Logger;

/** The operator's writes to TrainingQueues: the default queue at start, and each queue's status. */
final class TrainingQueues {

  private static final Logger LOG = Logger.getLogger(TrainingQueues.class);

  private TrainingQueues() {}

  /**
   * Creates queue {@code default} (no quota but the cluster's, BestEffortFIFO, no preemption) when
   * it does not exist, so that a job naming no queue runs on a fresh install; an existing one,
   * perhaps edited by an administrator, is left as it is.
   */
  static void ensureDefault(KubernetesClient client) {
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

  /** Replaces the queue's status with a merge patch; a queue deleted meanwhile is not an error. */
  static void writeStatus(KubernetesClient client, String name, TrainingQueueStatus status) {
    // A patch of the status alone: serialising a whole TrainingQueue would send spec: null, which merge patch deletes.
    String patch = Serialization.asJson(Map.of("status", status));
    try {
      client.resources(TrainingQueue.class).withName(name).subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    } catch (KubernetesClientException e) {
      LOG.debugf("status of TrainingQueue %s not written: %s", name, e.getMessage());
    }
  }
}
