package dev.kiln.local;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Deletes objects whose owners are gone, as the cluster's garbage collector does (background
 * propagation), for the owners Kiln creates: MultimodalPretrainJobs and Jobs.
 */
final class GarbageCollector {

  static final Set<String> OWNER_KINDS = Set.of("MultimodalPretrainJob", "Job");

  private final KubernetesClient client;

  GarbageCollector(KubernetesClient client) {
    this.client = client;
  }

  void sync() {
    // Children are listed before owners: a child seen here has an owner that was created before it.
    List<HasMetadata> candidates = new ArrayList<>();
    candidates.addAll(client.pods().inAnyNamespace().list().getItems());
    candidates.addAll(client.configMaps().inAnyNamespace().list().getItems());
    candidates.addAll(client.services().inAnyNamespace().list().getItems());
    candidates.addAll(client.persistentVolumeClaims().inAnyNamespace().list().getItems());
    List<Job> jobs = client.batch().v1().jobs().inAnyNamespace().list().getItems();
    candidates.addAll(jobs);
    Set<String> live = new HashSet<>();
    jobs.forEach(j -> live.add(j.getMetadata().getUid()));
    client.resources(MultimodalPretrainJob.class).inAnyNamespace().list().getItems()
        .forEach(j -> live.add(j.getMetadata().getUid()));
    for (HasMetadata object : candidates) {
      if (orphaned(object, live)) {
        client.resource(object).delete();
      }
    }
  }

  static boolean orphaned(HasMetadata object, Set<String> liveOwners) {
    List<OwnerReference> refs = object.getMetadata().getOwnerReferences();
    if (refs == null || refs.isEmpty() || refs.stream().anyMatch(r -> !OWNER_KINDS.contains(r.getKind()))) {
      return false;
    }
    return refs.stream().noneMatch(r -> liveOwners.contains(r.getUid()));
  }
}
