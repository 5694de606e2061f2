package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.SchedulingSpec;

/** Admits every job at once: in Kueue mode Kueue gates the suspended Jobs; in Builtin mode until the queue exists. */
public final class ImmediateAdmission implements Admission {

  @Override
  public Decision admit(MultimodalPretrainJob job) {
    return job.getSpec().scheduling().mode() == SchedulingSpec.Mode.KUEUE
        ? Decision.admitNow("Jobs are created suspended for Kueue queue " + job.getSpec().scheduling().queue())
        : Decision.admitNow("admitted to queue " + job.getSpec().scheduling().queue());
  }
}
