package dev.kiln.operator.admission;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One queue's admission decisions, from a snapshot: the stages waiting in it, the stages it
 * runs, and the room on the cluster. Pure, so every rule is a unit test. Rules:
 * <ul>
 *   <li>waiting stages in order of priority (higher first), then the job's age;</li>
 *   <li>a stage is admitted whole, when its GPUs fit the queue's quota and its pods all fit on
 *       nodes at once (everything they request); otherwise it takes nothing, so two gangs never
 *       deadlock holding halves. The nodes it was planned on are where its pods will run;</li>
 *   <li>StrictFIFO: nothing passes the first stage that waits. BestEffortFIFO: later stages that
 *       fit may start, but the first waiting stage holds back the free GPUs and quota it could
 *       use, so GPUs freed by running stages go to it first and it is never starved;</li>
 *   <li>LowerPriority preemption: the first waiting stage may stop running stages of this queue
 *       with a lower priority whose stop frees quota or room it can use, lowest priority and newest
 *       first, then drops any whose stop the later ones made unneeded (fill-back); while
 *       stopped stages are still releasing their GPUs it waits and stops no more (naming them
 *       again, so that one still running past its grace is stopped by the preemptor).</li>
 * </ul>
 */
public final class QueuePlan {

  /** A stage that asks to start: the job's key (namespace/name), priority and creation time. */
  public record Waiting(String key, int priority, Instant created, Gang gang) {}

  /**
   * A stage attempt the queue admitted and that still holds (or will hold) its GPUs: its Job
   * ({@code namespace/name}; "" for a reservation or pods whose Job is gone), where its pods hold
   * them, and whether it is already being stopped.
   */
  public record Running(String key, String attempt, int priority, Instant started, Gang gang,
      Map<String, ResourceList> heldByNode, boolean stopping) {}

  /** What a waiting stage is told. */
  public sealed interface Verdict permits Admit, Wait, Preempt {}

  /** Admitted, each pod planned on {@code nodes} (rank order; empty for a CPU gang). */
  public record Admit(List<String> nodes) implements Verdict {}

  /** Waits at {@code position} (1 is next) for the reason given. */
  public record Wait(int position, String reason) implements Verdict {}

  /** Waits at position 1 while {@code victims} are stopped for it. */
  public record Preempt(int position, String reason, List<Running> victims) implements Verdict {}

  /** The verdict for each waiting key, the GPUs the queue holds once the admitted stages start, and who waits. */
  public record Result(Map<String, Verdict> verdicts, int gpusInUse, List<String> pending) {}

  private final String queue;
  private final TrainingQueueSpec spec;
  private final Map<String, Integer> usedByProduct = new HashMap<>();
  private int used;

  private QueuePlan(String queue, TrainingQueueSpec spec) {
    this.queue = queue;
    this.spec = spec;
  }

  public static Result plan(String queue, TrainingQueueSpec spec, List<Waiting> waiting, List<Running> running,
      ClusterRoom room) {
    return new QueuePlan(queue, spec).decide(waiting, running, room);
  }

  private Result decide(List<Waiting> waiting, List<Running> running, ClusterRoom room) {
    running.forEach(r -> hold(r.gang(), r.gang().gpus()));
    int inUse = used;
    List<String> pending = new ArrayList<>();
    Map<String, Verdict> verdicts = new LinkedHashMap<>();
    Waiting head = null;
    for (Waiting stage : ordered(waiting)) {
      boolean mayPass = head == null || spec.strategy() == TrainingQueueSpec.Strategy.BEST_EFFORT_FIFO;
      List<String> nodes = mayPass && quotaLeft(stage.gang()) >= stage.gang().gpus() ? room.placement(stage.gang()) : null;
      if (nodes != null) {
        hold(stage.gang(), stage.gang().gpus());
        inUse += stage.gang().gpus();
        verdicts.put(stage.key(), new Admit(nodes));
        continue;
      }
      pending.add(stage.key());
      int position = pending.size();
      if (head != null) {
        String reason = spec.strategy() == TrainingQueueSpec.Strategy.STRICT_FIFO
            ? "behind " + head.key() + " in queue " + queue + " (StrictFIFO)"
            : shortage(stage.gang(), room) + "; " + head.key() + " goes first";
        verdicts.put(stage.key(), new Wait(position, reason));
        continue;
      }
      head = stage;
      verdicts.put(stage.key(), preemptOrWait(stage, running, room, position));
      // What the head could use now is held back for it, so that it is never starved.
      if (spec.strategy() == TrainingQueueSpec.Strategy.BEST_EFFORT_FIFO) {
        hold(stage.gang(), Math.min(stage.gang().gpus(), Math.max(0, quotaLeft(stage.gang()))));
        room.reserve(stage.gang());
      }
    }
    return new Result(verdicts, inUse, pending);
  }

  private Verdict preemptOrWait(Waiting stage, List<Running> running, ClusterRoom room, int position) {
    String shortage = shortage(stage.gang(), room);
    if (spec.preemption() != TrainingQueueSpec.Preemption.LOWER_PRIORITY) {
      return new Wait(position, shortage);
    }
    List<Running> stopping = running.stream().filter(Running::stopping).toList();
    if (!stopping.isEmpty() && fitsAfterStopping(stage.gang(), room, stopping)) {
      // Named again, so that a victim whose own job has not stopped it in time is stopped by the preemptor.
      return new Preempt(position, shortage + "; waiting for preempted stages to stop", stopping);
    }
    // Only stages whose stop frees what the waiting stage lacks: quota it is counted against, or room on
    // nodes it may use. A reservation (no Job yet) is never a victim: there is nothing to stop.
    boolean quotaShort = quotaLeft(stage.gang()) < stage.gang().gpus();
    boolean roomShort = !room.copy().place(stage.gang());
    List<Running> candidates = running.stream()
        .filter(r -> !r.stopping() && !r.attempt().isEmpty() && r.priority() < stage.priority())
        .filter(r -> quotaShort && counted(r.gang(), stage.gang()) > 0
            || roomShort && r.heldByNode().keySet().stream().anyMatch(node -> room.usableBy(node, stage.gang())))
        .sorted(Comparator.comparingInt(Running::priority).thenComparing(Running::started, Comparator.reverseOrder()))
        .toList();
    List<Running> victims = new ArrayList<>();
    for (Running victim : candidates) {
      victims.add(victim);
      if (fitsAfterStopping(stage.gang(), room, stopping, victims)) {
        // Fill-back: a victim taken early whose stop the later ones made unneeded keeps running.
        for (int i = victims.size() - 2; i >= 0; i--) {
          List<Running> without = new ArrayList<>(victims);
          without.remove(i);
          if (fitsAfterStopping(stage.gang(), room, stopping, without)) {
            victims = without;
          }
        }
        return new Preempt(position, shortage + "; preempting " + String.join(", ",
            victims.stream().map(Running::key).toList()) + " (lower priority)", List.copyOf(victims));
      }
    }
    return new Wait(position, shortage);
  }

  /** Whether the gang fits in the queue's quota and on the nodes once every stage of {@code stopped} lists has stopped. */
  @SafeVarargs
  private boolean fitsAfterStopping(Gang gang, ClusterRoom room, List<Running>... stopped) {
    ClusterRoom after = room.copy();
    int quotaAfter = quotaLeft(gang);
    for (List<Running> list : stopped) {
      for (Running r : list) {
        quotaAfter = saturatedAdd(quotaAfter, counted(r.gang(), gang));
        r.heldByNode().forEach(after::release);
      }
    }
    return fits(gang, quotaAfter, after);
  }

  /** Quota left is Integer.MAX_VALUE for a queue without one: adding to it must not overflow. */
  private static int saturatedAdd(int a, int b) {
    return (int) Math.min(Integer.MAX_VALUE, (long) a + b);
  }

  private static boolean fits(Gang gang, int quotaLeft, ClusterRoom room) {
    return quotaLeft >= gang.gpus() && room.copy().place(gang);
  }

  /** GPUs a running gang frees towards the quota a waiting gang is measured against. */
  private int counted(Gang running, Gang waiting) {
    boolean product = waiting.product() != null && spec.gpuQuotaByProduct().containsKey(waiting.product());
    return !product || waiting.product().equals(running.product()) ? running.gpus() : 0;
  }

  private static List<Waiting> ordered(List<Waiting> waiting) {
    return waiting.stream()
        .sorted(Comparator.comparingInt(Waiting::priority).reversed()
            .thenComparing(Waiting::created)
            .thenComparing(Waiting::key))
        .toList();
  }

  private void hold(Gang gang, int gpus) {
    used += gpus;
    if (gang.product() != null) {
      usedByProduct.merge(gang.product(), gpus, Integer::sum);
    }
  }

  /** GPUs the queue's quota still allows for this gang: the total's and its product's, whichever is less. */
  private int quotaLeft(Gang gang) {
    if (gang.gpus() == 0) {
      return Integer.MAX_VALUE;
    }
    int left = spec.gpuQuota() == null ? Integer.MAX_VALUE : spec.gpuQuota() - used;
    Integer product = gang.product() == null ? null : spec.gpuQuotaByProduct().get(gang.product());
    if (product != null) {
      left = Math.min(left, product - usedByProduct.getOrDefault(gang.product(), 0));
    }
    return left;
  }

  /** "waiting for 16 x NVIDIA-A100-SXM4-40GB: 8 free in queue research, 3 free on nodes". */
  private String shortage(Gang gang, ClusterRoom room) {
    int quota = quotaLeft(gang);
    String inQueue = quota == Integer.MAX_VALUE ? "no quota limit in queue " + queue
        : Math.max(0, quota) + " free in queue " + queue;
    String lacking = room.shortage(gang);
    return "waiting for " + gang.describe() + " (" + gang.pods() + " pods of " + gang.gpusPerPod() + "): " + inQueue
        + ", " + room.free(gang) + " free on nodes" + (lacking.isEmpty() ? "" : "; " + lacking);
  }
}
