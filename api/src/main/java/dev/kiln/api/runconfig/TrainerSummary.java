package dev.kiln.api.runconfig;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What rank 0 writes to its termination message when a stage ends: the operator records the
 * final checkpoint from it and checks the promotion gate against it, and records the initial
 * weights' sha256 of an attempt that started from them.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record TrainerSummary(Long step, Long tokens, Double loss, String checkpoint, String manifestSha256,
    Long peakMemoryBytes, String initialWeightsSha256) {

  public TrainerSummary(Long step, Long tokens, Double loss, String checkpoint, String manifestSha256, Long peakMemoryBytes) {
    this(step, tokens, loss, checkpoint, manifestSha256, peakMemoryBytes, null);
  }
}
