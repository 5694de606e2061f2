package dev.kiln.cli.run;

import dev.kiln.api.runconfig.FailureReport;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * How {@code kiln run} rides out an API server that does not answer for a while (a machine under
 * load, a request timing out): a failure without an HTTP answer, 429 or a 5xx is waited out and
 * said once, with its cause; any other refusal, or one that lasts past the patience, ends the run
 * naming the cause.
 */
final class ApiPatience {

  private static final Set<Integer> TRANSIENT_CODES = Set.of(429, 500, 502, 503, 504);

  private final Duration patience;
  private final PrintWriter out;
  private final LongSupplier nanoTime;
  /** When the current run of failures began, or -1 while the API server answers. */
  private long failingSince = -1;

  ApiPatience(Duration patience, PrintWriter out, LongSupplier nanoTime) {
    this.patience = patience;
    this.out = out;
    this.nanoTime = nanoTime;
  }

  /** A failure nothing but time can fix: no HTTP answer at all (no code), too many requests, or a server error. */
  static boolean transientFailure(KubernetesClientException e) {
    return e.getCode() <= 0 || TRANSIENT_CODES.contains(e.getCode());
  }

  /** The API server answered. */
  void answered() {
    if (failingSince >= 0) {
      out.println("the local API server answers again");
    }
    failingSince = -1;
  }

  /** The API server failed a request: returns to try again later, or throws when it is not worth waiting for. */
  void failed(KubernetesClientException e) {
    String cause = FailureReport.describe(e);
    if (!transientFailure(e)) {
      throw new IllegalStateException("the local API server refused a request: " + cause, e);
    }
    long now = nanoTime.getAsLong();
    if (failingSince < 0) {
      failingSince = now;
      out.println("the local API server did not answer (" + cause + "); trying again for up to "
          + patience.toSeconds() + " s");
    } else if (now - failingSince > patience.toNanos()) {
      throw new IllegalStateException("the local API server has not answered for " + patience.toSeconds() + " s: "
          + cause, e);
    }
  }
}
