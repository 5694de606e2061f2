package dev.kiln.operator.lifecycle;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.admission.BuiltinAdmission;
import dev.kiln.operator.manifests.Labels;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.net.HttpURLConnection;
import java.util.List;
import java.util.Objects;

/**
 * Reads and writes a job's children with plain create, get, merge patch and delete, never
 * server-side apply, so the in-memory API server in tests takes the same path as a cluster.
 */
public final class ChildResources {

  private final KubernetesClient client;

  public ChildResources(KubernetesClient client) {
    this.client = client;
  }

  /** The existing object of that name, adopted as is, or the desired one created. */
  public <T extends HasMetadata> T ensure(T desired) {
    T existing = client.resource(desired).get();
    if (existing != null) {
      return existing;
    }
    try {
      return client.resource(desired).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
        return client.resource(desired).get();
      }
      throw e;
    }
  }

  /** Like {@link #ensure}, and brings the ConfigMap's data up to date with a merge patch. */
  public ConfigMap ensureConfigMap(ConfigMap desired) {
    ConfigMap existing = ensure(desired);
    if (Objects.equals(existing.getData(), desired.getData())) {
      return existing;
    }
    ConfigMap patch = new ConfigMap();
    patch.setData(desired.getData());
    return client.configMaps().inNamespace(existing.getMetadata().getNamespace())
        .withName(existing.getMetadata().getName())
        .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
  }

  public Job job(String namespace, String name) {
    return client.batch().v1().jobs().inNamespace(namespace).withName(name).get();
  }

  /** The trainer Jobs of one stage, every attempt. */
  public List<Job> attemptJobs(MultimodalPretrainJob job, String stage) {
    return client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace())
        .withLabel(Labels.JOB, job.getMetadata().getName())
        .withLabel(Labels.STAGE, stage)
        .withLabel(Labels.COMPONENT, Labels.TRAINER)
        .list().getItems();
  }

  /** Every Job the operator created for this MultimodalPretrainJob. */
  public List<Job> allJobs(MultimodalPretrainJob job) {
    return client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace())
        .withLabel(Labels.JOB, job.getMetadata().getName())
        .withLabel(Labels.MANAGED_BY, Labels.MANAGER)
        .list().getItems();
  }

  /** Pods of one attempt, selected by the labels the operator put on its template. */
  public List<Pod> attemptPods(MultimodalPretrainJob job, String stage, int attempt) {
    return client.pods().inNamespace(job.getMetadata().getNamespace())
        .withLabel(Labels.JOB, job.getMetadata().getName())
        .withLabel(Labels.STAGE, stage)
        .withLabel(Labels.ATTEMPT, Integer.toString(attempt))
        .list().getItems();
  }

  /** Pods of every attempt of one stage. */
  public List<Pod> stagePods(MultimodalPretrainJob job, String stage) {
    return client.pods().inNamespace(job.getMetadata().getNamespace())
        .withLabel(Labels.JOB, job.getMetadata().getName())
        .withLabel(Labels.STAGE, stage)
        .withLabel(Labels.COMPONENT, Labels.TRAINER)
        .list().getItems();
  }

  /**
   * Marks a running attempt Job as preempted for {@code by} (a merge patch of one annotation); its
   * own job then stops it. False when it was already marked or is gone.
   */
  public boolean markPreempted(String namespace, String name, String by) {
    Job attempt = job(namespace, name);
    if (attempt == null || (attempt.getMetadata().getAnnotations() != null
        && attempt.getMetadata().getAnnotations().containsKey(BuiltinAdmission.PREEMPTED_BY))) {
      return false;
    }
    Job patch = new Job();
    patch.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
        .withAnnotations(java.util.Map.of(BuiltinAdmission.PREEMPTED_BY, by)).build());
    client.batch().v1().jobs().inNamespace(namespace).withName(name).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    return true;
  }

  /** Deletes a Job and, through background propagation, its pods. */
  public void delete(Job job) {
    client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace()).withName(job.getMetadata().getName())
        .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND)
        .delete();
  }

  public void delete(MultimodalPretrainJob job) {
    client.resource(job).delete();
  }

  /** Writes the status subresource with the job's resourceVersion: a stale read fails with 409 and is retried. */
  public MultimodalPretrainJob writeStatus(MultimodalPretrainJob job) {
    return client.resource(job).updateStatus();
  }
}
