package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** How far the data Jobs running now are: their tasks done, the samples their finished tasks read, and an ETA. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class DataPrepProgress {

  @JsonPropertyDescription("What runs: filter, or the packing steps under way (prepare, plan, write, finish).")
  private String step;
  @JsonPropertyDescription("Tasks (Indexed Job completions) of the running data Jobs that have finished.")
  private Integer tasksDone;
  @JsonPropertyDescription("Tasks of the running data Jobs in all.")
  private Integer tasks;
  @JsonPropertyDescription("Samples the finished tasks read.")
  private Long samplesRead;
  @JsonPropertyDescription("Samples the finished tasks kept (filter) or prepared (packing).")
  private Long samplesKept;
  @JsonPropertyDescription("Samples the finished tasks found unusable, skipped and counted.")
  private Long samplesBad;
  @JsonPropertyDescription("Samples read per second since the running data Jobs started.")
  private Double samplesPerSecond;
  @JsonPropertyDescription("Estimated seconds until the running data Jobs finish, from the tasks done so far.")
  private Long etaSeconds;
  @JsonPropertyDescription("When the operator last saw a task finish.")
  private String updateTime;

  public String getStep() {
    return step;
  }

  public void setStep(String step) {
    this.step = step;
  }

  public Integer getTasksDone() {
    return tasksDone;
  }

  public void setTasksDone(Integer tasksDone) {
    this.tasksDone = tasksDone;
  }

  public Integer getTasks() {
    return tasks;
  }

  public void setTasks(Integer tasks) {
    this.tasks = tasks;
  }

  public Long getSamplesRead() {
    return samplesRead;
  }

  public void setSamplesRead(Long samplesRead) {
    this.samplesRead = samplesRead;
  }

  public Long getSamplesKept() {
    return samplesKept;
  }

  public void setSamplesKept(Long samplesKept) {
    this.samplesKept = samplesKept;
  }

  public Long getSamplesBad() {
    return samplesBad;
  }

  public void setSamplesBad(Long samplesBad) {
    this.samplesBad = samplesBad;
  }

  public Double getSamplesPerSecond() {
    return samplesPerSecond;
  }

  public void setSamplesPerSecond(Double samplesPerSecond) {
    this.samplesPerSecond = samplesPerSecond;
  }

  public Long getEtaSeconds() {
    return etaSeconds;
  }

  public void setEtaSeconds(Long etaSeconds) {
    this.etaSeconds = etaSeconds;
  }

  public String getUpdateTime() {
    return updateTime;
  }

  public void setUpdateTime(String updateTime) {
    this.updateTime = updateTime;
  }
}
