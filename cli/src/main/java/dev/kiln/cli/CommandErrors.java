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

  @Override
  public int handleExecutionException(Exception e, CommandLine command, CommandLine.ParseResult parsed) {
    PrintWriter err = command.getErr();
    int exit = FailureReport.unexpected(command.getCommandSpec().qualifiedName(), e, err,
        " (free some, or give --workdir on another disk)");
    if (System.getenv(FailureReport.DEBUG) == null) {
      err.println("(" + FailureReport.DEBUG + "=1 shows where it happened)");
      err.flush();
    }
    return exit;
  }
}
