package dev.kiln.local;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The Job controller's part that Kiln relies on: Indexed and NonIndexed completions, parallelism,
 * suspend, {@code backoffLimit} or {@code backoffLimitPerIndex}, {@code podFailurePolicy}, and the
 * Complete/Failed conditions with their counts. As on a cluster, its pods carry a tracking finalizer:
 * a pod deleted while it runs (an eviction, a drain) stays until it has stopped and been counted,
 * then disappears, so what it failed of survives only in the Job's status.
 */
final class JobController {

  static final String INDEX = "batch.kubernetes.io/job-completion-index";
  static final String TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";

  private final KubernetesClient client;
  private final Map<String, Tally> tallies = new HashMap<>();
  /** FailedCreate events already reported, by Job uid and message: one event for a cause, as counts stand in for repeats. */
  private final Set<String> failedCreates = new HashSet<>();
  private int podSerial;

  /** What the controller has counted of one Job's finished pods; its status is written from this. */
  private static final class Tally {
    final Set<String> counted = new HashSet<>();
    int failed;
    final Map<Integer, Integer> failuresPerIndex = new HashMap<>();
    final Set<Integer> failedIndexes = new TreeSet<>();
    String failJobMessage;
  }

  JobController(KubernetesClient client) {
    this.client = client;
  }

  void sync(Snapshot snapshot) {
    Set<String> jobUids = new HashSet<>();
    for (Job job : snapshot.jobs()) {
      jobUids.add(job.getMetadata().getUid());
      sync(job, snapshot.podsOf(job));
    }
    tallies.keySet().retainAll(jobUids);
    // Pods whose Job is gone: once stopped, nothing is left to count them.
    snapshot.pods().stream()
        .filter(p -> tracked(p) && finished(p) && !jobUids.contains(ownerUid(p)))
        .forEach(this::release);
  }

  private void sync(Job job, List<Pod> pods) {
    Tally tally = tallies.computeIfAbsent(job.getMetadata().getUid(), uid -> new Tally());
    var spec = job.getSpec();
    boolean indexed = "Indexed".equals(spec.getCompletionMode());
    Integer perIndexLimit = indexed ? spec.getBackoffLimitPerIndex() : null;
    for (Pod pod : pods) {
      if (finished(pod) && tally.counted.add(pod.getMetadata().getUid()) && !"Succeeded".equals(phase(pod))) {
        count(job, pod, tally, perIndexLimit);
      }
    }
    // As on a cluster, a counted pod loses its finalizer before the Job's status says what it counted.
    pods.stream().filter(p -> tracked(p) && finished(p)).forEach(this::release);
    List<Pod> active = pods.stream().filter(p -> !finished(p)).toList();
    if (finished(job)) {
      active.forEach(this::delete);
      return;
    }
    int completions = spec.getCompletions() == null ? 1 : spec.getCompletions();
    int parallelism = spec.getParallelism() == null ? 1 : spec.getParallelism();
    int backoffLimit = spec.getBackoffLimit() == null ? 6 : spec.getBackoffLimit();
    Set<Integer> succeededIndexes = new TreeSet<>();
    int succeeded = 0;
    for (Pod pod : pods) {
      if ("Succeeded".equals(phase(pod))) {
        succeeded++;
        succeededIndexes.add(index(pod));
      }
    }
    String failedIndexes = perIndexLimit == null ? null : indexList(tally.failedIndexes);
    if (Boolean.TRUE.equals(spec.getSuspend())) {
      active.forEach(this::delete);
      writeStatus(job, 0, succeeded, tally.failed, failedIndexes, null, null, null);
      return;
    }
    if (tally.failJobMessage != null) {
      active.forEach(this::delete);
      writeStatus(job, 0, succeeded, tally.failed, failedIndexes, "Failed", "PodFailurePolicy", tally.failJobMessage);
      return;
    }
    if (perIndexLimit == null && tally.failed > backoffLimit) {
      active.forEach(this::delete);
      writeStatus(job, 0, succeeded, tally.failed, failedIndexes, "Failed", "BackoffLimitExceeded",
          "Job has reached the specified backoff limit");
      return;
    }
    boolean complete = indexed ? succeededIndexes.size() >= completions : succeeded >= completions;
    if (complete) {
      writeStatus(job, 0, succeeded, tally.failed, failedIndexes, "Complete", null, null);
      return;
    }
    int running = active.size();
    if (indexed) {
      Set<Integer> busy = new TreeSet<>(succeededIndexes);
      busy.addAll(tally.failedIndexes);
      active.forEach(p -> busy.add(index(p)));
      if (busy.size() >= completions && running == 0) {
        // backoffLimitPerIndex: every index has run its course and some ran out of retries.
        writeStatus(job, 0, succeeded, tally.failed, failedIndexes, "Failed", "FailedIndexes", "Job has failed indexes");
        return;
      }
      for (int i = 0; i < completions && running < parallelism; i++) {
        if (!busy.contains(i)) {
          if (!create(job, i)) {
            break;
          }
          running++;
        }
      }
    } else {
      int wanted = Math.min(parallelism, completions - succeeded);
      for (; running < wanted; running++) {
        if (!create(job, null)) {
          break;
        }
      }
    }
    writeStatus(job, running, succeeded, tally.failed, failedIndexes, null, null, null);
  }

  /** One failed pod, through the Job's pod failure policy: ignored, counted, or failing its index or the Job. */
  private static void count(Job job, Pod pod, Tally tally, Integer perIndexLimit) {
    PodFailurePolicies.Verdict verdict = PodFailurePolicies.match(job, pod);
    if ("Ignore".equals(verdict.action())) {
      return;
    }
    tally.failed++;
    if ("FailJob".equals(verdict.action()) && tally.failJobMessage == null) {
      tally.failJobMessage = verdict.message();
    }
    if (perIndexLimit != null) {
      int failures = tally.failuresPerIndex.merge(index(pod), 1, Integer::sum);
      if ("FailIndex".equals(verdict.action()) || failures > perIndexLimit) {
        tally.failedIndexes.add(index(pod));
      }
    }
  }

  /** {@code 1,3,4}: the indexes as the Job's status lists them. */
  static String indexList(Set<Integer> indexes) {
    return indexes.isEmpty() ? null : String.join(",", indexes.stream().map(String::valueOf).toList());
  }

  /**
   * Creates a pod for {@code index}; false when the API server refuses it (a ResourceQuota, say),
   * which the Job controller reports as a FailedCreate event on the Job and tries again later.
   */
  private boolean create(Job job, Integer index) {
    try {
      createPod(job, index);
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403 && e.getCode() != 422) {
        throw e;
      }
      String message = "Error creating: " + (e.getStatus() != null && e.getStatus().getMessage() != null
          ? e.getStatus().getMessage() : e.getMessage());
      // Each try names a new pod: the cause, not the name, makes an event new.
      if (failedCreates.add(job.getMetadata().getUid() + " " + message.replaceFirst("pods \"[^\"]*\"", "pods"))) {
        String now = Instant.now().toString();
        client.v1().events().inNamespace(job.getMetadata().getNamespace()).resource(new EventBuilder()
            .withNewMetadata().withGenerateName(job.getMetadata().getName() + ".").endMetadata()
            .withNewInvolvedObject().withKind("Job").withApiVersion("batch/v1")
              .withNamespace(job.getMetadata().getNamespace()).withName(job.getMetadata().getName())
              .withUid(job.getMetadata().getUid()).endInvolvedObject()
            .withType("Warning").withReason("FailedCreate").withMessage(message).withCount(1)
            .withFirstTimestamp(now).withLastTimestamp(now).withNewSource().withComponent("job-controller").endSource()
            .build()).create();
      }
      return false;
    }
  }

  private void createPod(Job job, Integer index) {
    var template = job.getSpec().getTemplate();
    String name = job.getMetadata().getName();
    Map<String, String> labels = new HashMap<>();
    if (template.getMetadata() != null && template.getMetadata().getLabels() != null) {
      labels.putAll(template.getMetadata().getLabels());
    }
    labels.put("batch.kubernetes.io/job-name", name);
    labels.put("batch.kubernetes.io/controller-uid", job.getMetadata().getUid());
    Map<String, String> annotations = new HashMap<>();
    if (template.getMetadata() != null && template.getMetadata().getAnnotations() != null) {
      annotations.putAll(template.getMetadata().getAnnotations());
    }
    PodSpec spec = new PodBuilder().withSpec(template.getSpec()).build().getSpec();
    if (index != null) {
      labels.put(INDEX, index.toString());
      annotations.put(INDEX, index.toString());
      spec.setHostname(name + "-" + index);
    }
    String suffix = String.format("%5s", Integer.toString(++podSerial, 36)).replace(' ', '0');
    Pod pod = new PodBuilder()
        .withMetadata(new ObjectMetaBuilder()
            .withName(name + (index != null ? "-" + index : "") + "-" + suffix)
            .withNamespace(job.getMetadata().getNamespace())
            .withLabels(labels)
            .withAnnotations(annotations)
            .withFinalizers(TRACKING_FINALIZER)
            .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("batch/v1").withKind("Job").withName(name)
                .withUid(job.getMetadata().getUid()).withController(true).withBlockOwnerDeletion(true).build())
            .build())
        .withSpec(spec)
        .withNewStatus().withPhase("Pending").endStatus()
        .build();
    client.pods().inNamespace(job.getMetadata().getNamespace()).resource(pod).create();
  }

  private void writeStatus(Job job, int active, int succeeded, int failed, String failedIndexes, String condition,
      String reason, String message) {
    JobStatus current = job.getStatus() == null ? new JobStatus() : job.getStatus();
    boolean same = Objects.equals(current.getActive(), active) && Objects.equals(current.getSucceeded(), succeeded)
        && Objects.equals(current.getFailed(), failed) && Objects.equals(current.getFailedIndexes(), failedIndexes)
        && condition == null;
    if (same && current.getStartTime() != null) {
      return;
    }
    String now = Instant.now().toString();
    client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace()).withName(job.getMetadata().getName())
        .editStatus(j -> {
          JobStatus status = j.getStatus() == null ? new JobStatus() : j.getStatus();
          status.setActive(active);
          status.setSucceeded(succeeded);
          status.setFailed(failed);
          status.setFailedIndexes(failedIndexes);
          if (status.getStartTime() == null) {
            status.setStartTime(now);
          }
          if (condition != null) {
            List<JobCondition> conditions = new ArrayList<>(status.getConditions() == null ? List.of() : status.getConditions());
            conditions.add(new JobConditionBuilder().withType(condition).withStatus("True").withReason(reason)
                .withMessage(message).withLastTransitionTime(now).withLastProbeTime(now).build());
            status.setConditions(conditions);
            if ("Complete".equals(condition)) {
              status.setCompletionTime(now);
            }
          }
          j.setStatus(status);
          return j;
        });
  }

  private void delete(Pod pod) {
    if (pod.getMetadata().getDeletionTimestamp() == null) {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).delete();
    }
  }

  /** Removes the tracking finalizer; a pod already deleted then disappears. */
  private void release(Pod pod) {
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).edit(p -> {
      if (p.getMetadata().getFinalizers() != null) {
        p.getMetadata().setFinalizers(p.getMetadata().getFinalizers().stream()
            .filter(f -> !TRACKING_FINALIZER.equals(f)).toList());
      }
      return p;
    });
  }

  static boolean tracked(Pod pod) {
    return pod.getMetadata().getFinalizers() != null && pod.getMetadata().getFinalizers().contains(TRACKING_FINALIZER);
  }

  /**
   * Stopped for good: Succeeded or Failed, or deleted before any node ran it (the pod garbage
   * collector fails such a pod on a cluster).
   */
  static boolean finished(Pod pod) {
    return terminal(pod) || (deleting(pod) && pod.getSpec().getNodeName() == null);
  }

  static boolean deleting(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() != null;
  }

  private static String ownerUid(Pod pod) {
    var refs = pod.getMetadata().getOwnerReferences();
    return refs == null ? "" : refs.stream().filter(r -> "Job".equals(r.getKind())).map(r -> r.getUid()).findFirst().orElse("");
  }

  static boolean finished(Job job) {
    return job.getStatus() != null && job.getStatus().getConditions() != null && job.getStatus().getConditions().stream()
        .anyMatch(c -> ("Complete".equals(c.getType()) || "Failed".equals(c.getType())) && "True".equals(c.getStatus()));
  }

  static boolean terminal(Pod pod) {
    String phase = phase(pod);
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }

  static String phase(Pod pod) {
    return pod.getStatus() == null ? null : pod.getStatus().getPhase();
  }

  static int index(Pod pod) {
    var annotations = pod.getMetadata().getAnnotations();
    String value = annotations == null ? null : annotations.get(INDEX);
    return value == null ? -1 : Integer.parseInt(value);
  }
}
