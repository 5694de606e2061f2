package dev.kiln.operator.lifecycle;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.QueueStatus;
import dev.kiln.operator.admission.Admission;
import dev.kiln.operator.status.JobStatusAggregator;

/** Fails a job, or gives up its place in the queue, the same way for every step that does. */
final class JobOutcomes {

  private final EventRecorder events;
  private final Admission admission;

  JobOutcomes(EventRecorder events, Admission admission) {
    this.events = events;
    this.admission = admission;
  }

  /** A finished or suspended job waits for nothing: it keeps the queue's name, not a place in it. */
  void leaveQueue(MultimodalPretrainJob job, JobStatusAggregator status) {
    admission.forget(job);
    QueueStatus queue = status.current().getQueue();
    if (queue != null && queue.position() != null) {
      status.current().setQueue(new QueueStatus(queue.name(), null, null));
    }
  }

  void fail(MultimodalPretrainJob job, JobStatusAggregator status, String reason, String message) {
    leaveQueue(job, status);
    status.condition(JobStatusAggregator.FAILED, true, reason, message);
    status.phase(JobPhase.Failed, reason, message);
    events.warning(job, reason, message);
  }
}
