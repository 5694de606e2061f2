package dev.kiln.trainer.parallel;

import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * A request to stop training at the next step boundary, with a checkpoint of that step. SIGTERM
 * (what Kubernetes sends on preemption, eviction or a node drain, a grace period before SIGKILL)
 * becomes such a request instead of the JVM's default of shutting down mid-step.
 */
public final class StopRequest {

  private final AtomicBoolean requested = new AtomicBoolean();

  /** A request that never comes (tests, benchmarks). */
  public static StopRequest never() {
    return new StopRequest();
  }

  /** Replaces the JVM's SIGTERM handling for this process with a stop request; {@code onSignal} runs once. */
  public static StopRequest onSigterm(Runnable onSignal) {
    StopRequest request = new StopRequest();
    Signal.handle(new Signal("TERM"), signal -> {
      if (request.requested.compareAndSet(false, true)) {
        onSignal.run();
      }
    });
    return request;
  }

  public boolean requested() {
    return requested.get();
  }
}
