package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import java.util.List;

/** Decides whether a stage attempt's GPU gang may start now. */
public interface Admission {

  /** Asks to start the job's stage {@code stageIndex}; called again while it waits. */
  Decision admit(MultimodalPretrainJob job, int stageIndex);

  /** Tells admission the job no longer waits (it was suspended, finished or deleted). */
  default void forget(MultimodalPretrainJob job) {}

  /** A running stage attempt stopped to make room: the Job of that attempt. */
  record Victim(String namespace, String attemptJob, String owner) {}

  /**
   * Admitted, or waiting at a position in the queue (1 is next) for the reason given; while it
   * waits, {@code victims} are the running attempts to stop for it. An admitted gang's pods run on
   * {@code placement} (the node of each rank), or wherever the scheduler puts them when it is empty.
   * A job the queue refuses (its namespace not admitted) is told so with {@code refusal}: it waits
   * in no line until a person changes the queue, the namespace or the job.
   */
  record Decision(boolean admitted, String queue, Integer position, String message, List<Victim> victims,
      List<String> placement, String refusal) {

    public Decision {
      victims = List.copyOf(victims);
      placement = List.copyOf(placement);
    }

    public static Decision admitNow(String queue, String message, List<String> placement) {
      return new Decision(true, queue, null, message, List.of(), placement, null);
    }

    public static Decision waiting(String queue, Integer position, String message) {
      return new Decision(false, queue, position, message, List.of(), List.of(), null);
    }

    public static Decision preempting(String queue, int position, String message, List<Victim> victims) {
      return new Decision(false, queue, position, message, victims, List.of(), null);
    }

    public static Decision refused(String queue, String reason, String message) {
      return new Decision(false, queue, null, message, List.of(), List.of(), reason);
    }
  }
}
