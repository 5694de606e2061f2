package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;

/** A checkpoint on the working volume. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointRef {

  private String stage;
  private Long step;
  private String path;
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
