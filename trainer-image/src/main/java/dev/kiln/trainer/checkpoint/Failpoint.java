package dev.kiln.trainer.checkpoint;

/**
 * Named places in the checkpoint write where a test can make the process die as SIGKILL would
 * ({@code Runtime.halt}: no shutdown hooks, no flushing): {@code KILN_FAILPOINT=NAME@STEP} arms
 * one for the checkpoint of that step. Unset (always, outside tests), each is a null check.
 */
public final class Failpoint {

  /** The variable that arms a failpoint. */
  public static final String ENV = "KILN_FAILPOINT";
  /** The exit status of a process stopped at a failpoint, as a SIGKILLed one reports it. */
  public static final int EXIT = 137;

  /** Every failpoint, in the order a checkpoint write passes them. */
  public static final java.util.List<String> NAMES = java.util.List.of("begun", "optimizer-written", "model-written",
      "state-written", "manifest-written", "renamed", "pointer-written", "pointer-moved", "pruning");

  private static final String ARMED = System.getenv(ENV);

  private Failpoint() {}

  /** Dies here if this failpoint is armed for {@code step}. */
  static void reach(String name, long step) {
    if (ARMED != null && ARMED.equals(name + "@" + step)) {
      Runtime.getRuntime().halt(EXIT);
    }
  }
}
