package dev.kiln.operator;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

/**
 * Plays the Job controller and kubelet against the in-memory API server: the test decides
 * what each Job and pod did, the operator code under test decides everything else.
 */
public final class FakeCluster {

  private final KubernetesClient client;
  /** The in-memory API server, where a test needs what its store cannot do (field selectors beyond metadata). */
  private final KubernetesMockServer server;

  public FakeCluster(KubernetesClient client) {
    this(client, null);
  }

  public FakeCluster(KubernetesClient client, KubernetesMockServer server) {
    this.client = client;
    this.server = server;
  }

  /** Installs Kiln's CRDs, as {@code kiln crd | kubectl apply -f -} does. */
  public void registerCrd() {
    for (String file : List.of("multimodalpretrainjobs.kiln.dev-v1.yml", "trainingqueues.kiln.dev-v1.yml")) {
      try (InputStream in = Files.newInputStream(TestJobs.root().resolve("crds").resolve(file))) {
        CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions().load(in).item();
        if (client.resource(crd).get() == null) {
          client.resource(crd).create();
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** A GPU node as GPU feature discovery and the device plugin label it, with the GPU taint. */
  public void addGpuNode(String name, int gpus, String product) {
    client.resource(new io.fabric8.kubernetes.api.model.NodeBuilder()
        .withNewMetadata().withName(name).withLabels(Map.of("kubernetes.io/hostname", name,
            StageJobManifest.GPU_PRODUCT_LABEL, product)).endMetadata()
        .withNewSpec().addNewTaint().withKey(StageJobManifest.GPU).withEffect("NoSchedule").endTaint().endSpec()
        .withNewStatus().withAllocatable(gpuNodeAllocatable(gpus))
        .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
        .build()).create();
  }

  /**
   * What a GPU node offers the scheduler, shaped like the common 8-GPU machines: 12 cpu and 128Gi
   * per GPU, 110 pods (every pod a Kiln stage runs requests cpu and memory too).
   */
  public static Map<String, io.fabric8.kubernetes.api.model.Quantity> gpuNodeAllocatable(int gpus) {
    return Map.of(StageJobManifest.GPU, new io.fabric8.kubernetes.api.model.Quantity(Integer.toString(gpus)),
        "cpu", new io.fabric8.kubernetes.api.model.Quantity(Integer.toString(12 * gpus)),
        "memory", new io.fabric8.kubernetes.api.model.Quantity(128 * gpus + "Gi"),
        "pods", new io.fabric8.kubernetes.api.model.Quantity("110"));
  }

  /** The Job controller creating rank {@code index} of a trainer Job: a Pending pod from its template, on no node yet. */
  public Pod createPod(String namespace, String name, int index) {
    return client.resource(pod(namespace, name, index, "Pending")).create();
  }

  /**
   * The scheduler and kubelet starting rank {@code index} of a trainer Job on {@code node}: a Running
   * pod holding the GPUs its template asks for.
   */
  public Pod startPod(String namespace, String name, int index, String node) {
    Pod pod = pod(namespace, name, index, "Running");
    pod.getSpec().setNodeName(node);
    return client.resource(pod).create();
  }

  private Pod pod(String namespace, String name, int index, String phase) {
    Job job = job(namespace, name);
    return new PodBuilder()
        .withNewMetadata()
          .withName(name + "-" + index)
          .withNamespace(namespace)
          .withLabels(job.getSpec().getTemplate().getMetadata().getLabels())
          .withAnnotations(Map.of(StageJobManifest.COMPLETION_INDEX_ANNOTATION, Integer.toString(index)))
        .endMetadata()
        .withSpec(job.getSpec().getTemplate().getSpec())
        .withNewStatus().withPhase(phase).endStatus()
        .build();
  }

  /** Rank {@code index} bound to {@code node} but its container waiting (an image pull, a volume). */
  public void waitingPod(String namespace, String name, int index, String node, String reason, String message) {
    Pod pod = startPod(namespace, name, index, node);
    client.pods().inNamespace(namespace).withName(pod.getMetadata().getName()).editStatus(p -> {
      p.getStatus().setPhase("Pending");
      p.getStatus().setContainerStatuses(List.of(new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
          .withName("trainer").withNewState().withNewWaiting().withReason(reason).withMessage(message).endWaiting()
          .endState().build()));
      return p;
    });
  }

  /** A running pod's process exited (143 after SIGTERM, say): the pod fails and holds nothing. */
  public void stopPod(String namespace, String name, int exitCode) {
    client.pods().inNamespace(namespace).withName(name).editStatus(p -> {
      p.getStatus().setPhase(exitCode == 0 ? "Succeeded" : "Failed");
      p.getStatus().setContainerStatuses(List.of(new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
          .withName("trainer").withNewState().withNewTerminated().withExitCode(exitCode).endTerminated().endState()
          .build()));
      return p;
    });
  }

  public MultimodalPretrainJob get(MultimodalPretrainJob job) {
    return client.resources(MultimodalPretrainJob.class).inNamespace(job.getMetadata().getNamespace())
        .withName(job.getMetadata().getName()).get();
  }

  public List<Job> jobs(String namespace) {
    return client.batch().v1().jobs().inNamespace(namespace).list().getItems();
  }

  public List<String> jobNames(String namespace) {
    return jobs(namespace).stream().map(j -> j.getMetadata().getName()).sorted().toList();
  }

  public Job job(String namespace, String name) {
    return client.batch().v1().jobs().inNamespace(namespace).withName(name).get();
  }

  /** The Job controller reporting every index done; rank 0 (or a data Job's pod) leaves its summary. */
  public void complete(String namespace, String name, String summary) {
    Job job = job(namespace, name);
    if (summary != null || "trainer".equals(job.getMetadata().getLabels().get(Labels.COMPONENT))) {
      addPod(job, 0, 0, null, summary, false);
    }
    setCondition(job, "Complete");
  }

  public void complete(String namespace, String name) {
    complete(namespace, name, null);
  }

  /**
   * Completes a job's packing Jobs step by step (prepare, plan, write, finish), running
   * {@code reconcile} after each step but the last so the operator makes the next; each stage's
   * finish Job leaves {@code summaries.get(stage)}, if any.
   */
  public void completePacking(String namespace, String jobName, Runnable reconcile, Map<String, String> summaries) {
    var steps = dev.kiln.operator.manifests.PackJobManifest.Step.values();
    for (var step : steps) {
      for (Job job : jobs(namespace)) {
        Map<String, String> labels = job.getMetadata().getLabels();
        if (jobName.equals(labels.get(Labels.JOB)) && step.argument().equals(labels.get(Labels.PACK_STEP))) {
          complete(namespace, job.getMetadata().getName(), summaries.get(labels.get(Labels.STAGE)));
        }
      }
      if (step != steps[steps.length - 1]) {
        reconcile.run();
      }
    }
  }

  public void completePacking(String namespace, String jobName, Runnable reconcile) {
    completePacking(namespace, jobName, reconcile, Map.of());
  }

  /**
   * Pod {@code index} of an Indexed Job with retries per index exited with {@code exitCode}: the
   * Job controller counts it and starts the index again, and the Job goes on.
   */
  public void failIndexOnce(String namespace, String name, int index, int exitCode, String message) {
    Job job = job(namespace, name);
    addPod(job, index, exitCode, "Error", message, false);
    job.setStatus(new JobStatusBuilder().withFailed(1).withActive(1).build());
    client.batch().v1().jobs().inNamespace(namespace).resource(job).updateStatus();
  }

  /** Rank {@code index} exited with {@code exitCode}; the Job (backoffLimit 0) fails. */
  public void failPod(String namespace, String name, int index, int exitCode, String reason) {
    failPod(namespace, name, index, exitCode, reason, "Traceback...\nRuntimeError: NCCL timeout");
  }

  /** Pod {@code index} exited with {@code exitCode}, its termination message {@code message}; the Job fails. */
  public void failPod(String namespace, String name, int index, int exitCode, String reason, String message) {
    Job job = job(namespace, name);
    addPod(job, index, exitCode, reason, message, false);
    setCondition(job, "Failed");
  }

  /** Rank {@code index} was evicted by the kubelet. */
  public void evictPod(String namespace, String name, int index) {
    Job job = job(namespace, name);
    addPod(job, index, 137, "Error", null, true);
    setCondition(job, "Failed");
  }

  /**
   * Rank {@code index} was evicted through the API (a drain): the Job controller counted the pod
   * against the Job's pod failure policy and the pod is gone; only the Job's condition says why.
   */
  public void drainPod(String namespace, String name, int index) {
    Job job = job(namespace, name);
    job.setStatus(new JobStatusBuilder()
        .withConditions(new JobConditionBuilder().withType("Failed").withStatus("True").withReason("PodFailurePolicy")
            .withMessage("Pod " + namespace + "/" + name + "-" + index + "-abcde has condition DisruptionTarget"
                + " matching FailJob rule at index 0").build())
        .build());
    client.batch().v1().jobs().inNamespace(namespace).resource(job).updateStatus();
  }

  /** The Job controller could not create the Job's pods and said why in a FailedCreate event. */
  public void failedCreate(String namespace, String name, String message) {
    Job job = job(namespace, name);
    io.fabric8.kubernetes.api.model.Event event = new io.fabric8.kubernetes.api.model.EventBuilder()
        .withNewMetadata().withName(name + ".failedcreate").withNamespace(namespace).endMetadata()
        .withNewInvolvedObject().withKind("Job").withApiVersion("batch/v1").withNamespace(namespace).withName(name)
          .withUid(job.getMetadata().getUid()).endInvolvedObject()
        .withType("Warning").withReason("FailedCreate").withMessage(message).withLastTimestamp("2026-12-01T10:00:00Z")
        .build();
    client.v1().events().inNamespace(namespace).resource(event).create();
    // The store selects by metadata fields only; the API server selects events by what they are about.
    server.expect().get().withPath("/api/v1/namespaces/" + namespace + "/events?fieldSelector="
            + java.net.URLEncoder.encode("involvedObject.kind=Job,involvedObject.name=" + name,
                java.nio.charset.StandardCharsets.UTF_8))
        .andReturn(200, new io.fabric8.kubernetes.api.model.EventListBuilder().withItems(event).build()).always();
  }

  public void failJob(String namespace, String name) {
    setCondition(job(namespace, name), "Failed");
  }

  private void setCondition(Job job, String type) {
    job.setStatus(new JobStatusBuilder()
        .withConditions(new JobConditionBuilder().withType(type).withStatus("True")
            .withReason(type.equals("Failed") ? "BackoffLimitExceeded" : null).build())
        .build());
    client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace()).resource(job).updateStatus();
  }

  private void addPod(Job job, int index, int exitCode, String reason, String message, boolean evicted) {
    Map<String, String> labels = new java.util.LinkedHashMap<>(job.getSpec().getTemplate().getMetadata().getLabels());
    labels.put("batch.kubernetes.io/job-name", job.getMetadata().getName());  // as the Job controller adds it
    String name = job.getMetadata().getName() + "-" + index + "-x" + Integer.toHexString(exitCode);
    // A Job created again under its name (a repack) gets pods of its own, as the Job controller's random suffixes give.
    for (int n = 2; client.pods().inNamespace(job.getMetadata().getNamespace()).withName(name).get() != null; n++) {
      name = job.getMetadata().getName() + "-" + index + "-x" + Integer.toHexString(exitCode) + "-" + n;
    }
    Pod pod = new PodBuilder()
        .withNewMetadata()
          .withName(name)
          .withNamespace(job.getMetadata().getNamespace())
          .withLabels(labels)
          .withAnnotations(Map.of(StageJobManifest.COMPLETION_INDEX_ANNOTATION, Integer.toString(index)))
        .endMetadata()
        .withNewStatus()
          .withPhase(exitCode == 0 ? "Succeeded" : "Failed")
          .withReason(evicted ? "Evicted" : null)
          .addNewContainerStatus()
            .withName("trainer")
            .withNewState().withNewTerminated().withExitCode(exitCode).withReason(reason).withMessage(message)
            .endTerminated().endState()
          .endContainerStatus()
        .endStatus()
        .build();
    if (evicted) {
      pod.getStatus().getConditions().add(new io.fabric8.kubernetes.api.model.PodConditionBuilder()
          .withType("DisruptionTarget").withStatus("True").withReason("TerminationByKubelet").build());
    }
    client.resource(pod).create();
  }
}
