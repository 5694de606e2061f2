package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;

/** Why an attempt ended badly. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class FailureStatus {

  /** PodFailed, Disrupted, NonRetryableExitCode, MaxRestartsExceeded, ... */
  private String reason;
  private String message;
  private Integer exitCode;
  private Integer attempt;
  private String pod;
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
