package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One stage's attempts, children and outcome. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class StageStatus {

  private String name;
  private StagePhase phase;
  /** Current attempt, from 1. */
  private Integer attempt;
  /** Failed attempts counted against maxRestarts. */
  private Integer restarts;
  /** Attempts ended by eviction, preemption or node loss (not counted). */
  private Integer disruptions;
  /** The current attempt's Job. */
  private String jobName;
  private String configMapName;
  private String serviceName;
  /** Hash of the stage spec when it started; later edits are rejected. */
  private String specHash;
  private String startTime;
  /** When the current attempt was created: scheduling.startupDeadlineSeconds counts from here. */
  private String attemptStartTime;
  private String completionTime;
  private FailureStatus lastFailure;
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
