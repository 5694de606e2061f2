package dev.kiln.operator.lifecycle;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.admission.BuiltinAdmission;
import dev.kiln.operator.admission.KueueWorkloads;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.net.HttpURLConnection;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.Objects;
import org.jboss.logging.Logger;

/**
 * Reads and writes a job's children. Writes are plain create, merge patch, update and delete,
 * never server-side apply, so the in-memory API server in tests takes the same path as a
 * cluster. Reads go through {@link Reads}: the operator's informer caches in production (a
 * reconcile costs the API server nothing), the API server itself in tests that play the
 * controllers step by step.
 */
public final class ChildResources {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Logger LOG = Logger.getLogger(ChildResources.class);

  /** Where children are read from, and what a cache must hear of the operator's own writes. */
  public interface Reads {

    /** The object of {@code like}'s kind, namespace and name, or null. */
    <T extends HasMetadata> T get(T like);

    /** The Jobs labelled as children of the MultimodalPretrainJob {@code job}. */
    List<Job> jobs(String namespace, String job);

    /** The pods labelled as children of the MultimodalPretrainJob {@code job}. */
    List<Pod> pods(String namespace, String job);

    /** A child the operator just created: later reads in this reconcile and the next must see it. */
    default void created(HasMetadata object) {}

    /** A child the operator just deleted: reads must no longer return it, even before its watch event. */
    default void deleted(HasMetadata object) {}

    /** The job as the operator just wrote its status ({@code before} holds the version it replaced). */
    default void statusWritten(MultimodalPretrainJob before, MultimodalPretrainJob after) {}
  }

  /** The label the Job controller puts on the pods of a Job (Kubernetes 1.27 and later). */
  static final String JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

  private final KubernetesClient client;
  private final Reads reads;

  /** Reads straight from the API server. */
  public ChildResources(KubernetesClient client) {
    this(client, new ApiReads(client));
  }

  public ChildResources(KubernetesClient client, Reads reads) {
    this.client = client;
    this.reads = reads;
  }

  /** The existing object of that name, adopted as is, or the desired one created. */
  public <T extends HasMetadata> T ensure(T desired) {
    T existing = reads.get(desired);
    if (existing != null) {
      return existing;
    }
    try {
      T created = client.resource(desired).create();
      reads.created(created);
      return created;
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
        return client.resource(desired).get();  // a cache that lagged: the API server has it
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

  /**
   * Kueue's Workload for a Job, or null; {@code served} false when the cluster serves no Workload
   * API; {@code unreadable} the API server's refusal (403 without the chart's RBAC, a 5xx), when
   * it could not be read and nothing is known.
   */
  public record KueueWorkload(boolean served, String unreadable, GenericKubernetesResource workload) {}

  /** The Workload API version this cluster serves, once known: one list per read after the first. */
  private volatile String workloadVersion;

  /** The Workload Kueue made for {@code job} (labelled with its uid, not being replaced), read from the API server. */
  public KueueWorkload kueueWorkload(Job job) {
    List<String> versions = workloadVersion != null ? List.of(workloadVersion) : KueueWorkloads.VERSIONS;
    for (String version : versions) {
      try {
        List<GenericKubernetesResource> found = client.genericKubernetesResources(KueueWorkloads.api(version))
            .inNamespace(job.getMetadata().getNamespace())
            .withLabel(KueueWorkloads.JOB_UID_LABEL, job.getMetadata().getUid()).list().getItems();
        workloadVersion = version;
        return new KueueWorkload(true, null, found.stream()
            .min(java.util.Comparator.comparing(w -> w.getMetadata().getDeletionTimestamp() != null)).orElse(null));
      } catch (KubernetesClientException e) {
        if (e.getCode() != HttpURLConnection.HTTP_NOT_FOUND) {
          return new KueueWorkload(true, "HTTP " + e.getCode() + " " + e.getStatus().getReason(), null);
        }
      }
    }
    workloadVersion = null;
    return new KueueWorkload(false, null, null);
  }

  public Job job(String namespace, String name) {
    Job like = new Job();
    like.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    return reads.get(like);
  }

  /** The trainer Jobs of one stage, every attempt. */
  public List<Job> attemptJobs(MultimodalPretrainJob job, String stage) {
    return reads.jobs(job.getMetadata().getNamespace(), job.getMetadata().getName()).stream()
        .filter(j -> labelled(j, Labels.STAGE, stage) && labelled(j, Labels.COMPONENT, Labels.TRAINER))
        .toList();
  }

  /**
   * The trainer Jobs of one stage as the API server holds them now, not as the informers last heard:
   * asked before an attempt is started, so that a Job the operator created moments ago (its status
   * write lost, its informer behind an expired watch) is never started a second time under a new number.
   */
  public List<Job> attemptJobsOnServer(MultimodalPretrainJob job, String stage) {
    return client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace())
        .withLabel(Labels.JOB, job.getMetadata().getName()).withLabel(Labels.STAGE, stage)
        .withLabel(Labels.COMPONENT, Labels.TRAINER).list().getItems();
  }

  /** The stage's trainer pods of every attempt, read from the API server (not the cache). */
  public List<Pod> stagePodsOnServer(MultimodalPretrainJob job, String stage) {
    return client.pods().inNamespace(job.getMetadata().getNamespace())
        .withLabel(Labels.JOB, job.getMetadata().getName()).withLabel(Labels.STAGE, stage)
        .withLabel(Labels.COMPONENT, Labels.TRAINER).list().getItems();
  }

  /** Every Job the operator created for this MultimodalPretrainJob. */
  public List<Job> allJobs(MultimodalPretrainJob job) {
    return reads.jobs(job.getMetadata().getNamespace(), job.getMetadata().getName()).stream()
        .filter(j -> labelled(j, Labels.MANAGED_BY, Labels.MANAGER))
        .toList();
  }

  /** Pods of one attempt, selected by the labels the operator put on its template. */
  public List<Pod> attemptPods(MultimodalPretrainJob job, String stage, int attempt) {
    return reads.pods(job.getMetadata().getNamespace(), job.getMetadata().getName()).stream()
        .filter(p -> labelled(p, Labels.STAGE, stage) && labelled(p, Labels.ATTEMPT, Integer.toString(attempt)))
        .toList();
  }

  /**
   * Why the Job controller could not create {@code child}'s pods (a ResourceQuota, an admission
   * webhook), from the newest FailedCreate event it recorded on the Job. Events are not cached: a
   * request for that Job's events only, asked only while an attempt lacks pods.
   */
  public Optional<String> failedCreate(Job child) {
    return client.v1().events().inNamespace(child.getMetadata().getNamespace())
        .withField("involvedObject.kind", "Job")
        .withField("involvedObject.name", child.getMetadata().getName())
        .list().getItems().stream()
        .filter(e -> "FailedCreate".equals(e.getReason()) && e.getInvolvedObject() != null
            && "Job".equals(e.getInvolvedObject().getKind())
            && child.getMetadata().getName().equals(e.getInvolvedObject().getName()))
        .max(java.util.Comparator.comparing(e -> e.getLastTimestamp() == null ? "" : e.getLastTimestamp()))
        .map(io.fabric8.kubernetes.api.model.Event::getMessage);
  }

  /**
   * The access modes of a claim the user provides (what it was bound with, else what it asks for);
   * empty when it does not exist. A request, asked only before a job starts.
   */
  public Optional<List<String>> claimAccessModes(String namespace, String name) {
    PersistentVolumeClaim claim = client.persistentVolumeClaims().inNamespace(namespace).withName(name).get();
    if (claim == null) {
      return Optional.empty();
    }
    if (claim.getStatus() != null && claim.getStatus().getAccessModes() != null && !claim.getStatus().getAccessModes().isEmpty()) {
      return Optional.of(claim.getStatus().getAccessModes());
    }
    return Optional.of(claim.getSpec() == null || claim.getSpec().getAccessModes() == null ? List.of()
        : claim.getSpec().getAccessModes());
  }

  /** Pods the Job controller made for one of the job's Jobs, by the job-name label it gives them. */
  public List<Pod> podsOf(MultimodalPretrainJob job, Job child) {
    String uid = child.getMetadata().getUid();
    return reads.pods(job.getMetadata().getNamespace(), job.getMetadata().getName()).stream()
        .filter(p -> labelled(p, JOB_NAME_LABEL, child.getMetadata().getName()))
        // Not the pods of an earlier Job of the same name (a step packed again), which the garbage collector has yet to delete.
        .filter(p -> uid == null || Labels.get(p, CONTROLLER_UID_LABEL) == null
            || uid.equals(Labels.get(p, CONTROLLER_UID_LABEL)))
        .toList();
  }

  /** The label the Job controller puts on each pod with its Job's uid. */
  static final String CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";

  /** Pods of every attempt of one stage. */
  public List<Pod> stagePods(MultimodalPretrainJob job, String stage) {
    return reads.pods(job.getMetadata().getNamespace(), job.getMetadata().getName()).stream()
        .filter(p -> labelled(p, Labels.STAGE, stage) && labelled(p, Labels.COMPONENT, Labels.TRAINER))
        .toList();
  }

  private static boolean labelled(HasMetadata object, String key, String value) {
    Map<String, String> labels = object.getMetadata().getLabels();
    return labels != null && value.equals(labels.get(key));
  }

  /** What {@link #preempt} did. */
  public enum Preemption { MARKED, ALREADY_MARKED, STOPPED, GONE }

  /**
   * Marks a running attempt Job as preempted for {@code by} (a merge patch of two annotations: who
   * and when); its own job then stops it. A victim still there {@code grace} after it was marked
   * (its own reconcile stopped early, say at a refused spec change) is stopped here: its Job
   * deleted, its pods given their grace period to checkpoint.
   */
  public Preemption preempt(String namespace, String name, String by, Instant now, Duration grace) {
    Job attempt = job(namespace, name);
    if (attempt == null) {
      // A victim admitted a moment ago may not be in this cache yet: the API server has the last word.
      attempt = client.batch().v1().jobs().inNamespace(namespace).withName(name).get();
    }
    if (attempt == null || attempt.getMetadata().getDeletionTimestamp() != null) {
      return Preemption.GONE;
    }
    Map<String, String> annotations = attempt.getMetadata().getAnnotations() == null ? Map.of()
        : attempt.getMetadata().getAnnotations();
    if (annotations.containsKey(BuiltinAdmission.PREEMPTED_BY)) {
      Instant at = instantOrNull(annotations.get(BuiltinAdmission.PREEMPTED_AT));
      if (at == null) {
        // Marked without a readable time (by an older operator): the grace counts from now.
        Job patch = new Job();
        patch.setMetadata(new ObjectMetaBuilder().withAnnotations(Map.of(BuiltinAdmission.PREEMPTED_AT, now.toString()))
            .build());
        client.batch().v1().jobs().inNamespace(namespace).withName(name).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
      } else if (!now.isBefore(at.plus(grace))) {
        delete(attempt);
        return Preemption.STOPPED;
      }
      return Preemption.ALREADY_MARKED;
    }
    Job patch = new Job();
    patch.setMetadata(new ObjectMetaBuilder().withAnnotations(Map.of(BuiltinAdmission.PREEMPTED_BY, by,
        BuiltinAdmission.PREEMPTED_AT, now.toString())).build());
    client.batch().v1().jobs().inNamespace(namespace).withName(name).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    return Preemption.MARKED;
  }

  /**
   * The node's {@code kubernetes.io/hostname} label, which may differ from its name (a kubelet's
   * --hostname-override); the name where the node carries none; null when the node is gone.
   */
  private String hostname(String node) {
    var found = reads.get(new NodeBuilder().withNewMetadata().withName(node).endMetadata().build());
    if (found == null) {
      return null;
    }
    var labels = found.getMetadata().getLabels();
    return labels != null && labels.get(StageJobManifest.HOSTNAME_LABEL) != null ? labels.get(StageJobManifest.HOSTNAME_LABEL)
        : node;
  }

  /** The instant an RFC 3339 timestamp (an annotation, a deletionTimestamp) says, or null when absent or unreadable. */
  static Instant instantOrNull(String timestamp) {
    try {
      return timestamp == null ? null : Instant.parse(timestamp);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  /**
   * Lifts Kiln's scheduling gate from a stage pod, first pinning it to {@code node} (when not null)
   * with a node selector on the node's {@code kubernetes.io/hostname} label: one JSON patch that tests the gate is
   * where this read saw it, the mutation Kubernetes allows a gated pod. A pod gone or changed
   * since (the patch's test fails) is left to the next reconcile, which sees it as it is.
   */
  public void releaseGate(Pod pod, String node) {
    var operations = JSON.createArrayNode();
    String hostname = node == null ? null : hostname(node);
    if (node != null && hostname == null) {
      LOG.warnf("pod %s/%s stays gated: its planned node %s is gone (the startup deadline gives the attempt back)",
          pod.getMetadata().getNamespace(), pod.getMetadata().getName(), node);
      return;
    }
    if (hostname != null) {
      if (pod.getSpec().getNodeSelector() == null || pod.getSpec().getNodeSelector().isEmpty()) {
        operations.addObject().put("op", "add").put("path", "/spec/nodeSelector")
            .putObject("value").put(StageJobManifest.HOSTNAME_LABEL, hostname);
      } else {
        operations.addObject().put("op", "add")
            .put("path", "/spec/nodeSelector/" + StageJobManifest.HOSTNAME_LABEL.replace("~", "~0").replace("/", "~1"))
            .put("value", hostname);
      }
    }
    var gates = pod.getSpec().getSchedulingGates();
    for (int i = gates.size() - 1; i >= 0; i--) {
      if (StageJobManifest.SCHEDULING_GATE.equals(gates.get(i).getName())) {
        String path = "/spec/schedulingGates/" + i;
        operations.addObject().put("op", "test").put("path", path + "/name").put("value", StageJobManifest.SCHEDULING_GATE);
        operations.addObject().put("op", "remove").put("path", path);
      }
    }
    try {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.JSON), operations.toString());
    } catch (KubernetesClientException e) {
      if (e.getCode() != HttpURLConnection.HTTP_NOT_FOUND && e.getCode() != HttpURLConnection.HTTP_CONFLICT
          && e.getCode() != 422) {
        throw e;
      }
      // Gone, or changed since it was read (most often: a stale copy of a pod whose gate is already lifted).
      LOG.debugf("gate of pod %s/%s not lifted this time: HTTP %d %s", pod.getMetadata().getNamespace(),
          pod.getMetadata().getName(), e.getCode(), e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage());
    }
  }

  /** Deletes a Job and, through background propagation, its pods. */
  public void delete(Job job) {
    client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace()).withName(job.getMetadata().getName())
        .withPropagationPolicy(DeletionPropagation.BACKGROUND)
        .delete();
    reads.deleted(job);
  }

  public void delete(MultimodalPretrainJob job) {
    client.resource(job).delete();
  }

  /** Writes the status subresource with the job's resourceVersion: a stale read fails with 409 and is retried. */
  public MultimodalPretrainJob writeStatus(MultimodalPretrainJob job) {
    MultimodalPretrainJob written = client.resource(job).updateStatus();
    reads.statusWritten(job, written);
    return written;
  }

  /** Reads from the API server: every read is a request, and always current. */
  record ApiReads(KubernetesClient client) implements Reads {

    @Override
    public <T extends HasMetadata> T get(T like) {
      return client.resource(like).get();
    }

    @Override
    public List<Job> jobs(String namespace, String job) {
      return client.batch().v1().jobs().inNamespace(namespace).withLabel(Labels.JOB, job).list().getItems();
    }

    @Override
    public List<Pod> pods(String namespace, String job) {
      return client.pods().inNamespace(namespace).withLabel(Labels.JOB, job).list().getItems();
    }
  }
}
