package dev.kiln.api.runconfig;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What rank 0 serves at {@code GET /progress} while it trains, and the operator reads into
 * {@code status.progress}: the newest step, the budget, tokens, loss, throughput, and the mean
 * seconds per step of recent steps (for the ETA). Read-only numbers: nothing secret, nothing
 * that changes the run.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record TrainerProgress(String stage, Integer attempt, long step, long totalSteps, long tokens, Double loss,
    Double tokensPerSecond, Double secondsPerStep) {

  /** Path of the endpoint on the metrics port. */
  public static final String PATH = "/progress";
  /** The port rank 0 serves {@code /progress} and {@code /metrics} on, unless KILN_METRICS_PORT says otherwise. */
  public static final int DEFAULT_PORT = 9400;
  public static final String PORT_ENV = "KILN_METRICS_PORT";

  /** Seconds left at the recent pace, or null before the first step. */
  public Long etaSeconds() {
    return secondsPerStep == null ? null : Math.round((totalSteps - step) * secondsPerStep);
  }
}
