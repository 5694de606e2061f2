package dev.kiln.cli.run;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.trainer.synthetic.SampleDatasets;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The sample dataset a job asks {@code kiln run} to generate into its data claim, by its
 * {@value #ANNOTATION} annotation. Only the local run reads it; the operator ignores it.
 */
final class SampleData {

  static final String ANNOTATION = "kiln.dev/local-sample-data";

  private SampleData() {}

  static String requested(MultimodalPretrainJob job) {
    Map<String, String> annotations = job.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(ANNOTATION);
  }

  /** Generates the named dataset into {@code claim} unless it is there; true when it generated. */
  static boolean ensure(String name, Path claim) throws IOException {
    try {
      return SampleDatasets.ensure(name, claim);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("metadata.annotations." + ANNOTATION + ": " + e.getMessage(), e);
    }
  }

  /** The held-out questions, when the claim holds the shapes dataset. */
  static Path heldOut(Path claim) {
    return SampleDatasets.heldOut(claim);
  }
}
