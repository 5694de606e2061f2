package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed and decided; written only through the status aggregator. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class MultimodalPretrainJobStatus {

  @JsonPropertyDescription("The spec generation (metadata.generation) this status was written for.")
  private Long observedGeneration;
  @JsonPropertyDescription("Pending, Queued, DataPrep, Training, AwaitingPromotion, Suspended, Succeeded or Failed.")
  private JobPhase phase;
  @JsonPropertyDescription("The stage running or next to run.")
  private String stage;
  @JsonPropertyDescription("Machine-readable reason for the phase.")
  private String reason;
  @JsonPropertyDescription("Human-readable explanation of the phase.")
  private String message;
  @JsonPropertyDescription("Failed attempts over all stages (disruptions excluded).")
  private Integer restarts;
  @JsonPropertyDescription("The queue the current stage waits in or was admitted from, its place while waiting, and why.")
  private QueueStatus queue;
  @JsonPropertyDescription("When the operator first reconciled the job.")
  private String startTime;
  @JsonPropertyDescription("When the job reached Succeeded or Failed.")
  private String completionTime;
  @JsonPropertyDescription("The spec.restartNonce last acted on.")
  private String observedRestartNonce;
  @JsonPropertyDescription("Validated, Admitted, DataReady, Promoted, Succeeded, Failed, Suspended and Stalled, each True or False with a reason.")
  private List<Condition> conditions = new ArrayList<>();
  @JsonPropertyDescription("The filter and pack Jobs and their phase.")
  private DataPrepStatus dataPrep;
  @JsonPropertyDescription("One entry per stage started so far, in spec order.")
  @io.fabric8.generator.annotation.Size(max = Bounds.STAGES)
  private List<StageStatus> stages = new ArrayList<>();
  @JsonPropertyDescription("The workspace claim, the newest checkpoint and the last promoted one.")
  private CheckpointsStatus checkpoints;
  @JsonPropertyDescription("Training progress read from rank 0 while a stage trains, and its final numbers when it ends.")
  private ProgressStatus progress;
  @JsonPropertyDescription("Hashes of the spec, model and packed data, and the images used: what re-running the job needs.")
  private ReproducibilityStatus reproducibility;

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public JobPhase getPhase() {
    return phase;
  }

  public void setPhase(JobPhase phase) {
    this.phase = phase;
  }

  public String getStage() {
    return stage;
  }

  public void setStage(String stage) {
    this.stage = stage;
  }

  public String getReason() {
    return reason;
  }

  public void setReason(String reason) {
    this.reason = reason;
  }

  public String getMessage() {
    return message;
  }

  public void setMessage(String message) {
    this.message = message;
  }

  public Integer getRestarts() {
    return restarts;
  }

  public void setRestarts(Integer restarts) {
    this.restarts = restarts;
  }

  public QueueStatus getQueue() {
    return queue;
  }

  public void setQueue(QueueStatus queue) {
    this.queue = queue;
  }

  public String getStartTime() {
    return startTime;
  }

  public void setStartTime(String startTime) {
    this.startTime = startTime;
  }

  public String getCompletionTime() {
    return completionTime;
  }

  public void setCompletionTime(String completionTime) {
    this.completionTime = completionTime;
  }

  public String getObservedRestartNonce() {
    return observedRestartNonce;
  }

  public void setObservedRestartNonce(String observedRestartNonce) {
    this.observedRestartNonce = observedRestartNonce;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  public DataPrepStatus getDataPrep() {
    return dataPrep;
  }

  public void setDataPrep(DataPrepStatus dataPrep) {
    this.dataPrep = dataPrep;
  }

  public List<StageStatus> getStages() {
    return stages;
  }

  public void setStages(List<StageStatus> stages) {
    this.stages = stages;
  }

  public CheckpointsStatus getCheckpoints() {
    return checkpoints;
  }

  public void setCheckpoints(CheckpointsStatus checkpoints) {
    this.checkpoints = checkpoints;
  }

  public ProgressStatus getProgress() {
    return progress;
  }

  public void setProgress(ProgressStatus progress) {
    this.progress = progress;
  }

  public ReproducibilityStatus getReproducibility() {
    return reproducibility;
  }

  public void setReproducibility(ReproducibilityStatus reproducibility) {
    this.reproducibility = reproducibility;
  }
}
