package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;

/** Decides whether a job's GPU gang may start now. The cluster-wide queue plugs in here. */
public interface Admission {

  Decision admit(MultimodalPretrainJob job);

  /** Admitted, or queued at a position (1 is next). */
  record Decision(boolean admitted, int queuePosition, String message) {

    public static Decision admitNow(String message) {
      return new Decision(true, 0, message);
    }

    public static Decision queued(int position, String message) {
      return new Decision(false, position, message);
    }
  }
}
