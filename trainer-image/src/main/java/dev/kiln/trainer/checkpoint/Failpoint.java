package dev.kiln.trainer.checkpoint;

import java.io.IOException;
import java.nio.file.FileSystemException;

/**
 * Named places in the checkpoint write where a test can make the process die as SIGKILL would
 * ({@code Runtime.halt}: no shutdown hooks, no flushing): {@code KILN_FAILPOINT=NAME@STEP} arms
 * one for the checkpoint of that step; {@code KILN_FAILPOINT=disk-full:NAME@STEP} makes the write
 * fail there as on a full disk instead. Unset (always, outside tests), each is a null check.
 */
public final class Failpoint {

  /** The variable that arms a failpoint. */
  public static final String ENV = "KILN_FAILPOINT";
  /** The exit status of a process stopped at a failpoint, as a SIGKILLed one reports it. */
  public static final int EXIT = 137;

  /** Every failpoint, in the order a checkpoint write passes them. */
  public static final java.util.List<String> NAMES = java.util.List.of("begun", "optimizer-written", "model-written",
      "state-written", "manifest-written", "renamed", "pointer-written", "pointer-moved", "pruning");

  /** The prefix that makes an armed failpoint a write that fails for want of space. */
  public static final String DISK_FULL = "disk-full:";

  private static final String ARMED = System.getenv(ENV);

  private Failpoint() {}

  /** Dies here, or fails the write as a full disk would, if this failpoint is armed for {@code step}. */
  static void reach(String name, long step) throws IOException {
    if (ARMED == null) {
      return;
    }
    if (ARMED.equals(name + "@" + step)) {
      Runtime.getRuntime().halt(EXIT);
    }
    if (ARMED.equals(DISK_FULL + name + "@" + step)) {
      throw new FileSystemException("checkpoint of step " + step, null, "No space left on device");
    }
  }
}
