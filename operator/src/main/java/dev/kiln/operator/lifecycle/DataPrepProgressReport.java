package dev.kiln.operator.lifecycle;

import dev.kiln.api.runconfig.DataTaskSummary;
import dev.kiln.api.v1alpha1.DataPrepProgress;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * How far the data Jobs running now are, read from what the caches already hold: each Job's
 * completions and succeeded count, and the samples its finished pods reported. Changes only when a
 * task finishes, so a day of data preparation writes the status once per task, not per reconcile.
 */
final class DataPrepProgressReport {

  private DataPrepProgressReport() {}

  /** Progress of {@code running} (the Jobs of {@code step}), as of {@code now}. */
  static DataPrepProgress of(String step, List<Job> running, Function<Job, List<Pod>> pods, Instant now) {
    int tasks = 0;
    int done = 0;
    long read = 0;
    long kept = 0;
    long bad = 0;
    Instant start = null;
    for (Job job : running) {
      tasks += job.getSpec().getCompletions() == null ? 1 : job.getSpec().getCompletions();
      done += succeeded(job);
      for (DataTaskSummary summary : AttemptObserver.summariesByIndex(pods.apply(job), DataTaskSummary.class).values()) {
        read += summary.samplesRead() == null ? 0 : summary.samplesRead();
        kept += summary.samplesKept() == null ? 0 : summary.samplesKept();
        bad += summary.samplesBad() == null ? 0 : summary.samplesBad();
      }
      String started = job.getStatus() == null || job.getStatus().getStartTime() == null
          ? job.getMetadata().getCreationTimestamp() : job.getStatus().getStartTime();
      if (started != null && (start == null || Instant.parse(started).isBefore(start))) {
        start = Instant.parse(started);
      }
    }
    DataPrepProgress progress = new DataPrepProgress();
    progress.setStep(step);
    progress.setTasks(tasks);
    progress.setTasksDone(done);
    if (read > 0) {
      progress.setSamplesRead(read);
      progress.setSamplesKept(kept);
      progress.setSamplesBad(bad);
    }
    long elapsed = start == null ? 0 : Math.max(0, Duration.between(start, now).toSeconds());
    if (elapsed > 0 && read > 0) {
      progress.setSamplesPerSecond((double) Math.round(10.0 * read / elapsed) / 10);
    }
    if (elapsed > 0 && done > 0 && done < tasks) {
      progress.setEtaSeconds(elapsed * (tasks - done) / done);
    }
    progress.setUpdateTime(now.toString());
    return progress;
  }

  /** Tasks of {@code job} that have finished. */
  static int succeeded(Job job) {
    return job.getStatus() == null || job.getStatus().getSucceeded() == null ? 0 : job.getStatus().getSucceeded();
  }

  /** Whether {@code next} says something {@code current} does not: a task finished, or another step began. */
  static boolean advanced(DataPrepProgress current, DataPrepProgress next) {
    return current == null || !Objects.equals(current.getStep(), next.getStep())
        || !Objects.equals(current.getTasks(), next.getTasks())
        || !Objects.equals(current.getTasksDone(), next.getTasksDone())
        || !Objects.equals(current.getSamplesRead(), next.getSamplesRead());
  }

  /** The short form kubectl shows: {@code filter 12/40 tasks, 1520.5 samples/s, ETA 1h05m}. */
  static String display(DataPrepProgress progress) {
    StringBuilder out = new StringBuilder(progress.getStep()).append(' ').append(progress.getTasksDone()).append('/')
        .append(progress.getTasks()).append(" tasks");
    if (progress.getSamplesPerSecond() != null) {
      out.append(", ").append(progress.getSamplesPerSecond()).append(" samples/s");
    }
    if (progress.getEtaSeconds() != null) {
      long eta = progress.getEtaSeconds();
      out.append(", ETA ").append(eta >= 3600 ? String.format("%dh%02dm", eta / 3600, eta % 3600 / 60)
          : eta >= 60 ? String.format("%dm%02ds", eta / 60, eta % 60) : eta + "s");
    }
    return out.toString();
  }
}
