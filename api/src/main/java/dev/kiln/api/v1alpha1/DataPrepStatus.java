package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.ArrayList;
import java.util.List;

/** Filter and pack Jobs of the data preparation. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class DataPrepStatus {

  @JsonPropertyDescription("Pending, Running, Succeeded or Failed.")
  private String phase;
  @JsonPropertyDescription("The filter Jobs, one per filtered source.")
  private List<String> filterJobs = new ArrayList<>();
  @JsonPropertyDescription("The packing Jobs made so far: each stage's prepare, plan, write and pack (finish) Jobs, in turn.")
  private List<String> packJobs = new ArrayList<>();
  @JsonPropertyDescription("How far the data Jobs running now are.")
  private DataPrepProgress progress;
  @JsonPropertyDescription("When the first data Job was created.")
  private String startTime;
  @JsonPropertyDescription("When the last data Job finished.")
  private String completionTime;

  public String getPhase() {
    return phase;
  }

  public void setPhase(String phase) {
    this.phase = phase;
  }

  public List<String> getFilterJobs() {
    return filterJobs;
  }

  public void setFilterJobs(List<String> filterJobs) {
    this.filterJobs = filterJobs;
  }

  public DataPrepProgress getProgress() {
    return progress;
  }

  public void setProgress(DataPrepProgress progress) {
    this.progress = progress;
  }

  public List<String> getPackJobs() {
    return packJobs;
  }

  public void setPackJobs(List<String> packJobs) {
    this.packJobs = packJobs;
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
}
