package dev.kiln.api.runconfig;

/** Exit codes of Kiln's containers (sysexits-style), and which of them a retry cannot fix. */
public final class ExitCodes {

  public static final int OK = 0;
  /** Anything unexpected: retried from the latest checkpoint. */
  public static final int FAILURE = 1;
  /** Bad command line. */
  public static final int USAGE = 64;
  /** Input data unusable beyond the error budget. */
  public static final int DATA = 65;
  /** Ranks could not meet in time (DNS, listener): retried. */
  public static final int RENDEZVOUS_TIMEOUT = 75;
  /** Stopped by SIGTERM (preemption, eviction, drain) after checkpointing the step it was on: 128 + 15, as a shell reports it. */
  public static final int STOPPED = 143;
  /**
   * Training diverged (a non-finite loss or gradient norm in float32): retrying from the latest
   * checkpoint would diverge again on the same data; the optimizer settings must change. Kiln's
   * own code, past the sysexits range.
   */
  public static final int DIVERGED = 79;
  /**
   * An input differs from what the job pins ({@code spec.reproduce}): the initial weights. A retry
   * would find the same files; the inputs or the pins must change.
   */
  public static final int PIN_MISMATCH = 80;
  /** Run config invalid or of an unknown version. */
  public static final int CONFIG = 78;

  private ExitCodes() {}
}
