package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** A checkpoint on the working volume. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointRef {

  @JsonPropertyDescription("The stage that wrote it.")
  private String stage;
  @JsonPropertyDescription("Its optimizer step.")
  private Long step;
  @JsonPropertyDescription("Its folder on the workspace claim, as pods mount it.")
  private String path;
  @JsonPropertyDescription("sha256 of its manifest.json, which lists the sha256 of every file.")
  private String manifestSha256;

  public String getStage() {
    return stage;
  }

  public void setStage(String stage) {
    this.stage = stage;
  }

  public Long getStep() {
    return step;
  }

  public void setStep(Long step) {
    this.step = step;
  }

  public String getPath() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }

  public String getManifestSha256() {
    return manifestSha256;
  }

  public void setManifestSha256(String manifestSha256) {
    this.manifestSha256 = manifestSha256;
  }
}
