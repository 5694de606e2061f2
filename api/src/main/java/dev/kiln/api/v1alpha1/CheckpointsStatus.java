package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The job's working volume and its notable checkpoints. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointsStatus {

  @JsonPropertyDescription("The workspace claim holding checkpoints, packed data and metrics.")
  private String claimName;
  @JsonPropertyDescription("The newest checkpoint of any stage.")
  private CheckpointRef latest;
  @JsonPropertyDescription("The checkpoint the last promotion handed on.")
  private CheckpointRef promoted;

  public String getClaimName() {
    return claimName;
  }

  public void setClaimName(String claimName) {
    this.claimName = claimName;
  }

  public CheckpointRef getLatest() {
    return latest;
  }

  public void setLatest(CheckpointRef latest) {
    this.latest = latest;
  }

  public CheckpointRef getPromoted() {
    return promoted;
  }

  public void setPromoted(CheckpointRef promoted) {
    this.promoted = promoted;
  }
}
