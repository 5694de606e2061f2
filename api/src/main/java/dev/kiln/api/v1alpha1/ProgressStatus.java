package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Training progress reported by rank 0: read while the stage trains, and its final numbers when it ends. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProgressStatus {

  @JsonPropertyDescription("The stage and attempt the numbers are from.")
  private String stage;
  @JsonPropertyDescription("The attempt the numbers are from.")
  private Integer attempt;
  @JsonPropertyDescription("Optimizer steps done.")
  private Long step;
  @JsonPropertyDescription("Steps the budget allows.")
  private Long totalSteps;
  @JsonPropertyDescription("Packed tokens trained on.")
  private Long tokens;
  @JsonPropertyDescription("Absent when rank 0 reported a non-finite loss: a status holding NaN would be refused whole by the API server.")
  private Double loss;
  @JsonPropertyDescription("Training throughput over the last interval.")
  private Double tokensPerSecond;
  @JsonPropertyDescription("Estimated seconds to the end of the stage.")
  private Long etaSeconds;
  @JsonPropertyDescription("Short form for kubectl: stage step/total.")
  private String display;
  @JsonPropertyDescription("When the operator last saw the step advance (or the stage end).")
  private String updateTime;

  public String getStage() {
    return stage;
  }

  public void setStage(String stage) {
    this.stage = stage;
  }

  public Integer getAttempt() {
    return attempt;
  }

  public void setAttempt(Integer attempt) {
    this.attempt = attempt;
  }

  public Long getStep() {
    return step;
  }

  public void setStep(Long step) {
    this.step = step;
  }

  public Long getTotalSteps() {
    return totalSteps;
  }

  public void setTotalSteps(Long totalSteps) {
    this.totalSteps = totalSteps;
  }

  public Long getTokens() {
    return tokens;
  }

  public void setTokens(Long tokens) {
    this.tokens = tokens;
  }

  public Double getLoss() {
    return loss;
  }

  public void setLoss(Double loss) {
    this.loss = finiteOrNull(loss);
  }

  public Double getTokensPerSecond() {
    return tokensPerSecond;
  }

  public void setTokensPerSecond(Double tokensPerSecond) {
    this.tokensPerSecond = finiteOrNull(tokensPerSecond);
  }

  /** JSON has no NaN or infinity; Jackson would write them as strings, which a number field refuses. */
  private static Double finiteOrNull(Double value) {
    return value == null || Double.isFinite(value) ? value : null;
  }

  public Long getEtaSeconds() {
    return etaSeconds;
  }

  public void setEtaSeconds(Long etaSeconds) {
    this.etaSeconds = etaSeconds;
  }

  public String getDisplay() {
    return display;
  }

  public void setDisplay(String display) {
    this.display = display;
  }

  public String getUpdateTime() {
    return updateTime;
  }

  public void setUpdateTime(String updateTime) {
    this.updateTime = updateTime;
  }
}
