package dev.kiln.cli.run;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.trainer.synthetic.ShapesData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Sample datasets {@code kiln run} can generate into a job's data claim, named by the job's
 * {@value #ANNOTATION} annotation. Only the local run reads it; the operator ignores it.
 */
final class SampleData {

  static final String ANNOTATION = "kiln.dev/local-sample-data";
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

  private SampleData() {}

  static String requested(MultimodalPretrainJob job) {
    Map<String, String> annotations = job.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(ANNOTATION);
  }

  /** Generates the named dataset into {@code claim} unless it is there; true when it generated. */
  static boolean ensure(String name, Path claim) throws IOException {
    if (!"shapes".equals(name)) {
      throw new IllegalArgumentException("metadata.annotations." + ANNOTATION + ": unknown sample dataset \"" + name
          + "\" (known: shapes)");
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
  static Path heldOut(Path claim) {
    Path dir = claim.resolve("shapes");
    return Files.isRegularFile(dir.resolve("eval-000000.tar")) ? dir : null;
  }
}
