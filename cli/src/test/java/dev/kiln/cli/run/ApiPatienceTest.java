package dev.kiln.cli.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** kiln run waits out an API server that does not answer, says so with the cause, and gives up on refusals. */
@Timeout(10)
class ApiPatienceTest {

  private final StringWriter said = new StringWriter();
  private final AtomicLong now = new AtomicLong();
  private final ApiPatience patience = new ApiPatience(Duration.ofSeconds(120), new PrintWriter(said, true), now::get);

  @Test
  void aTimeoutIsWaitedOutOnceSaidThenGivenUpAfterThePatience() {
    KubernetesClientException timeout = new KubernetesClientException((String) null,
        new java.io.IOException(null, new SocketTimeoutException("timeout")));

    patience.failed(timeout);
    now.addAndGet(Duration.ofSeconds(60).toNanos());
    patience.failed(timeout);
    assertThat(said.toString()).isEqualTo("the local API server did not answer (KubernetesClientException: IOException: "
        + "timeout); trying again for up to 120 s" + System.lineSeparator());

    patience.answered();
    now.addAndGet(Duration.ofSeconds(600).toNanos());
    patience.failed(timeout);  // a new run of failures: the patience starts again
    now.addAndGet(Duration.ofSeconds(121).toNanos());
    assertThatThrownBy(() -> patience.failed(timeout)).hasMessage("the local API server has not answered for 120 s: "
        + "KubernetesClientException: IOException: timeout");
  }

  @Test
  void onlyFailuresTimeCanFixAreWaitedOut() {
    assertThat(ApiPatience.transientFailure(failure(503))).isTrue();
    assertThat(ApiPatience.transientFailure(failure(429))).isTrue();
    assertThat(ApiPatience.transientFailure(new KubernetesClientException("connection reset"))).isTrue();
    assertThat(ApiPatience.transientFailure(failure(403))).isFalse();
    assertThat(ApiPatience.transientFailure(failure(422))).isFalse();
    assertThatThrownBy(() -> patience.failed(failure(403))).hasMessageStartingWith("the local API server refused a request: ");
  }

  private static KubernetesClientException failure(int code) {
    return new KubernetesClientException(new StatusBuilder().withCode(code).withMessage("code " + code).build());
  }
}
