package dev.kiln.local;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Deletes objects whose owners are gone, as the cluster's garbage collector does (background
 * propagation), for the owners Kiln creates: MultimodalPretrainJobs and Jobs; and fails the pods
 * of nodes that are gone, as the pod garbage collector does.
 */
final class GarbageCollector {

  /** The owners followed, by kind and API group: another group's "Job" (Volcano's, say) is not batch's. */
  static final Map<String, String> OWNER_GROUPS = Map.of("MultimodalPretrainJob", MultimodalPretrainJob.GROUP,
      "Job", "batch");

  private final KubernetesClient client;
  private final ClusterReads cluster;

  GarbageCollector(KubernetesClient client, ClusterReads cluster) {
    this.client = client;
    this.cluster = cluster;
  }

  /**
   * Deletes the pods, Jobs and claims whose owners the pass's snapshot no longer holds: every pass,
   * as the cluster's collector acts on an owner's deletion at once (a stopped Job's pods go, and
   * free their nodes, within a pass, not at the next full {@link #sync}). The snapshot reads
   * children before their owners, so a child it holds has an owner that was created before it.
   */
  void collectOrphans(Snapshot snapshot) {
    List<HasMetadata> candidates = new ArrayList<>(snapshot.pods());
    candidates.addAll(snapshot.claims());
    candidates.addAll(snapshot.jobs());
    deleteOrphans(candidates, snapshot.jobs(), snapshot.kilnJobs());
  }

  /** Everything {@link #collectOrphans} does, for ConfigMaps and Services too, and fails the pods of nodes that are gone. */
  void sync() {
    // Children are listed before owners: a child seen here has an owner that was created before it.
    List<HasMetadata> candidates = new ArrayList<>();
    candidates.addAll(cluster.list(Pod.class));
    candidates.addAll(cluster.list(ConfigMap.class));
    candidates.addAll(cluster.list(Service.class));
    candidates.addAll(cluster.list(PersistentVolumeClaim.class));
    List<Job> jobs = cluster.list(Job.class);
    candidates.addAll(jobs);
    deleteOrphans(candidates, jobs, cluster.list(MultimodalPretrainJob.class));
    failPodsOfGoneNodes(candidates);
  }

  /** Deletes each candidate not already being deleted whose owners are none of {@code jobs} and {@code kilnJobs}. */
  private void deleteOrphans(List<HasMetadata> candidates, List<Job> jobs, List<MultimodalPretrainJob> kilnJobs) {
    Set<String> live = new HashSet<>();
    jobs.forEach(j -> live.add(j.getMetadata().getUid()));
    kilnJobs.forEach(j -> live.add(j.getMetadata().getUid()));
    for (HasMetadata object : candidates) {
      if (object.getMetadata().getDeletionTimestamp() == null && orphaned(object, live)) {
        client.resource(object).delete();
      }
    }
  }

  /**
   * Pods bound to a node that no longer exists are failed with a {@code DisruptionTarget}
   * condition and deleted at once, as the pod garbage collector does with orphaned pods (its
   * {@code gcOrphaned}): their Jobs count them as disrupted, not as failed by their own doing.
   */
  private void failPodsOfGoneNodes(List<HasMetadata> candidates) {
    Set<String> nodes = new HashSet<>();
    cluster.list(Node.class).forEach(n -> nodes.add(n.getMetadata().getName()));
    for (HasMetadata object : candidates) {
      if (!(object instanceof Pod pod) || pod.getSpec().getNodeName() == null
          || nodes.contains(pod.getSpec().getNodeName())) {
        continue;
      }
      String now = java.time.Instant.now().toString();
      var resource = client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName());
      if (!JobController.terminal(pod)) {
        resource.editStatus(p -> {
          List<PodCondition> conditions = new ArrayList<>(p.getStatus().getConditions() == null ? List.of()
              : p.getStatus().getConditions());
          conditions.removeIf(c -> "DisruptionTarget".equals(c.getType()) || "Ready".equals(c.getType()));
          conditions.add(new PodConditionBuilder().withType("DisruptionTarget").withStatus("True")
              .withReason("DeletionByPodGC").withMessage("PodGC: node no longer exists").withLastTransitionTime(now)
              .build());
          conditions.add(new PodConditionBuilder().withType("Ready").withStatus("False").withLastTransitionTime(now)
              .build());
          p.getStatus().setConditions(conditions);
          p.getStatus().setPhase("Failed");
          return p;
        });
      }
      resource.withGracePeriod(0).delete();
    }
  }

  static boolean orphaned(HasMetadata object, Set<String> liveOwners) {
    List<OwnerReference> refs = object.getMetadata().getOwnerReferences();
    if (refs == null || refs.isEmpty() || refs.stream().anyMatch(r -> !followed(r))) {
      return false;
    }
    return refs.stream().noneMatch(r -> liveOwners.contains(r.getUid()));
  }

  private static boolean followed(OwnerReference owner) {
    String apiVersion = owner.getApiVersion() == null ? "" : owner.getApiVersion();
    String group = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
    return owner.getKind() != null && group.equals(OWNER_GROUPS.get(owner.getKind()));
  }
}
