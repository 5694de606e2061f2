package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.SchedulingSpec;

/** Admits every stage at once: Kueue mode (Kueue gates the suspended Jobs), and tests of everything but the queue. */
public final class ImmediateAdmission implements Admission {

  @Override
  public Decision admit(MultimodalPretrainJob job, int stageIndex) {
    String queue = job.getSpec().scheduling().queue();
    return job.getSpec().scheduling().mode() == SchedulingSpec.Mode.KUEUE
        ? Decision.admitNow(queue, "Jobs are created suspended for Kueue queue " + queue, java.util.List.of())
        : Decision.admitNow(queue, "admitted to queue " + queue, java.util.List.of());
  }
}
