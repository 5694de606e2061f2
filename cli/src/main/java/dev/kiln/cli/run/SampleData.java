package dev.kiln.cli.run;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.trainer.synthetic.SampleDatasets;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The sample dataset a job asks for by its {@code kiln.dev/sample-data} annotation: {@code kiln run}
 * generates it into the data claim before it applies the job (so that its checks find the shards),
 * and the operator's sample-data Job then finds it there.
 */
final class SampleData {

  private SampleData() {}

  static String requested(MultimodalPretrainJob job) {
    return job.sampleDataAnnotation().orElse(null);
  }

  /** Generates the named dataset into {@code claim} unless it is there; true when it generated. */
  static boolean ensure(String name, Path claim) throws IOException {
    try {
      return SampleDatasets.ensure(name, claim);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("metadata.annotations." + MultimodalPretrainJob.SAMPLE_DATA_ANNOTATION + ": " + e.getMessage(), e);
    }
  }

  /** The held-out questions, when the claim holds the shapes dataset. */
  static Path heldOut(Path claim) {
    return SampleDatasets.heldOut(claim);
  }
}
