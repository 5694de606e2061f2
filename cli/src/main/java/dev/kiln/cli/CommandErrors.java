package dev.kiln.cli;

import dev.kiln.api.runconfig.FailureReport;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * What a user sees when a command fails on something outside the job (a path, a permission, a
 * full disk): one line naming the file and the reason, exit 1; the stack trace only with
 * {@value FailureReport#DEBUG} set.
 */
final class CommandErrors implements CommandLine.IExecutionExceptionHandler {

  static final int FAILED = 1;

  @Override
  public int handleExecutionException(Exception e, CommandLine command, CommandLine.ParseResult parsed) {
    PrintWriter err = command.getErr();
    err.println(command.getCommandSpec().qualifiedName() + ": " + describe(e));
    if (System.getenv(FailureReport.DEBUG) != null) {
      e.printStackTrace(err);
    } else {
      err.println("(" + FailureReport.DEBUG + "=1 shows where it happened)");
    }
    err.flush();
    return FAILED;
  }

  /** {@link FailureReport#describe}, with what a user of this machine can do about a full disk. */
  static String describe(Throwable e) {
    String described = FailureReport.describe(e);
    return described.endsWith("no space left on the disk")
        ? described + " (free some, or give --workdir on another disk)" : described;
  }
}
