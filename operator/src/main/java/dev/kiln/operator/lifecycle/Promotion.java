package dev.kiln.operator.lifecycle;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.TrainerSummary;
import dev.kiln.api.v1alpha1.CheckpointRef;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.PromotionSpec;
import dev.kiln.api.v1alpha1.StagePhase;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.operator.status.JobStatusAggregator;
import java.util.Map;

/**
 * A stage's end: records its final checkpoint once its attempt succeeds, then promotes it past
 * the stage's promotion gate (minimum step, maximum loss, manual approval) so the next stage can
 * start from it.
 */
final class Promotion {

  private final EventRecorder events;
  private final JobOutcomes outcomes;

  Promotion(EventRecorder events, JobOutcomes outcomes) {
    this.events = events;
    this.outcomes = outcomes;
  }

  /** Records a succeeded attempt's final checkpoint, and its last progress: the stage awaits promotion. */
  void finishStage(MultimodalPretrainJob job, JobStatusAggregator status, int index, TrainerSummary summary) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    CheckpointRef checkpoint = new CheckpointRef();
    checkpoint.setStage(spec.name());
    if (summary != null) {
      Reproducibility.recordInitialWeights(status, summary.initialWeightsSha256());
      checkpoint.setStep(summary.step());
      checkpoint.setPath(summary.checkpoint());
      checkpoint.setManifestSha256(summary.manifestSha256());
      ProgressStatus progress = new ProgressStatus();
      progress.setStage(spec.name());
      progress.setAttempt(stage.getAttempt());
      progress.setTotalSteps(summary.step());
      progress.setEtaSeconds(0L);
      progress.setStep(summary.step());
      progress.setTokens(summary.tokens());
      progress.setLoss(summary.loss());
      progress.setDisplay(spec.name() + " done" + (summary.step() != null ? " @" + summary.step() : ""));
      progress.setUpdateTime(status.now());
      status.current().setProgress(progress);
    }
    if (checkpoint.getPath() == null) {
      checkpoint.setPath(PodPaths.checkpoints(spec.name()) + "/latest");
    }
    stage.setFinalCheckpoint(checkpoint);
    stage.setCompletionTime(status.now());
    status.current().getCheckpoints().setLatest(checkpoint);
    stage.setPhase(StagePhase.AwaitingPromotion);
    status.condition(JobStatusAggregator.stageCompleteType(spec.name()), true, "AttemptSucceeded",
        "final checkpoint " + checkpoint.getPath());
    events.normal(job, "StageComplete", "stage " + spec.name() + " complete; final checkpoint " + checkpoint.getPath());
  }

  /** Promotes a complete stage through its gate: CONTINUE once promoted, else STOP (awaiting approval, or failed). */
  Next promote(MultimodalPretrainJob job, JobStatusAggregator status, int index) {
    StageSpec spec = job.getSpec().stages().get(index);
    StageStatus stage = status.stage(spec.name());
    CheckpointRef checkpoint = stage.getFinalCheckpoint();
    PromotionSpec gate = spec.promotion();
    if (gate.minStep() != null && (checkpoint.getStep() == null || checkpoint.getStep() < gate.minStep())) {
      stage.setPhase(StagePhase.Failed);
      outcomes.fail(job, status, "PromotionGateFailed", "stage " + spec.name() + " ended at step "
          + checkpoint.getStep() + ", before promotion.minStep " + gate.minStep());
      return Next.STOP;
    }
    Double loss = status.current().getProgress() != null ? status.current().getProgress().getLoss() : null;
    if (gate.maxLoss() != null && (loss == null || loss > gate.maxLoss())) {
      stage.setPhase(StagePhase.Failed);
      outcomes.fail(job, status, "PromotionGateFailed", "stage " + spec.name() + " final loss " + loss
          + " is above promotion.maxLoss " + gate.maxLoss());
      return Next.STOP;
    }
    if (gate.mode() == PromotionSpec.Mode.MANUAL && !gate.approved() && !approvedByAnnotation(job, spec.name())) {
      status.condition(JobStatusAggregator.PROMOTED, false, "AwaitingApproval",
          "stage " + spec.name() + " waits for promotion.approved: true or annotation "
              + JobLifecycle.APPROVE_PROMOTION + "=" + spec.name());
      if (status.current().getPhase() != JobPhase.AwaitingPromotion) {
        events.normal(job, "AwaitingPromotion", "stage " + spec.name() + " complete; approve to promote");
      }
      status.phase(JobPhase.AwaitingPromotion, "AwaitingApproval", "approve stage " + spec.name() + " to continue");
      return Next.STOP;
    }
    stage.setPhase(StagePhase.Succeeded);
    status.current().getCheckpoints().setPromoted(checkpoint);
    status.condition(JobStatusAggregator.PROMOTED, true, "Promoted",
        "stage " + spec.name() + " promoted: " + checkpoint.getPath());
    events.normal(job, "Promoted", "stage " + spec.name() + " promoted: " + checkpoint.getPath());
    return Next.CONTINUE;
  }

  private static boolean approvedByAnnotation(MultimodalPretrainJob job, String stage) {
    Map<String, String> annotations = job.getMetadata().getAnnotations();
    return annotations != null && stage.equals(annotations.get(JobLifecycle.APPROVE_PROMOTION));
  }

  /** The promoted checkpoint of the stage named by initFrom; null for a stage that starts fresh. */
  static String initFromCheckpoint(MultimodalPretrainJob job, JobStatusAggregator status, StageSpec spec) {
    if (spec.initFrom() == null) {
      return null;
    }
    CheckpointRef promoted = status.stage(spec.initFrom()).getFinalCheckpoint();
    return promoted != null ? promoted.getPath() : PodPaths.checkpoints(spec.initFrom()) + "/latest";
  }
}
