package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.operator.manifests.Labels;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.List;
import java.util.Optional;

/**
 * Reads the cluster from informer caches (one watch per kind), so a decision costs the API
 * server nothing; {@code onChange} hears of every change that can free or take GPUs.
 */
public final class InformerClusterState implements ClusterState, AutoCloseable {

  private final SharedIndexInformer<Node> nodes;
  private final SharedIndexInformer<Pod> pods;
  private final SharedIndexInformer<Job> trainerJobs;
  private final SharedIndexInformer<MultimodalPretrainJob> jobs;
  private final SharedIndexInformer<TrainingQueue> queues;

  public InformerClusterState(KubernetesClient client, Runnable onChange) {
    nodes = client.nodes().inform(handler(onChange));
    pods = client.pods().inAnyNamespace().inform(handler(onChange));
    trainerJobs = client.batch().v1().jobs().inAnyNamespace().withLabel(Labels.MANAGED_BY, Labels.MANAGER)
        .withLabel(Labels.COMPONENT, Labels.TRAINER).inform(handler(onChange));
    jobs = client.resources(MultimodalPretrainJob.class).inAnyNamespace().inform();
    queues = client.resources(TrainingQueue.class).inform(handler(onChange));
  }

  /** Wakes waiting jobs on what can change the room: a node, a queue, a pod or Job that appears, ends or goes. */
  private static <T> ResourceEventHandler<T> handler(Runnable onChange) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        if (!(obj instanceof Pod)) {
          onChange.run();  // a new pod takes GPUs, it frees none
        }
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        if (newObj instanceof Pod pod && !ClusterRoom.terminal(pod)) {
          return;  // only a pod that ends frees GPUs; a running pod's updates change nothing here
        }
        if (newObj instanceof Job job && !BuiltinAdmission.finished(job)) {
          return;
        }
        onChange.run();
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        onChange.run();
      }
    };
  }

  @Override
  public List<Node> nodes() {
    return nodes.getStore().list();
  }

  @Override
  public List<Pod> pods() {
    return pods.getStore().list().stream().filter(p -> !ClusterRoom.terminal(p)).toList();
  }

  @Override
  public List<Job> trainerJobs() {
    return trainerJobs.getStore().list();
  }

  @Override
  public List<MultimodalPretrainJob> jobs() {
    return jobs.getStore().list();
  }

  @Override
  public Optional<TrainingQueue> queue(String name) {
    return Optional.ofNullable(queues.getStore().getByKey(name));
  }

  @Override
  public void close() {
    List.of(nodes, pods, trainerJobs, jobs, queues).forEach(SharedIndexInformer::close);
  }
}
