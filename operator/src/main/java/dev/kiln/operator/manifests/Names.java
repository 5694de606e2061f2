package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;

/** Deterministic child names: a restarted operator finds and adopts what it created before. */
public final class Names {

  private Names() {}

  public static String checkpointClaim(MultimodalPretrainJob job) {
    String existing = job.getSpec().checkpoints().existingClaim();
    return existing != null ? existing : job.getMetadata().getName() + "-work";
  }

  public static String filterJob(MultimodalPretrainJob job, String source) {
    return job.getMetadata().getName() + "-filter-" + source;
  }

  public static String sampleDataJob(MultimodalPretrainJob job) {
    return job.getMetadata().getName() + "-sample-data";
  }

  /** The last packing Job, whose pod reports the stage's packed data: the stage's "pack Job". */
  public static String packJob(MultimodalPretrainJob job, String stage) {
    return job.getMetadata().getName() + "-pack-" + stage;
  }

  /** One packing step's Job; the step first, so an Indexed pod's hostname fits 63 characters. */
  public static String packJob(MultimodalPretrainJob job, String stage, PackJobManifest.Step step) {
    return step == PackJobManifest.Step.FINISH ? packJob(job, stage)
        : job.getMetadata().getName() + "-" + step.argument() + "-" + stage;
  }

  public static String runConfig(MultimodalPretrainJob job, String stage) {
    return job.getMetadata().getName() + "-" + stage + "-config";
  }

  public static String stageService(MultimodalPretrainJob job, String stage) {
    return job.getMetadata().getName() + "-" + stage;
  }

  public static String attemptJob(MultimodalPretrainJob job, String stage, int attempt) {
    return job.getMetadata().getName() + "-" + stage + "-a" + attempt;
  }

  /** DNS name of rank 0 of an Indexed Job: pod hostname {@code <job>-0} under the headless Service. */
  public static String rendezvousHost(MultimodalPretrainJob job, String stage, int attempt) {
    return attemptJob(job, stage, attempt) + "-0." + stageService(job, stage);
  }
}
