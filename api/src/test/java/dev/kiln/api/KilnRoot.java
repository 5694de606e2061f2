package dev.kiln.api;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository root, for tests that check committed files (crds/, examples/). */
public final class KilnRoot {

  private KilnRoot() {}

  public static Path path() {
    String configured = System.getProperty("kiln.root");
    Path start = configured != null ? Path.of(configured) : Path.of("").toAbsolutePath();
    for (Path p = start.toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.exists(p.resolve("mvnw")) && Files.isDirectory(p.resolve("examples"))) {
        return p;
      }
    }
    throw new IllegalStateException("cannot find the Kiln repository root above " + start);
  }
}
