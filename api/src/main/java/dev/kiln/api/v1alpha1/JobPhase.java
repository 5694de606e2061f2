package dev.kiln.api.v1alpha1;

/** Where a job is in its life. */
public enum JobPhase {
  Pending,
  Queued,
  DataPrep,
  Training,
  AwaitingPromotion,
  Suspended,
  Succeeded,
  Failed;

  /** No further reconciliation changes the outcome. */
  public boolean isFinished() {
    return this == Succeeded || this == Failed;
  }
}
