package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.operator.manifests.Labels;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads the cluster with a list per call: simple and always current, for tests and one-shot tools. */
public final class ListingClusterState implements ClusterState {

  private final KubernetesClient client;

  public ListingClusterState(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public List<Node> nodes() {
    return client.nodes().list().getItems();
  }

  @Override
  public List<Pod> pods() {
    return client.pods().inAnyNamespace().list().getItems().stream().filter(p -> !ClusterRoom.terminal(p)).toList();
  }

  @Override
  public List<Pod> succeededStagePods() {
    return client.pods().inAnyNamespace().withLabel(Labels.COMPONENT, Labels.TRAINER).list().getItems().stream()
        .filter(BuiltinAdmission::succeededStagePod).toList();
  }

  @Override
  public List<Job> trainerJobs() {
    return client.batch().v1().jobs().inAnyNamespace().withLabel(Labels.MANAGED_BY, Labels.MANAGER)
        .withLabel(Labels.COMPONENT, Labels.TRAINER).list().getItems();
  }

  @Override
  public List<MultimodalPretrainJob> jobs() {
    return client.resources(MultimodalPretrainJob.class).inAnyNamespace().list().getItems();
  }

  @Override
  public Optional<TrainingQueue> queue(String name) {
    return Optional.ofNullable(client.resources(TrainingQueue.class).withName(name).get());
  }

  @Override
  public List<TrainingQueue> queues() {
    return client.resources(TrainingQueue.class).list().getItems();
  }

  @Override
  public Map<String, String> namespaceLabels(String namespace) {
    Namespace found = client.namespaces().withName(namespace).get();
    return found == null || found.getMetadata().getLabels() == null ? Map.of() : found.getMetadata().getLabels();
  }

  @Override
  public List<PriorityClass> priorityClasses() {
    return client.scheduling().v1().priorityClasses().list().getItems();
  }

  @Override
  public List<RuntimeClass> runtimeClasses() {
    return client.resources(RuntimeClass.class).list().getItems();
  }
}
