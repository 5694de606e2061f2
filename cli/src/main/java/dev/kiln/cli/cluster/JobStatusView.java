package dev.kiln.cli.cluster;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.FailureStatus;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.QueueStatus;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.cli.run.ProgressView;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * Where a job on a cluster stands, in the words of {@code kiln status NAME}: phase and stage,
 * rank 0's step, loss, rate and ETA, its place in the queue, each stage's attempts, the last
 * failure, the health conditions, where the logs are, and the newest events.
 */
public final class JobStatusView {

  private static final ObjectMapper JSON = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final int EVENTS = 5;

  private JobStatusView() {}

  /** The job's status as read from its tree; an empty status for a job the operator has not seen yet. */
  public static MultimodalPretrainJobStatus status(JsonNode job) {
    try {
      return job.path("status").isObject() ? JSON.treeToValue(job.get("status"), MultimodalPretrainJobStatus.class)
          : new MultimodalPretrainJobStatus();
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("the job's status cannot be read: " + e.getOriginalMessage(), e);
    }
  }

  public static String render(JsonNode job, List<Event> events, List<Pod> pods, Instant now) {
    String namespace = job.at("/metadata/namespace").asText();
    String name = job.at("/metadata/name").asText();
    MultimodalPretrainJobStatus status = status(job);
    StringBuilder out = new StringBuilder();
    if (status.getPhase() == null) {
      return out.append(namespace).append('/').append(name).append(": not yet seen by the Kiln operator (no status);")
          .append(" is it installed and watching namespace ").append(namespace).append("?\n").toString();
    }
    out.append(namespace).append('/').append(name).append(": ").append(status.getPhase())
        .append(status.getStage() != null ? " " + status.getStage() : "")
        .append(status.getMessage() != null && !status.getMessage().isBlank() ? ": " + status.getMessage() : "").append('\n');
    ProgressStatus progress = status.getProgress();
    if (progress != null && progress.getStep() != null) {
      out.append(String.format(Locale.ROOT, "  progress   %s step %d/%d", progress.getStage(), progress.getStep(),
          progress.getTotalSteps() == null ? 0 : progress.getTotalSteps()));
      if (progress.getLoss() != null) {
        out.append(String.format(Locale.ROOT, "  loss %.4f", progress.getLoss()));
      }
      if (progress.getTokensPerSecond() != null) {
        out.append(String.format(Locale.ROOT, "  %.0f tok/s", progress.getTokensPerSecond()));
      }
      if (progress.getEtaSeconds() != null) {
        out.append("  ETA ").append(ProgressView.duration(progress.getEtaSeconds()));
      }
      if (progress.getUpdateTime() != null) {
        out.append("  (").append(ProgressView.duration(Math.max(0,
            Duration.between(Instant.parse(progress.getUpdateTime()), now).toSeconds()))).append(" ago)");
      }
      out.append('\n');
    } else if (progress != null && progress.getDisplay() != null) {
      // Data preparation's: its tasks done, rate and ETA, in the form kubectl shows.
      out.append("  progress   ").append(progress.getDisplay()).append('\n');
    }
    QueueStatus queue = status.getQueue();
    if (queue != null && queue.name() != null) {
      out.append("  queue      ").append(queue.name())
          .append(queue.position() != null ? ", position " + queue.position() : "")
          .append(queue.reason() != null ? ": " + queue.reason() : "").append('\n');
    }
    FailureStatus lastFailure = null;
    String failedStage = null;
    for (StageStatus stage : status.getStages()) {
      out.append(String.format(Locale.ROOT, "  %-10s %-18s attempt %d, restarts %d, disruptions %d%n", stage.getName(),
          stage.getPhase(), orZero(stage.getAttempt()), orZero(stage.getRestarts()), orZero(stage.getDisruptions())));
      FailureStatus failure = stage.getLastFailure();
      if (failure != null && (lastFailure == null || String.valueOf(failure.getTime()).compareTo(String.valueOf(lastFailure.getTime())) > 0)) {
        lastFailure = failure;
        failedStage = stage.getName();
      }
    }
    if (lastFailure != null) {
      out.append("  last failure  ").append(failedStage).append(" attempt ").append(lastFailure.getAttempt()).append(": ")
          .append(lastFailure.getReason()).append(lastFailure.getMessage() != null ? ": " + lastFailure.getMessage() : "")
          .append(lastFailure.getPod() != null ? " (pod " + lastFailure.getPod() + ")" : "")
          .append(lastFailure.getTime() != null ? " at " + lastFailure.getTime() : "").append('\n');
    }
    StringBuilder health = new StringBuilder();
    for (String type : List.of("Ready", "Reconciling", "Stalled")) {
      status.getConditions().stream().filter(c -> type.equals(c.getType())).findFirst()
          .ifPresent(c -> health.append(health.isEmpty() ? "" : " ").append(type).append('=').append(c.getStatus()));
    }
    if (!health.isEmpty()) {
      out.append("  health     ").append(health).append('\n');
    }
    out.append("  logs       ").append(logs(namespace, name, status, pods)).append('\n');
    List<Event> newest = events.subList(Math.max(0, events.size() - EVENTS), events.size());
    if (!newest.isEmpty()) {
      out.append("  events\n");
      for (Event event : newest) {
        out.append("    ").append(event.getType()).append(' ').append(event.getReason()).append(": ")
            .append(event.getMessage()).append('\n');
      }
    }
    return out.toString();
  }

  /** The kubectl command that shows the logs that matter now: the stage's trainers, or the data Jobs'. */
  private static String logs(String namespace, String name, MultimodalPretrainJobStatus status, List<Pod> pods) {
    String selector = "kiln.dev/job=" + name + (status.getStage() != null && !"DataPrep".equals(String.valueOf(status.getPhase()))
        ? ",kiln.dev/stage=" + status.getStage() : "");
    return "kubectl logs -n " + namespace + " -l " + selector + " --prefix --tail=50"
        + (pods.isEmpty() ? " (no pods now)" : " (" + pods.size() + " pod" + (pods.size() == 1 ? "" : "s") + ")");
  }

  /** Whether the job has finished: nothing more will change without a person. */
  public static boolean finished(MultimodalPretrainJobStatus status) {
    return status.getPhase() != null && status.getPhase().isFinished();
  }

  private static int orZero(Integer value) {
    return value == null ? 0 : value;
  }
}
