package dev.kiln.cli.bench;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageStatus;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every status a watch saw of each job, checked as it arrives for going backwards: the phase
 * (queued, preparing data, training, finished) or the stage moving back, a stage's attempt
 * number falling or a finished stage running again, or the step falling within one attempt. A
 * status written from a stale read would do exactly that.
 */
public final class StatusHistory implements Watcher<MultimodalPretrainJob> {

  private final Map<String, MultimodalPretrainJob> last = new ConcurrentHashMap<>();
  private final List<String> backwards = java.util.Collections.synchronizedList(new ArrayList<>());

  @Override
  public void eventReceived(Action action, MultimodalPretrainJob job) {
    if (action == Action.DELETED || job.getStatus() == null) {
      return;
    }
    MultimodalPretrainJob before = last.put(job.getMetadata().getName(), job);
    if (before != null && before.getStatus() != null) {
      String why = wentBack(before, job);
      if (why != null) {
        backwards.add(job.getMetadata().getName() + ": " + why);
      }
    }
  }

  @Override
  public void onClose(WatcherException cause) {}

  /** How many statuses went backwards; each is printed. */
  public int backwards(PrintWriter err) {
    synchronized (backwards) {
      backwards.forEach(b -> err.println("status went backwards: " + b));
      return backwards.size();
    }
  }

  /** Why {@code after}'s status is behind {@code before}'s, or null when it is not. */
  static String wentBack(MultimodalPretrainJob before, MultimodalPretrainJob after) {
    MultimodalPretrainJobStatus old = before.getStatus();
    MultimodalPretrainJobStatus now = after.getStatus();
    if (rank(now.getPhase()) < rank(old.getPhase())) {
      return "phase " + old.getPhase() + " → " + now.getPhase();
    }
    List<String> stages = after.getSpec().stages().stream().map(s -> s.name()).toList();
    if (rank(now.getPhase()) == rank(old.getPhase()) && old.getStage() != null && now.getStage() != null
        && stages.indexOf(now.getStage()) < stages.indexOf(old.getStage())) {
      return "stage " + old.getStage() + " → " + now.getStage();
    }
    for (StageStatus stage : now.getStages()) {
      StageStatus was = old.getStages().stream().filter(s -> s.getName().equals(stage.getName())).findFirst()
          .orElse(null);
      if (was == null) {
        continue;
      }
      if (was.getAttempt() != null && (stage.getAttempt() == null || stage.getAttempt() < was.getAttempt())) {
        return "stage " + stage.getName() + " attempt " + was.getAttempt() + " → " + stage.getAttempt();
      }
      if (was.getPhase() == StagePhase.Succeeded && stage.getPhase() != StagePhase.Succeeded) {
        return "stage " + stage.getName() + " Succeeded → " + stage.getPhase();
      }
    }
    ProgressStatus was = old.getProgress();
    ProgressStatus is = now.getProgress();
    if (was != null && is != null && Objects.equals(was.getStage(), is.getStage())
        && Objects.equals(was.getAttempt(), is.getAttempt()) && was.getStep() != null
        && (is.getStep() == null || is.getStep() < was.getStep())) {
      return "stage " + is.getStage() + " attempt " + is.getAttempt() + " step " + was.getStep() + " → " + is.getStep();
    }
    return null;
  }

  /** Phases in the order a job moves through them; suspension and promotion belong to training. */
  private static int rank(JobPhase phase) {
    if (phase == null) {
      return 0;
    }
    return switch (phase) {
      case Pending, Queued -> 0;
      case DataPrep -> 1;
      case Training, AwaitingPromotion, Suspended -> 2;
      case Succeeded, Failed -> 3;
    };
  }
}
