package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** One stage's attempts, children and outcome. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class StageStatus {

  @JsonPropertyDescription("The stage, as spec.stages[].name names it.")
  private String name;
  @JsonPropertyDescription("Pending, Running, Restarting, AwaitingPromotion, Succeeded or Failed.")
  private StagePhase phase;
  @JsonPropertyDescription("Current attempt, from 1.")
  private Integer attempt;
  @JsonPropertyDescription("Failed attempts counted against maxRestarts.")
  private Integer restarts;
  @JsonPropertyDescription("Attempts ended by eviction, preemption or node loss (not counted).")
  private Integer disruptions;
  @JsonPropertyDescription("The current attempt's Job.")
  private String jobName;
  @JsonPropertyDescription("The current attempt's run-config ConfigMap.")
  private String configMapName;
  @JsonPropertyDescription("The headless Service the ranks meet through (rank 0 is <job>-<stage>-a<N>-0.<service>).")
  private String serviceName;
  @JsonPropertyDescription("Hash of the stage spec when it started; later edits are rejected.")
  private String specHash;
  @JsonPropertyDescription("When the stage's first attempt was created.")
  private String startTime;
  @JsonPropertyDescription("When the current attempt was created: scheduling.startupDeadlineSeconds counts from here.")
  private String attemptStartTime;
  @JsonPropertyDescription("Attempts in a row whose pods did not all start within scheduling.startupDeadlineSeconds (reset when one does).")
  private Integer startupFailures;
  @JsonPropertyDescription("Until when the stage waits, backing off after a startup failure, before it asks its queue again.")
  private String requeueTime;
  @JsonPropertyDescription("When the stage succeeded or failed.")
  private String completionTime;
  @JsonPropertyDescription("The last attempt that ended badly, and why.")
  private FailureStatus lastFailure;
  @JsonPropertyDescription("The checkpoint the stage ended with (rank 0's summary): what promotion hands to the next stage.")
  private CheckpointRef finalCheckpoint;

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  public StagePhase getPhase() {
    return phase;
  }

  public void setPhase(StagePhase phase) {
    this.phase = phase;
  }

  public Integer getAttempt() {
    return attempt;
  }

  public void setAttempt(Integer attempt) {
    this.attempt = attempt;
  }

  public Integer getRestarts() {
    return restarts;
  }

  public void setRestarts(Integer restarts) {
    this.restarts = restarts;
  }

  public Integer getDisruptions() {
    return disruptions;
  }

  public void setDisruptions(Integer disruptions) {
    this.disruptions = disruptions;
  }

  public String getJobName() {
    return jobName;
  }

  public void setJobName(String jobName) {
    this.jobName = jobName;
  }

  public String getConfigMapName() {
    return configMapName;
  }

  public void setConfigMapName(String configMapName) {
    this.configMapName = configMapName;
  }

  public String getServiceName() {
    return serviceName;
  }

  public void setServiceName(String serviceName) {
    this.serviceName = serviceName;
  }

  public String getSpecHash() {
    return specHash;
  }

  public void setSpecHash(String specHash) {
    this.specHash = specHash;
  }

  public Integer getStartupFailures() {
    return startupFailures;
  }

  public void setStartupFailures(Integer startupFailures) {
    this.startupFailures = startupFailures;
  }

  public String getRequeueTime() {
    return requeueTime;
  }

  public void setRequeueTime(String requeueTime) {
    this.requeueTime = requeueTime;
  }

  public String getAttemptStartTime() {
    return attemptStartTime;
  }

  public void setAttemptStartTime(String attemptStartTime) {
    this.attemptStartTime = attemptStartTime;
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

  public FailureStatus getLastFailure() {
    return lastFailure;
  }

  public void setLastFailure(FailureStatus lastFailure) {
    this.lastFailure = lastFailure;
  }

  public CheckpointRef getFinalCheckpoint() {
    return finalCheckpoint;
  }

  public void setFinalCheckpoint(CheckpointRef finalCheckpoint) {
    this.finalCheckpoint = finalCheckpoint;
  }
}
