package dev.kiln.operator.lifecycle;

import dev.kiln.api.runconfig.PackSummary;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ReproduceSpec;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The job's reproducibility record (what a run used: hashes, packed data, images), and the
 * differences between it and what the job pins in {@code spec.reproduce} (the initial weights
 * are the trainer's to check: it is the one that reads them).
 */
final class Reproducibility {

  /** The reason of a job that failed because an input differs from its pins. */
  static final String PIN_MISMATCH = "PinMismatch";

  private Reproducibility() {}

  /** The job's record, made on first use. */
  static ReproducibilityStatus record(JobStatusAggregator status) {
    ReproducibilityStatus record = status.current().getReproducibility();
    if (record == null) {
      record = new ReproducibilityStatus();
      status.current().setReproducibility(record);
    }
    return record;
  }

  /** What a stage's pack Job reported; a pack Job that reported nothing leaves its stage unrecorded. */
  static void recordPacked(JobStatusAggregator status, String stage, PackSummary summary) {
    ReproducibilityStatus record = record(status);
    if (summary == null || summary.manifestSha256() == null) {
      record.getPackedData().remove(stage);
      return;
    }
    record.getPackedData().put(stage, summary.manifestSha256());
    if (summary.tokenizerSha256() != null) {
      record.setTokenizerSha256(summary.tokenizerSha256());
    }
  }

  /** What a trainer that started from the initial weights reported them to hash to; nothing when it did not. */
  static void recordInitialWeights(JobStatusAggregator status, String sha256) {
    if (sha256 != null) {
      record(status).setInitialWeightsSha256(sha256);
    }
  }

  /**
   * The image the kubelet reports having run in {@code container} for {@code role} (the newest
   * report: a new attempt may run another image).
   */
  static void recordImageId(JobStatusAggregator status, String role, String container, List<Pod> pods) {
    pods.stream()
        .filter(p -> p.getStatus() != null && p.getStatus().getContainerStatuses() != null)
        .flatMap(p -> p.getStatus().getContainerStatuses().stream())
        .filter(c -> container.equals(c.getName()))
        .map(ContainerStatus::getImageID)
        .filter(id -> id != null && !id.isBlank())
        .findFirst()
        .ifPresent(id -> record(status).getImageIds().put(role, id));
  }

  /** Each pin the recorded run does not match, as {@code field: expected X, found Y}; empty when all match. */
  static List<String> pinDifferences(MultimodalPretrainJob job, ReproducibilityStatus record) {
    ReproduceSpec pins = job.getSpec().reproduce();
    List<String> differences = new ArrayList<>();
    if (pins == null) {
      return differences;
    }
    for (ReproduceSpec.PackedDataPin pin : pins.packedData()) {
      String found = record.getPackedData().get(pin.stage());
      if (!pin.manifestSha256().equals(found)) {
        differences.add("spec.reproduce.packedData[" + pin.stage() + "]: expected manifest sha256 " + pin.manifestSha256()
            + ", found " + (found != null ? found : "none (its pack Job reported no manifest)"));
      }
    }
    if (pins.tokenizerSha256() != null && !Objects.equals(pins.tokenizerSha256(), record.getTokenizerSha256())) {
      differences.add("spec.reproduce.tokenizerSha256: expected " + pins.tokenizerSha256() + ", found "
          + (record.getTokenizerSha256() != null ? record.getTokenizerSha256() : "none reported"));
    }
    return differences;
  }
}
