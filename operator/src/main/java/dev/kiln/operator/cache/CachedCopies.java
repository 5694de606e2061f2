package dev.kiln.operator.cache;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The parts of pods and Jobs the operator reads, copied out of what its informers receive, so that
 * its caches hold a few hundred bytes per object instead of whole pod specs and Job templates (at
 * 1,000 jobs the whole objects were most of the operator's heap). Nothing the operator reads is
 * left out: a queue's plan reads names, labels, node, every container's requests, overhead and
 * phase; the job lifecycle reads pod status, container ports, scheduling gates and node selector
 * (to release a gated pod to its planned node), and a Job's status and suspend.
 */
public final class CachedCopies {

  private CachedCopies() {}

  /** An informer store that keeps {@code copy} of each object it is given. */
  public static <T extends HasMetadata> BasicItemStore<T> store(UnaryOperator<T> copy) {
    return new BasicItemStore<>(Cache::metaNamespaceKeyFunc) {
      @Override
      public T put(String key, T object) {
        return super.put(key, copy.apply(object));
      }
    };
  }

  /** For planning: name, labels and deletion; node, gates and selector; each container's resources; phase. */
  public static Pod planningPod(Pod pod) {
    return copy(pod, new PodStatusBuilder().withPhase(pod.getStatus() == null ? null : pod.getStatus().getPhase()).build());
  }

  /** For the lifecycle as well: as for planning, with container ports and the whole status. */
  public static Pod pod(Pod pod) {
    return copy(pod, pod.getStatus());
  }

  private static Pod copy(Pod pod, PodStatus status) {
    var spec = pod.getSpec();
    List<Container> containers = spec == null || spec.getContainers() == null ? List.of()
        : spec.getContainers().stream().map(c -> new ContainerBuilder().withName(c.getName())
            .withResources(c.getResources()).withPorts(c.getPorts()).build()).toList();
    List<Container> initContainers = spec == null || spec.getInitContainers() == null ? List.of()
        : spec.getInitContainers().stream().map(c -> new ContainerBuilder().withName(c.getName())
            .withResources(c.getResources()).withRestartPolicy(c.getRestartPolicy()).build()).toList();
    return new PodBuilder()
        .withMetadata(metadata(pod.getMetadata()))
        .withNewSpec()
          .withNodeName(spec == null ? null : spec.getNodeName())
          .withNodeSelector(spec == null ? null : spec.getNodeSelector())
          .withSchedulingGates(spec == null ? null : spec.getSchedulingGates())
          .withOverhead(spec == null ? null : spec.getOverhead())
          .withContainers(containers)
          .withInitContainers(initContainers)
        .endSpec()
        .withStatus(status)
        .build();
  }

  /** The Job without its pod template: metadata, suspend, parallelism, completions, and its status. */
  public static Job job(Job job) {
    return new JobBuilder()
        .withMetadata(metadata(job.getMetadata()))
        .withNewSpec()
          .withSuspend(job.getSpec() == null ? null : job.getSpec().getSuspend())
          .withParallelism(job.getSpec() == null ? null : job.getSpec().getParallelism())
          .withCompletions(job.getSpec() == null ? null : job.getSpec().getCompletions())
        .endSpec()
        .withStatus(job.getStatus())
        .build();
  }

  private static ObjectMeta metadata(ObjectMeta meta) {
    return new ObjectMetaBuilder()
        .withName(meta.getName())
        .withNamespace(meta.getNamespace())
        .withUid(meta.getUid())
        .withResourceVersion(meta.getResourceVersion())
        .withCreationTimestamp(meta.getCreationTimestamp())
        .withDeletionTimestamp(meta.getDeletionTimestamp())
        .withLabels(meta.getLabels())
        .withAnnotations(meta.getAnnotations())
        .withOwnerReferences(meta.getOwnerReferences())
        .build();
  }
}
