package dev.kiln.api.runconfig;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.FileSystemException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A failure in one line that says what went wrong, whatever wraps it. */
@Timeout(10)
class FailureReportTest {

  /** Stands in for a client library's exception that carries no message of its own. */
  private static final class SilentClientException extends RuntimeException {
    SilentClientException(Throwable cause) {
      super(null, cause);
    }
  }

  @Test
  void aWrapperWithoutAMessageIsNamedWithItsCause() {
    var wrapped = new SilentClientException(new IOException(null, new SocketTimeoutException("timeout")));
    assertThat(FailureReport.describe(wrapped)).isEqualTo("SilentClientException: IOException: timeout");
  }

  @Test
  void aFullDiskNamesTheFileUnderAnyWrapper() {
    var full = new SilentClientException(new FileSystemException("/kiln/workspace/x", null, "No space left on device"));
    assertThat(FailureReport.describe(full)).isEqualTo("/kiln/workspace/x: no space left on the disk");
  }

  @Test
  void aMessageOfSeveralLinesKeepsItsFirst() {
    assertThat(FailureReport.describe(new IllegalStateException("first\nsecond"))).isEqualTo("first ...");
    assertThat(FailureReport.describe(new IllegalStateException())).isEqualTo("java.lang.IllegalStateException");
  }
}
