package dev.kiln.trainer.loop;

/** One optimizer step, as written to metrics.jsonl and reported to the operator. */
public record StepMetrics(long step, long totalSteps, double loss, double lr, double gradNorm, long tokens,
    double tokensPerSecond, double dataWaitFraction, double seconds) {}
