package dev.kiln.cli;

import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import picocli.CommandLine;

/**
 * What a user sees when a command fails on something outside the job (a path, a permission, a
 * full disk): one line naming the file and the reason, exit 1; the stack trace only with
 * {@value #DEBUG} set.
 */
final class CommandErrors implements CommandLine.IExecutionExceptionHandler {

  static final String DEBUG = "KILN_DEBUG";
  static final int FAILED = 1;

  @Override
  public int handleExecutionException(Exception e, CommandLine command, CommandLine.ParseResult parsed) {
    PrintWriter err = command.getErr();
    err.println(command.getCommandSpec().qualifiedName() + ": " + describe(e));
    if (System.getenv(DEBUG) != null) {
      e.printStackTrace(err);
    } else {
      err.println("(" + DEBUG + "=1 shows where it happened)");
    }
    err.flush();
    return FAILED;
  }

  /** The failure in words: the file and what is wrong with it, or the exception's own message. */
  static String describe(Throwable e) {
    Throwable cause = e;
    while (!(cause instanceof FileSystemException) && cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    if (cause instanceof FileSystemException f) {
      String file = f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "");
      return switch (f) {
        case AccessDeniedException a -> file + ": permission denied";
        case NoSuchFileException n -> file + " does not exist";
        case NotDirectoryException n -> file + " is not a folder";
        case FileAlreadyExistsException x -> Files.isRegularFile(Path.of(f.getFile()))
            ? file + " is a file, not a folder" : file + " already exists";
        default -> f.getReason() != null && f.getReason().contains("No space left")
            ? file + ": no space left on the disk (free some, or give --workdir on another disk)"
            : file + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName());
      };
    }
    return e.getMessage() != null ? e.getMessage() : e.getClass().getName();
  }
}
