package dev.kiln.operator.lifecycle;

import dev.kiln.api.runconfig.TrainerProgress;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.Optional;

/** Reads a training stage's progress from its rank-0 pod while it trains. */
public interface ProgressReader {

  /** The progress rank 0 serves, or empty when it does not answer (not listening yet, unreachable). */
  Optional<TrainerProgress> read(Pod rankZero);

  /** For tests and for clusters where the operator cannot reach pods: progress is known only at the end. */
  static ProgressReader none() {
    return pod -> Optional.empty();
  }
}
