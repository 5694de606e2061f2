package dev.kiln.local;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the local node's controllers see in one pass: every object they act on, read once, and
 * the pods grouped by the uid of each owner (a pass must not scan every pod for every Job).
 */
record Snapshot(List<Job> jobs, List<Pod> pods, List<PersistentVolumeClaim> claims, List<Node> nodes,
    List<MultimodalPretrainJob> kilnJobs, Map<String, List<Pod>> podsByOwner) {

  /** Reads over the API server (tests of one controller). */
  static Snapshot read(KubernetesClient client) {
    return read(ClusterReads.over(client));
  }

  static Snapshot read(ClusterReads cluster) {
    List<Pod> pods = cluster.list(Pod.class);
    Map<String, List<Pod>> byOwner = new HashMap<>();
    for (Pod pod : pods) {
      var refs = pod.getMetadata().getOwnerReferences();
      if (refs != null) {
        refs.stream().map(OwnerReference::getUid).filter(Objects::nonNull).distinct()
            .forEach(uid -> byOwner.computeIfAbsent(uid, k -> new ArrayList<>()).add(pod));
      }
    }
    // Children before their owners (pods and claims, Jobs, Kiln jobs): a child read here has an owner
    // created before it, which the garbage collector finds unless it is gone.
    List<PersistentVolumeClaim> claims = cluster.list(PersistentVolumeClaim.class);
    List<Job> jobs = cluster.list(Job.class);
    return new Snapshot(jobs, pods, claims, cluster.list(Node.class), cluster.list(MultimodalPretrainJob.class), byOwner);
  }

  List<Pod> podsOf(Job job) {
    return podsByOwner.getOrDefault(job.getMetadata().getUid(), List.of());
  }

  static String key(HasMetadata object) {
    return object.getMetadata().getNamespace() + "/" + object.getMetadata().getName();
  }
}
