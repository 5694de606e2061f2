package dev.kiln.operator;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.lifecycle.ChildResources;
import dev.kiln.operator.manifests.Labels;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.controller.ControllerEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A job's children as the operator's informers hold them (the JOSDK event sources that also wake
 * the reconciler), indexed by the job they belong to, so that a reconcile costs the API server
 * nothing. The operator's own writes are seen at once: what it creates goes into the event
 * source's short-lived cache of recent writes, what it deletes is hidden until the informer hears
 * of the delete. Nodes come from the admission's informer. ConfigMaps and Services, read only
 * when an attempt starts, are read from the API server.
 */
final class InformerChildReads {

  /** Index of Jobs and pods by {@code namespace/job}, from the {@link Labels#JOB} label. */
  static final String BY_JOB = "by-kiln-job";

  private final KubernetesClient client;
  private final InformerEventSource<Job, MultimodalPretrainJob> jobs;
  private final InformerEventSource<Pod, MultimodalPretrainJob> pods;
  private final InformerEventSource<PersistentVolumeClaim, MultimodalPretrainJob> claims;
  /** Nodes by name, from the admission's informer. */
  private final Function<String, Node> nodes;
  /** Children this operator deleted whose delete the informer has not delivered yet: uid by object. */
  private final Map<ResourceID, String> deleted = new ConcurrentHashMap<>();

  InformerChildReads(KubernetesClient client, InformerEventSource<Job, MultimodalPretrainJob> jobs,
      InformerEventSource<Pod, MultimodalPretrainJob> pods,
      InformerEventSource<PersistentVolumeClaim, MultimodalPretrainJob> claims, Function<String, Node> nodes) {
    this.client = client;
    this.nodes = nodes;
    this.jobs = jobs;
    this.pods = pods;
    this.claims = claims;
    jobs.addIndexers(Map.of(BY_JOB, InformerChildReads::jobKey));
    pods.addIndexers(Map.of(BY_JOB, InformerChildReads::jobKey));
  }

  private static List<String> jobKey(HasMetadata child) {
    Map<String, String> labels = child.getMetadata().getLabels();
    String job = labels == null ? null : labels.get(Labels.JOB);
    return job == null ? List.of() : List.of(child.getMetadata().getNamespace() + "/" + job);
  }

  /** The reads of one reconcile; status writes go to {@code primaries}, the controller's own cache. */
  ChildResources.Reads during(ControllerEventSource<MultimodalPretrainJob> primaries) {
    return new ChildResources.Reads() {
      @Override
      @SuppressWarnings("unchecked")
      public <T extends HasMetadata> T get(T like) {
        ResourceID id = ResourceID.fromResource(like);
        HasMetadata found;
        if (like instanceof Job) {
          found = visible(jobs.get(id).orElse(null));
        } else if (like instanceof PersistentVolumeClaim) {
          found = claims.get(id).orElse(null);
        } else if (like instanceof Node) {
          found = nodes.apply(like.getMetadata().getName());
        } else {
          return client.resource(like).get();
        }
        return (T) found;
      }

      @Override
      public List<Job> jobs(String namespace, String job) {
        return jobs.byIndex(BY_JOB, namespace + "/" + job).stream().filter(j -> visible(j) != null).toList();
      }

      @Override
      public List<Pod> pods(String namespace, String job) {
        return pods.byIndex(BY_JOB, namespace + "/" + job);
      }

      @Override
      public void created(HasMetadata object) {
        ResourceID id = ResourceID.fromResource(object);
        if (object instanceof Job job) {
          jobs.handleRecentResourceCreate(id, job);
        } else if (object instanceof PersistentVolumeClaim claim) {
          claims.handleRecentResourceCreate(id, claim);
        }
      }

      @Override
      public void deleted(HasMetadata object) {
        deleted.keySet().removeIf(id -> jobs.get(id).isEmpty());
        deleted.put(ResourceID.fromResource(object), object.getMetadata().getUid());
      }

      @Override
      public void statusWritten(MultimodalPretrainJob before, MultimodalPretrainJob after) {
        primaries.handleRecentResourceUpdate(ResourceID.fromResource(after), after, before);
      }
    };
  }

  /** {@code job}, or null when it is absent or this operator has deleted it. */
  private Job visible(Job job) {
    if (job == null) {
      return null;
    }
    String uid = deleted.get(ResourceID.fromResource(job));
    return Objects.equals(uid, job.getMetadata().getUid()) ? null : job;
  }
}
