package dev.kiln.operator.lifecycle;

import dev.kiln.api.runconfig.TrainerSummary;

/** What one attempt's Job and pods say about it. */
public sealed interface AttemptState {

  /** Pods pending or running. */
  record Running() implements AttemptState {}

  /** Every index completed; the summary of rank 0, if it wrote one. */
  record Succeeded(TrainerSummary summary) implements AttemptState {}

  /** The attempt failed; {@code kind} decides what happens next. */
  record Failed(FailureKind kind, String reason, String message, Integer exitCode, String pod) implements AttemptState {}

  /** Why an attempt failed, which decides whether it counts against maxRestarts. */
  enum FailureKind {
    /** Eviction, preemption, node loss: the pod did nothing wrong; not counted. */
    DISRUPTED,
    /** An exit code the stage lists as non-retryable: the job fails. */
    NON_RETRYABLE,
    /** Anything else: counted, retried from the latest checkpoint. */
    RETRYABLE
  }
}
