package dev.kiln.trainer.loop;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One optimizer step, as written to metrics.jsonl and reported to the operator. {@code lossScale}
 * is there in Float16Mixed only; a step whose gradients overflowed has a non-finite gradNorm and
 * was skipped. {@code peakMemoryBytes} is the reporting rank's measured peak so far ({@code PeakMemory}).
 */
public record StepMetrics(long step, long totalSteps, double loss, double lr, double gradNorm, long tokens,
    double tokensPerSecond, double dataWaitFraction, double seconds,
    @JsonInclude(JsonInclude.Include.NON_NULL) Double lossScale,
    @JsonInclude(JsonInclude.Include.NON_NULL) Long peakMemoryBytes) {}
