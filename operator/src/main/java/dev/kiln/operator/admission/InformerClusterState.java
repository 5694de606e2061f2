package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.operator.cache.CachedCopies;
import dev.kiln.operator.manifests.Labels;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

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
  private final SharedIndexInformer<Namespace> namespaces;
  private final SharedIndexInformer<PriorityClass> priorityClasses;
  private final SharedIndexInformer<RuntimeClass> runtimeClasses;

  /** Index of the stage pods that ended Succeeded: a plan reads them, not every pod the cache holds. */
  private static final String SUCCEEDED_STAGE_PODS = "succeeded-stage-pods";

  /** Bumped on every change a queue's plan depends on, but a pod created or bound: see {@link ClusterState#version()}. */
  private final AtomicLong version = new AtomicLong();
  /** Bumped with the version, and on a pod created or placed too: see {@link ClusterState#changes()}. */
  private final AtomicLong changes = new AtomicLong();

  public InformerClusterState(KubernetesClient client, Runnable onChange) {
    this(client, onChange, job -> { });
  }

  /** As above; {@code onJobDeleted} hears of each MultimodalPretrainJob deleted (its reservations are to go). */
  public InformerClusterState(KubernetesClient client, Runnable onChange, Consumer<MultimodalPretrainJob> onJobDeleted) {
    nodes = client.nodes().inform(handler(onChange));
    SharedIndexInformer<Pod> podInformer = client.pods().inAnyNamespace().runnableInformer(0)
        .itemStore(CachedCopies.store(CachedCopies::planningPod, InformerClusterState::holdsOrRecords));
    podInformer.addIndexers(Map.of(SUCCEEDED_STAGE_PODS, pod -> BuiltinAdmission.succeededStagePod(pod)
        ? List.of(SUCCEEDED_STAGE_PODS) : List.of()));
    pods = started(podInformer, handler(onChange));
    trainerJobs = started(client.batch().v1().jobs().inAnyNamespace().withLabel(Labels.MANAGED_BY, Labels.MANAGER)
        .withLabel(Labels.COMPONENT, Labels.TRAINER).runnableInformer(0)
        .itemStore(CachedCopies.store(CachedCopies::job)), handler(onChange));
    jobs = started(client.resources(MultimodalPretrainJob.class).inAnyNamespace().runnableInformer(0)
        .itemStore(CachedCopies.store(CachedCopies::planningJob)), jobHandler(onJobDeleted));
    queues = client.resources(TrainingQueue.class).inform(handler(onChange));
    namespaces = client.namespaces().inform(handler(onChange));
    priorityClasses = client.scheduling().v1().priorityClasses().inform(handler(onChange));
    runtimeClasses = client.resources(RuntimeClass.class).inform(handler(onChange));
  }

  /** Starts an informer that keeps its own copies, and returns once it has listed everything, as inform() does. */
  private static <T> SharedIndexInformer<T> started(SharedIndexInformer<T> informer, ResourceEventHandler<T> handler) {
    informer.addEventHandler(handler);
    informer.run();
    return informer;
  }

  /**
   * Wakes waiting jobs on what can free room: a node, a queue, a pod or Job that ends or goes;
   * and moves the version on whatever changes the room or the queue's order.
   */
  private <T> ResourceEventHandler<T> handler(Runnable onChange) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        if (obj instanceof Pod pod) {
          if (planned(pod)) {
            changes.incrementAndGet();
          }
          return;  // a new pod takes room, it frees none: a job told to wait still waits
        }
        changed();
        onChange.run();
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        if (newObj instanceof Pod pod) {
          Pod old = (Pod) oldObj;
          if (!planned(old) && !planned(pod)) {
            return;
          }
          if (ClusterRoom.terminal(old) != ClusterRoom.terminal(pod)
              || (old.getMetadata().getDeletionTimestamp() == null) != (pod.getMetadata().getDeletionTimestamp() == null)) {
            changed();  // ended or being deleted; bound only takes room, and other updates change nothing here
          } else if (!placement(old).equals(placement(pod))) {
            changes.incrementAndGet();
          }
          if (!ClusterRoom.terminal(pod)) {
            return;
          }
        } else {
          changed();
        }
        if (newObj instanceof Job job && !BuiltinAdmission.finished(job)) {
          return;
        }
        onChange.run();
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        if (obj instanceof Pod pod && !planned(pod)) {
          return;
        }
        changed();
        onChange.run();
      }
    };
  }

  /** Changes first: a plan reads the version first, so it never pairs a new version with the snapshot before it. */
  private void changed() {
    changes.incrementAndGet();
    version.incrementAndGet();
  }

  /** Where a plan finds the pod holding room: its node, or the node it is pinned to and whether it is still gated. */
  private static List<Object> placement(Pod pod) {
    var spec = pod.getSpec();
    return spec == null ? List.of() : Arrays.asList(spec.getNodeName(), spec.getNodeSelector(), spec.getSchedulingGates());
  }

  /**
   * Whether the planning cache keeps the pod: it has not ended (it may hold room), or it is a stage
   * pod that succeeded (its rank is done). Ended data-preparation pods, most of a busy cluster's
   * pods, are not kept: nothing a plan reads is in them.
   */
  private static boolean holdsOrRecords(Pod pod) {
    return !ClusterRoom.terminal(pod) || BuiltinAdmission.succeededStagePod(pod);
  }

  /**
   * Whether a plan reads the pod: a stage pod (its gang's own), or any pod bound to a GPU node (it
   * takes room there). Other pods (data preparation on CPU nodes, most of a busy cluster's pods) come
   * and go without a plan or a version change.
   */
  boolean planned(Pod pod) {
    if (Labels.TRAINER.equals(Labels.get(pod, Labels.COMPONENT))) {
      return true;
    }
    String nodeName = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    Node node = nodeName == null ? null : nodes.getStore().getByKey(nodeName);
    return node != null && ClusterRoom.allocatable(node).gpus() > 0;
  }

  /** Jobs change the plan when they come, go, or change what the plan reads of them; not with every status write. */
  private ResourceEventHandler<MultimodalPretrainJob> jobHandler(Consumer<MultimodalPretrainJob> onJobDeleted) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(MultimodalPretrainJob job) {
        changed();
      }

      @Override
      public void onUpdate(MultimodalPretrainJob old, MultimodalPretrainJob job) {
        if (!planned(old).equals(planned(job))) {
          changed();
        }
      }

      @Override
      public void onDelete(MultimodalPretrainJob job, boolean deletedFinalStateUnknown) {
        changed();
        onJobDeleted.accept(job);
      }
    };
  }

  /** What a queue's plan reads of a job: its spec (by generation), deletion, phase, queue and whether it has a place. */
  private static List<Object> planned(MultimodalPretrainJob job) {
    var status = job.getStatus();
    var queue = status == null ? null : status.getQueue();
    return Arrays.asList(job.getMetadata().getGeneration(), job.getMetadata().getDeletionTimestamp(),
        status == null ? null : status.getPhase(), queue == null ? null : queue.name(),
        queue == null || queue.position() == null);
  }

  @Override
  public OptionalLong version() {
    return OptionalLong.of(version.get());
  }

  @Override
  public OptionalLong changes() {
    return OptionalLong.of(changes.get());
  }

  @Override
  public List<Node> nodes() {
    return nodes.getStore().list();
  }

  /** The node of that name as the cache holds it, or null. */
  public Node node(String name) {
    return nodes.getStore().getByKey(name);
  }

  @Override
  public List<Pod> pods() {
    return pods.getStore().list().stream().filter(p -> !ClusterRoom.terminal(p)).toList();
  }

  @Override
  public List<Pod> succeededStagePods() {
    return pods.getIndexer().byIndex(SUCCEEDED_STAGE_PODS, SUCCEEDED_STAGE_PODS);
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
  public List<TrainingQueue> queues() {
    return queues.getStore().list();
  }

  @Override
  public Map<String, String> namespaceLabels(String namespace) {
    Namespace found = namespaces.getStore().getByKey(namespace);
    return found == null || found.getMetadata().getLabels() == null ? Map.of() : found.getMetadata().getLabels();
  }

  @Override
  public List<PriorityClass> priorityClasses() {
    return priorityClasses.getStore().list();
  }

  @Override
  public List<RuntimeClass> runtimeClasses() {
    return runtimeClasses.getStore().list();
  }

  @Override
  public void close() {
    List.of(nodes, pods, trainerJobs, jobs, queues, namespaces, priorityClasses, runtimeClasses)
        .forEach(SharedIndexInformer::close);
  }
}
