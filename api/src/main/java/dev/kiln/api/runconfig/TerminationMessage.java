package dev.kiln.api.runconfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A pod's last words for the operator ({@code terminationMessagePath}): written where the pod can
 * write it; a program run by hand, with no such file, goes on without, and a write that fails is
 * said on stderr, never a reason to fail the program.
 */
public final class TerminationMessage {

  private TerminationMessage() {}

  public static void write(Path file, String text) {
    try {
      if (file != null && (Files.isWritable(file) || Files.isWritable(file.toAbsolutePath().getParent()))) {
        Files.writeString(file, text);
      }
    } catch (IOException e) {
      System.err.println("cannot write the termination message " + file + ": " + e.getMessage());
    }
  }
}
