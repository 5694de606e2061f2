package dev.kiln.api.v1alpha1;

/** Where a stage is in its life. */
public enum StagePhase {
  Pending,
  Running,
  Restarting,
  AwaitingPromotion,
  Succeeded,
  Failed
}
