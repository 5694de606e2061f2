package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What a queue holds now: GPUs of its admitted stages, and which jobs run and wait (namespace/name, in order). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class TrainingQueueStatus {

  /** Jobs listed at most, so that the object stays small with thousands of jobs; the counts are exact. */
  public static final int LISTED = 50;

  @JsonPropertyDescription("GPUs the stages admitted from this queue hold now.")
  private Integer gpusInUse;
  @JsonPropertyDescription("Of gpusInUse, those beyond gpuQuota: borrowed from the cohort.")
  private Integer gpusBorrowed;
  @JsonPropertyDescription("Of each resource in spec.resourceQuotas (cpu, memory), what the stages admitted from this"
      + " queue request now, as a quantity.")
  private Map<String, String> resourcesInUse;
  @JsonPropertyDescription("Of resourcesInUse, what is beyond the resource's nominal quota: borrowed from the cohort.")
  private Map<String, String> resourcesBorrowed;
  @JsonPropertyDescription("Stage attempts admitted and running.")
  private Integer admittedCount;
  @JsonPropertyDescription("Stages waiting.")
  private Integer pendingCount;
  @JsonPropertyDescription("The first 50 admitted jobs, namespace/name, oldest first.")
  private List<String> admitted = new ArrayList<>();
  @JsonPropertyDescription("The first 50 waiting jobs, namespace/name, next first.")
  private List<String> pending = new ArrayList<>();

  public Integer getGpusInUse() {
    return gpusInUse;
  }

  public void setGpusInUse(Integer gpusInUse) {
    this.gpusInUse = gpusInUse;
  }

  public Integer getGpusBorrowed() {
    return gpusBorrowed;
  }

  public void setGpusBorrowed(Integer gpusBorrowed) {
    this.gpusBorrowed = gpusBorrowed;
  }

  public Map<String, String> getResourcesInUse() {
    return resourcesInUse;
  }

  public void setResourcesInUse(Map<String, String> resourcesInUse) {
    this.resourcesInUse = resourcesInUse;
  }

  public Map<String, String> getResourcesBorrowed() {
    return resourcesBorrowed;
  }

  public void setResourcesBorrowed(Map<String, String> resourcesBorrowed) {
    this.resourcesBorrowed = resourcesBorrowed;
  }

  public Integer getAdmittedCount() {
    return admittedCount;
  }

  public void setAdmittedCount(Integer admittedCount) {
    this.admittedCount = admittedCount;
  }

  public Integer getPendingCount() {
    return pendingCount;
  }

  public void setPendingCount(Integer pendingCount) {
    this.pendingCount = pendingCount;
  }

  public List<String> getAdmitted() {
    return admitted;
  }

  public void setAdmitted(List<String> admitted) {
    this.admitted = admitted;
  }

  public List<String> getPending() {
    return pending;
  }

  public void setPending(List<String> pending) {
    this.pending = pending;
  }
}
