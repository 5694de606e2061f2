package dev.kiln.datajobs.fetch;

import dev.kiln.api.runconfig.ExitCodes;

/** Why a fetch stopped, in one line, with the exit code that tells a retry whether it can help. */
public final class FetchFailure extends RuntimeException {

  private final int exitCode;

  FetchFailure(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  /** The source does not have it (404, 410): retrying cannot help. */
  static FetchFailure notFound(String message) {
    return new FetchFailure(ExitCodes.DATA, message);
  }

  /** The source refused the credentials (401, 403): the configuration must change. */
  static FetchFailure denied(String message) {
    return new FetchFailure(ExitCodes.CONFIG, message);
  }

  public int exitCode() {
    return exitCode;
  }

  /** The same failure, its message prefixed with what it happened to (a file, a source). */
  FetchFailure about(Object subject) {
    return new FetchFailure(exitCode, subject + ": " + getMessage());
  }
}
