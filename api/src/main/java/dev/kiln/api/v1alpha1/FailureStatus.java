package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Why an attempt ended badly. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class FailureStatus {

  @JsonPropertyDescription("PodFailed, Disrupted, NonRetryableExitCode, MaxRestartsExceeded, ...")
  private String reason;
  @JsonPropertyDescription("What went wrong, with the failing pod's last error line.")
  private String message;
  @JsonPropertyDescription("The failing container's exit code, when it exited.")
  private Integer exitCode;
  @JsonPropertyDescription("The attempt that failed.")
  private Integer attempt;
  @JsonPropertyDescription("The pod that failed first.")
  private String pod;
  @JsonPropertyDescription("When the failure was recorded.")
  private String time;

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

  public Integer getExitCode() {
    return exitCode;
  }

  public void setExitCode(Integer exitCode) {
    this.exitCode = exitCode;
  }

  public Integer getAttempt() {
    return attempt;
  }

  public void setAttempt(Integer attempt) {
    this.attempt = attempt;
  }

  public String getPod() {
    return pod;
  }

  public void setPod(String pod) {
    this.pod = pod;
  }

  public String getTime() {
    return time;
  }

  public void setTime(String time) {
    this.time = time;
  }
}
