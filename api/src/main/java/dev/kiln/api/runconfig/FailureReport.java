package dev.kiln.api.runconfig;

import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/**
 * What a user sees when a Kiln program fails on something it did not expect: one line naming the
 * file or input and the reason, and an exit code; the stack trace only with {@value #DEBUG} set.
 */
public final class FailureReport {

  public static final String DEBUG = "KILN_DEBUG";

  private FailureReport() {}

  /** Prints {@code command: what went wrong} and returns {@link ExitCodes#FAILURE} (retried, where a retry is possible). */
  public static int unexpected(String command, Throwable e, PrintWriter err) {
    return unexpected(command, e, err, "");
  }

  /** {@link #unexpected(String, Throwable, PrintWriter)}, with what to do about a full disk where the caller knows. */
  public static int unexpected(String command, Throwable e, PrintWriter err, String fullDiskAdvice) {
    err.println(command + ": " + describe(e, fullDiskAdvice));
    if (System.getenv(DEBUG) != null) {
      e.printStackTrace(err);
    }
    err.flush();
    return ExitCodes.FAILURE;
  }

  /** Prints {@code command: the usage mistake (see --help)} and returns {@link ExitCodes#USAGE}. */
  public static int usage(String command, String mistake, PrintWriter err) {
    err.println(command + ": " + mistake + " (see " + command + " --help)");
    err.flush();
    return ExitCodes.USAGE;
  }

  /** The failure in words: the file and what is wrong with it, or the exception's own message. */
  public static String describe(Throwable e) {
    return describe(e, "");
  }

  private static String describe(Throwable e, String fullDiskAdvice) {
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
            ? file + ": no space left on the disk" + fullDiskAdvice
            : file + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName());
      };
    }
    if ((e.getMessage() == null || e.getMessage().isBlank()) && e.getCause() != null && e.getCause() != e) {
      // A wrapper that says nothing itself (a client's exception around a timeout): name both.
      return e.getClass().getSimpleName() + ": " + describe(e.getCause(), fullDiskAdvice);
    }
    String message = e.getMessage() != null && !e.getMessage().isBlank() ? e.getMessage().strip() : e.getClass().getName();
    // One line: a native library's message can span several.
    return message.lines().findFirst().orElse(message) + (message.lines().count() > 1 ? " ..." : "");
  }
}
