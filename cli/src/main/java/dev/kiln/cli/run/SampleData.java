package dev.kiln.cli.run;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.trainer.synthetic.ShapesData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Sample datasets {@code kiln run} can generate into a job's data claim, named by the job's
 * {@value #ANNOTATION} annotation. Only the local run reads it; the operator ignores it.
 */
final class SampleData {

  static final String ANNOTATION = "kiln.dev/local-sample-data";
  /** The quickstart's sizes: 600 captioned images, 1,200 questions for SFT, 90 held out. */
  static final int CAPTIONS = 600;
  static final int CONVERSATIONS = 1200;
  static final int HELD_OUT = 90;
  static final long SEED = 7;

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
    if (Files.isRegularFile(claim.resolve("shapes/tokenizer.json"))) {
      return false;
    }
    ShapesData.generate(claim, CAPTIONS, CONVERSATIONS, HELD_OUT, SEED);
    return true;
  }

  /** The held-out questions, when the claim holds the shapes dataset. */
  static Path heldOut(Path claim) {
    Path dir = claim.resolve("shapes");
    return Files.isRegularFile(dir.resolve("eval-000000.tar")) ? dir : null;
  }
}
