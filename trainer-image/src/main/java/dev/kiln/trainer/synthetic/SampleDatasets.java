package dev.kiln.trainer.synthetic;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Sample datasets Kiln can generate into a data claim by name: {@code kiln run} does for a job
 * that asks (its {@code kiln.dev/sample-data} annotation) before it starts the job, and the
 * operator's sample-data Job does with {@code kiln-trainer sample-data} on a cluster.
 */
public final class SampleDatasets {

  /** The names {@link #ensure} knows. */
  public static final List<String> NAMES = List.of("shapes");
  /**
   * The quickstart's sizes: 3,000 captioned images and 3,000 questions, so that 800 pre-training
   * steps see each image about 20 times rather than memorising 600 of them; 300 held out.
   */
  static final int CAPTIONS = 3000;
  static final int CONVERSATIONS = 3000;
  static final int HELD_OUT = 300;
  static final long SEED = 7;
  /** Written beside the data; data from another generator or other sizes is generated anew. */
  static final String MARKER = "shapes/sample.json";
  static final String MARKER_TEXT = String.format("{\"generator\":%d,\"captions\":%d,\"conversations\":%d,"
      + "\"heldOut\":%d,\"seed\":%d}%n", ShapesData.GENERATOR_VERSION, CAPTIONS, CONVERSATIONS, HELD_OUT, SEED);

  private SampleDatasets() {}


  /** Generates the named dataset into {@code claim} unless it is there; true when it generated. */
  public static boolean ensure(String name, Path claim) throws IOException {
    if (!NAMES.contains(name)) {
      throw new IllegalArgumentException("unknown sample dataset \"" + name + "\" (known: " + String.join(", ", NAMES) + ")");
    }
    Path marker = claim.resolve(MARKER);
    if (Files.isRegularFile(marker) && Files.readString(marker).equals(MARKER_TEXT)) {
      return false;
    }
    deleteRecursively(claim.resolve("shapes"));
    ShapesData.generate(claim, CAPTIONS, CONVERSATIONS, HELD_OUT, SEED);
    Files.writeString(marker, MARKER_TEXT);
    return true;
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  /** The held-out questions, when the claim holds the shapes dataset. */
  public static Path heldOut(Path claim) {
    Path dir = claim.resolve("shapes");
    return Files.isRegularFile(dir.resolve("eval-000000.tar")) ? dir : null;
  }
}
