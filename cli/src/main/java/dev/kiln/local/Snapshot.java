package dev.kiln.local;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Objects;

/** What the local node's controllers see in one pass: every object they act on, read once. */
record Snapshot(List<Job> jobs, List<Pod> pods, List<PersistentVolumeClaim> claims, List<Node> nodes,
    List<MultimodalPretrainJob> kilnJobs) {

  static Snapshot read(KubernetesClient client) {
    return new Snapshot(
        client.batch().v1().jobs().inAnyNamespace().list().getItems(),
        client.pods().inAnyNamespace().list().getItems(),
        client.persistentVolumeClaims().inAnyNamespace().list().getItems(),
        client.nodes().list().getItems(),
        client.resources(MultimodalPretrainJob.class).inAnyNamespace().list().getItems());
  }

  List<Pod> podsOf(Job job) {
    return pods.stream().filter(p -> ownedBy(p, job)).toList();
  }

  static boolean ownedBy(HasMetadata child, HasMetadata owner) {
    var refs = child.getMetadata().getOwnerReferences();
    return refs != null && refs.stream().anyMatch(r -> Objects.equals(r.getUid(), owner.getMetadata().getUid()));
  }

  static String key(HasMetadata object) {
    return object.getMetadata().getNamespace() + "/" + object.getMetadata().getName();
  }
}
