package dev.kiln.operator.admission;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The parts of pods and Jobs a queue's plan reads (names, labels, node, GPU requests, phase,
 * conditions), copied out of what the informers receive, so that the admission caches hold a few
 * hundred bytes per object instead of whole pod specs and Job templates: at 1,000 jobs the whole
 * objects were most of the operator's heap.
 */
final class PlanningCopies {

  private PlanningCopies() {}

  /** An informer store that keeps {@code copy} of each object it is given. */
  static <T extends HasMetadata> BasicItemStore<T> store(UnaryOperator<T> copy) {
    return new BasicItemStore<>(Cache::metaNamespaceKeyFunc) {
      @Override
      public T put(String key, T object) {
        return super.put(key, copy.apply(object));
      }
    };
  }

  /** Name, labels and deletion; node; each container's resources; phase. */
  static Pod pod(Pod pod) {
    List<Container> containers = pod.getSpec() == null || pod.getSpec().getContainers() == null ? List.of()
        : pod.getSpec().getContainers().stream()
            .map(c -> new ContainerBuilder().withName(c.getName()).withResources(c.getResources()).build()).toList();
    return new PodBuilder()
        .withMetadata(metadata(pod.getMetadata()))
        .withNewSpec().withNodeName(pod.getSpec() == null ? null : pod.getSpec().getNodeName())
          .withContainers(containers).endSpec()
        .withNewStatus().withPhase(pod.getStatus() == null ? null : pod.getStatus().getPhase()).endStatus()
        .build();
  }

  /** The Job without its pod template: metadata, suspend, and its status. */
  static Job job(Job job) {
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
        .build();
  }
}
