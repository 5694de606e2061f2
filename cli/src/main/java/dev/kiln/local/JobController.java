package dev.kiln.local;

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
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The Job controller's part that Kiln relies on: Indexed and NonIndexed completions, parallelism,
 * backoffLimit, suspend, and the Complete/Failed conditions with their counts.
 */
final class JobController {

  static final String INDEX = "batch.kubernetes.io/job-completion-index";

  private final KubernetesClient client;
  private int podSerial;

  JobController(KubernetesClient client) {
    this.client = client;
  }

  void sync(Snapshot snapshot) {
    for (Job job : snapshot.jobs()) {
      sync(job, snapshot.podsOf(job));
    }
  }

  private void sync(Job job, List<Pod> pods) {
    List<Pod> active = pods.stream().filter(p -> !terminal(p)).toList();
    if (finished(job)) {
      active.forEach(this::delete);
      return;
    }
    var spec = job.getSpec();
    int completions = spec.getCompletions() == null ? 1 : spec.getCompletions();
    int parallelism = spec.getParallelism() == null ? 1 : spec.getParallelism();
    int backoffLimit = spec.getBackoffLimit() == null ? 6 : spec.getBackoffLimit();
    boolean indexed = "Indexed".equals(spec.getCompletionMode());
    int failed = (int) pods.stream().filter(p -> "Failed".equals(phase(p))).count();
    Set<Integer> succeededIndexes = new TreeSet<>();
    int succeeded = 0;
    for (Pod pod : pods) {
      if ("Succeeded".equals(phase(pod))) {
        succeeded++;
        succeededIndexes.add(index(pod));
      }
    }
    if (Boolean.TRUE.equals(spec.getSuspend())) {
      active.forEach(this::delete);
      writeStatus(job, 0, succeeded, failed, null, null);
      return;
    }
    if (failed > backoffLimit) {
      active.forEach(this::delete);
      writeStatus(job, 0, succeeded, failed, "Failed", "BackoffLimitExceeded");
      return;
    }
    boolean complete = indexed ? succeededIndexes.size() >= completions : succeeded >= completions;
    if (complete) {
      writeStatus(job, 0, succeeded, failed, "Complete", null);
      return;
    }
    int running = active.size();
    if (indexed) {
      Set<Integer> busy = new TreeSet<>(succeededIndexes);
      active.forEach(p -> busy.add(index(p)));
      for (int i = 0; i < completions && running < parallelism; i++) {
        if (!busy.contains(i)) {
          create(job, i);
          running++;
        }
      }
    } else {
      int wanted = Math.min(parallelism, completions - succeeded);
      for (; running < wanted; running++) {
        create(job, null);
      }
    }
    writeStatus(job, running, succeeded, failed, null, null);
  }

  private void create(Job job, Integer index) {
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
            .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("batch/v1").withKind("Job").withName(name)
                .withUid(job.getMetadata().getUid()).withController(true).withBlockOwnerDeletion(true).build())
            .build())
        .withSpec(spec)
        .withNewStatus().withPhase("Pending").endStatus()
        .build();
    client.pods().inNamespace(job.getMetadata().getNamespace()).resource(pod).create();
  }

  private void writeStatus(Job job, int active, int succeeded, int failed, String condition, String reason) {
    JobStatus current = job.getStatus() == null ? new JobStatus() : job.getStatus();
    boolean same = Objects.equals(current.getActive(), active) && Objects.equals(current.getSucceeded(), succeeded)
        && Objects.equals(current.getFailed(), failed) && condition == null;
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
          if (status.getStartTime() == null) {
            status.setStartTime(now);
          }
          if (condition != null) {
            List<JobCondition> conditions = new ArrayList<>(status.getConditions() == null ? List.of() : status.getConditions());
            conditions.add(new JobConditionBuilder().withType(condition).withStatus("True").withReason(reason)
                .withMessage("Failed".equals(condition) ? "Job has reached the specified backoff limit" : null)
                .withLastTransitionTime(now).withLastProbeTime(now).build());
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
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).delete();
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
