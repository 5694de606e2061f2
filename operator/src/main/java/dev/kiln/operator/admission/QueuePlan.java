package dev.kiln.operator.admission;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One queue's admission decisions, from a snapshot: the stages waiting in it, the stages it
 * runs, and the room on the cluster. Pure, so every rule is a unit test. Rules:
 * <ul>
 *   <li>waiting stages in order of priority (higher first), then those that stopped others to
 *       run and have room kept for them, then the job's age;</li>
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
 *       again, so that one still running past its grace is stopped by the preemptor);</li>
 *   <li>a cohort (Kueue's ClusterQueue cohort): the queue may also use GPUs the other queues of
 *       its cohort leave unused (within its borrowingLimit and their lendingLimits), and a stage
 *       that fits the queue's own quota may reclaim lent GPUs by stopping stages of queues that
 *       run on borrowed ones ({@code reclaimWithinCohort}), those queues' stages first, and only
 *       while they are still borrowing once the stages already stopping have stopped. GPUs that
 *       another queue's first waiting stage needs within that queue's own quota are not lent:
 *       that stage goes first, as Kueue serves heads that do not borrow before those that do; and
 *       a stage that would borrow is placed only where that stage still fits afterwards (or holds
 *       back what it could use, as a waiting head does in its own queue), so that it is not
 *       admitted onto nodes it is stopped on moments later to make room for that stage. While the
 *       first waiting stage reclaims, the stages behind it borrow nothing: they would take the
 *       queue past its own quota, and the head could then reclaim no more;</li>
 *   <li>the room a preemptor is planned to take once its victims stop is set aside for it
 *       ({@link ClusterRoom#setAside}): no other stage, of this queue or another, takes it first
 *       and makes it preempt again; under BestEffortFIFO that holds even once a stage of a higher
 *       priority goes ahead of it in its queue, while it fits the quota that stage leaves (it may
 *       pass it there, as a stage that fits may).</li>
 *   <li>a stage that no set of the nodes holds even with nothing else running (more pods than
 *       nodes it may use, a required topology domain too small) waits saying so, and holds back
 *       nothing: under BestEffortFIFO the stage behind it is served first, as Kueue sets an
 *       inadmissible workload aside; under StrictFIFO it still blocks its queue.</li>
 * </ul>
 */
public final class QueuePlan {

  /** A stage that asks to start: the job's key (namespace/name), priority and creation time. */
  public record Waiting(String key, int priority, Instant created, Gang gang) {}

  /**
   * A stage attempt the queue admitted and that still holds (or will hold) its GPUs: its Job
   * ({@code namespace/name}, perhaps gone while its pods stop; "" for a reservation), where its
   * pods hold them, and whether it is already being stopped.
   */
  public record Running(String key, String attempt, int priority, Instant started, Gang gang,
      Map<String, ResourceList> heldByNode, boolean stopping) {}

  /** What a waiting stage is told. */
  public sealed interface Verdict permits Admit, Wait, Preempt {}

  /** Admitted, each pod planned on {@code nodes} (rank order; empty for a CPU gang). */
  public record Admit(List<String> nodes) implements Verdict {}

  /**
   * Waits at {@code position} in the queue's order (1 is first; under BestEffortFIFO one that no
   * set of the nodes holds may come before the stage served next) for the reason given.
   */
  public record Wait(int position, String reason) implements Verdict {}

  /**
   * Waits, the first stage its queue serves, while {@code victims} are stopped for it; {@code nodes} is where its pods
   * would run once they have (rank order), the room to keep for it meanwhile.
   */
  public record Preempt(int position, String reason, List<Running> victims, List<String> nodes) implements Verdict {

    /** What its pods would take on each node it is planned on. */
    public Map<String, ResourceList> roomByNode(Gang gang) {
      Map<String, ResourceList> byNode = new LinkedHashMap<>();
      nodes.forEach(node -> byNode.merge(node, gang.perPod(), ResourceList::plus));
      return byNode;
    }
  }

  /**
   * The verdict for each waiting key, the GPUs the queue holds once the admitted stages start, who
   * waits, which waiting stages need no room kept for them (those at the head that wait, those that
   * fit no set of the nodes, and those behind the head that could not start there before it: the
   * queue is StrictFIFO, the quota left does not fit them even once their victims stop, or does not
   * fit them until then, or they would borrow while the head reclaims, and the head could use one
   * of those nodes), and the first waiting stage,
   * served before the rest (null when none waits, or none that any set of the nodes holds under
   * BestEffortFIFO).
   */
  public record Result(Map<String, Verdict> verdicts, int gpusInUse, List<String> pending, Set<String> roomNotNeeded,
      Waiting head) {}

  /**
   * Another queue of the cohort: its quota, the stages it runs (what it uses of the cohort's GPUs),
   * and the first stage waiting in it (null when none waits).
   */
  public record Member(String queue, TrainingQueueSpec spec, List<Running> running, Waiting head) {

    /** A member with nothing waiting. */
    public Member(String queue, TrainingQueueSpec spec, List<Running> running) {
      this(queue, spec, running, null);
    }

    /** The GPUs its first waiting stage asks for: 0 when none waits. */
    int headGpus() {
      return head == null ? 0 : head.gang().gpus();
    }
  }

  private final String queue;
  private final TrainingQueueSpec spec;
  private final List<Member> cohort;
  private final Map<String, Integer> usedByProduct = new HashMap<>();
  private int used;
  /** What the queue holds of each resource with a quota besides GPUs (cpu, memory), in thousandths. */
  private final Map<String, Long> usedOther = new HashMap<>();
  /** GPUs each other queue of the cohort holds; and whose each of their stages is. */
  private final Map<String, Integer> memberUsed = new HashMap<>();
  private final Map<String, Map<String, Long>> memberUsedOther = new HashMap<>();
  /** The queue's quotas besides GPUs, and each cohort member's, parsed once per plan: by resource. */
  private final Map<String, Share> otherShares;
  private final Map<String, Map<String, Share>> memberShares = new HashMap<>();
  private final Map<Running, Member> memberOf = new IdentityHashMap<>();
  /**
   * Why each gang shape waits, while neither the quota held nor the room changed: hundreds of
   * waiting stages of a few shapes would each build the same sentence (at 1,000 jobs that was two
   * thirds of a plan's time).
   */
  private final Map<Gang, String> shortages = new HashMap<>();
  private long shortagesAt = -1;
  /**
   * Members whose first waiting stage could start within their own quotas on nodes that could ever
   * hold it: served before a stage that borrows; set as a plan starts.
   */
  private final Set<String> headsWithinQuota = new HashSet<>();
  /** Members whose first waiting stage goes before a stage of this queue that borrows; set as a plan starts. */
  private List<Member> servedFirst = List.of();
  /** The room left to a stage that borrows, at the room's {@link ClusterRoom#changes()} it was built at. */
  private ClusterRoom leftToBorrowers;
  private long leftToBorrowersAt = -1;
  /** Whether each gang shape fits the room as it is, at the room's changes it was found at. */
  private final Map<Gang, Boolean> fitsNow = new HashMap<>();
  private long fitsNowAt = -1;

  private QueuePlan(String queue, TrainingQueueSpec spec, List<Member> cohort) {
    this.queue = queue;
    this.spec = spec;
    this.cohort = spec.cohort() == null ? List.of() : cohort;
    this.otherShares = Share.of(spec);
    this.cohort.forEach(member -> memberShares.put(member.queue(), Share.of(member.spec())));
  }

  public static Result plan(String queue, TrainingQueueSpec spec, List<Waiting> waiting, List<Running> running,
      ClusterRoom room) {
    return plan(queue, spec, waiting, running, room, List.of());
  }

  /** As above, for a queue whose cohort's other queues are {@code cohort}. */
  public static Result plan(String queue, TrainingQueueSpec spec, List<Waiting> waiting, List<Running> running,
      ClusterRoom room, List<Member> cohort) {
    return new QueuePlan(queue, spec, cohort).decide(waiting, running, room);
  }

  private Result decide(List<Waiting> waiting, List<Running> running, ClusterRoom room) {
    running.forEach(r -> hold(r.gang(), r.gang().gpus(), false));
    for (Member member : cohort) {
      memberUsed.put(member.queue(), member.running().stream().mapToInt(r -> r.gang().gpus()).sum());
      Map<String, Long> other = new HashMap<>();
      member.spec().resourceQuotas().keySet().forEach(resource -> other.put(resource,
          member.running().stream().mapToLong(r -> r.gang().total(resource)).sum()));
      memberUsedOther.put(member.queue(), other);
      member.running().forEach(r -> memberOf.put(r, member));
      if (headWithinQuota(member, room)) {
        headsWithinQuota.add(member.queue());
      }
    }
    int inUse = used;
    List<String> pending = new ArrayList<>();
    Map<String, Verdict> verdicts = new LinkedHashMap<>();
    Waiting head = null;
    boolean headReclaims = false;
    Set<String> roomNotNeeded = new HashSet<>();
    servedFirst = servedBeforeBorrowing(room);
    for (Waiting stage : ordered(waiting, room)) {
      boolean mayPass = head == null || spec.strategy() == TrainingQueueSpec.Strategy.BEST_EFFORT_FIFO;
      Map<String, ResourceList> setAside = room.takeSetAside(stage.key());
      boolean fits = mayPass && fitsQuota(stage.gang(), List.of());
      // Borrowing while the head reclaims would take back what it reclaims, and take the queue past its
      // own quota: the head could reclaim no more, and its victims would have stopped for nothing.
      boolean heldForReclaim = fits && headReclaims && borrowsAny(stage.gang());
      boolean mayStart = fits && !heldForReclaim;
      // Room kept for a stage that preempted is its own: the heads served first do not take it from it.
      boolean borrowing = mayStart && setAside.isEmpty() && !servedFirst.isEmpty() && borrows(stage.gang());
      List<String> nodes = !mayStart ? null : borrowing ? placementLeaving(stage.gang(), room) : room.placement(stage.gang());
      String heldBack = borrowing && nodes == null && fitsNow(stage.gang(), room) ? heldFor(stage.gang(), room) : "";
      if (nodes != null) {
        hold(stage.gang(), stage.gang().gpus(), false);
        inUse += stage.gang().gpus();
        verdicts.put(stage.key(), new Admit(nodes));
        continue;
      }
      pending.add(stage.key());
      int position = pending.size();
      // No stop frees room for a stage no set of these nodes holds: it keeps and holds back nothing.
      boolean neverFits = !room.neverFits(stage.gang()).isEmpty();
      if (head != null) {
        // It keeps its room while it may start there before the head: its own victims, which count
        // against the quota until they are gone, judged as gone; but a head that could use one of
        // those nodes comes first when the quota left does not run both.
        Waiting first = head;
        boolean headWantsIt = setAside.keySet().stream().anyMatch(node -> room.usableBy(node, first.gang()));
        if (!neverFits && mayPass && fitsQuota(stage.gang(), stoppingFor(stage.key(), running, room))
            && (mayStart || !headWantsIt)) {
          room.putBack(stage.key(), setAside);  // it waits for room its victims still hold: kept for it
        } else {
          roomNotNeeded.add(stage.key());  // what was kept is free to others
        }
        String reason = spec.strategy() == TrainingQueueSpec.Strategy.STRICT_FIFO
            ? "behind " + head.key() + " in queue " + queue + " (StrictFIFO)"
            : heldForReclaim ? shortage(stage.gang(), room) + "; " + head.key() + " goes first: it reclaims what queue "
                + queue + " lent, and the queue borrows nothing from cohort " + spec.cohort() + " meanwhile"
            : shortage(stage.gang(), room) + heldBack + "; " + head.key() + " goes first";
        verdicts.put(stage.key(), new Wait(position, reason));
        continue;
      }
      if (neverFits && spec.strategy() == TrainingQueueSpec.Strategy.BEST_EFFORT_FIFO) {
        // Set aside as Kueue sets an inadmissible workload aside: the next stage is the one served first.
        roomNotNeeded.add(stage.key());
        verdicts.put(stage.key(), new Wait(position, shortage(stage.gang(), room)));
        continue;
      }
      head = stage;
      // Held back, it fits the room as it is: stopping others would free nothing it may take.
      Verdict verdict = neverFits ? new Wait(position, shortage(stage.gang(), room))
          : heldBack.isEmpty() ? preemptOrWait(stage, running, room, position, setAside.isEmpty() ? servedFirst : List.of())
          : new Wait(position, shortage(stage.gang(), room) + heldBack);
      if (verdict instanceof Wait) {
        roomNotNeeded.add(stage.key());  // its plan no longer rests on what was kept for it
      }
      // Its victims in other queues: those it stops now, or stopped before (a wait lists all that are stopping).
      Set<String> ownVictims = room.victimsOf(stage.key());
      headReclaims = verdict instanceof Preempt preempt && preempt.victims().stream().anyMatch(victim ->
          memberOf.containsKey(victim) && (!victim.stopping() || ownVictims.contains(victim.attempt())))
          && mayReclaim(stage.gang());
      verdicts.put(stage.key(), verdict);
      // What the head could use now is held back for it, so that it is never starved.
      if (spec.strategy() == TrainingQueueSpec.Strategy.BEST_EFFORT_FIFO) {
        hold(stage.gang(), Math.min(stage.gang().gpus(), Math.max(0, quotaLeft(stage.gang()))), true);
        room.reserve(stage.gang());
      }
    }
    return new Result(verdicts, inUse, pending, roomNotNeeded, head);
  }

  /**
   * What the queue's first waiting stage is told when it does not start: to preempt, or to wait.
   * Should it still borrow once its victims stop, it is planned leaving what the first stages of
   * queues {@code served} could use, as when it starts.
   */
  private Verdict preemptOrWait(Waiting stage, List<Running> running, ClusterRoom room, int position,
      List<Member> served) {
    String shortage = shortage(stage.gang(), room);
    boolean withinQueue = spec.preemption() == TrainingQueueSpec.Preemption.LOWER_PRIORITY;
    boolean reclaim = mayReclaim(stage.gang());
    if (!withinQueue && !reclaim) {
      return new Wait(position, shortage);
    }
    List<Running> stopping = new ArrayList<>(running.stream().filter(Running::stopping).toList());
    cohort.forEach(member -> member.running().stream().filter(Running::stopping).forEach(stopping::add));
    List<String> placed = stopping.isEmpty() ? null : placedAfterStopping(stage.gang(), room, served, stopping);
    if (placed != null) {
      // Named again, so that a victim whose own job has not stopped it in time is stopped by the preemptor.
      return new Preempt(position, shortage + "; waiting for preempted stages to stop", List.copyOf(stopping), placed);
    }
    // Only stages whose stop frees what the waiting stage lacks: quota it is counted against, or room on
    // nodes it may use. A reservation (no Job yet) is never a victim: there is nothing to stop.
    boolean gpuQuotaShort = quotaLeft(stage.gang()) < stage.gang().gpus();
    List<String> otherShort = otherQuotaShort(stage.gang(), List.of());
    boolean quotaShort = gpuQuotaShort || !otherShort.isEmpty();
    boolean roomShort = !room.copy().place(stage.gang());
    Comparator<Running> lowestNewestFirst = Comparator.comparingInt(Running::priority)
        .thenComparing(Running::started, Comparator.reverseOrder());
    List<Running> candidates = new ArrayList<>();
    if (reclaim) {
      // Stages of queues running on borrowed GPUs go first, as in Kueue.
      cohort.stream().filter(member -> borrowingAfter(member, List.of()))
          .flatMap(member -> member.running().stream())
          .filter(r -> stoppable(r) && (spec.reclaimWithinCohort() == TrainingQueueSpec.Reclaim.ANY
              || r.priority() < stage.priority()))
          .filter(r -> quotaShort || roomShort && frees(r, stage.gang(), room))
          .sorted(lowestNewestFirst).forEach(candidates::add);
    }
    if (withinQueue) {
      running.stream()
          .filter(r -> stoppable(r) && r.priority() < stage.priority())
          .filter(r -> gpuQuotaShort && counted(r.gang(), stage.gang()) > 0
              || otherShort.stream().anyMatch(resource -> r.gang().total(resource) > 0)
              || roomShort && frees(r, stage.gang(), room))
          .sorted(lowestNewestFirst).forEach(candidates::add);
    }
    List<Running> victims = new ArrayList<>();
    for (Running victim : candidates) {
      if (memberOf.containsKey(victim) && !borrowingAfter(memberOf.get(victim), victims)) {
        continue;  // its queue no longer runs on borrowed GPUs once those already chosen stop
      }
      victims.add(victim);
      List<String> nodes = placedAfterStopping(stage.gang(), room, served, stopping, victims);
      if (nodes != null) {
        // Fill-back: a victim taken early whose stop the later ones made unneeded keeps running.
        for (int i = victims.size() - 2; i >= 0; i--) {
          List<Running> without = new ArrayList<>(victims);
          without.remove(i);
          List<String> placedWithout = placedAfterStopping(stage.gang(), room, served, stopping, without);
          if (placedWithout != null) {
            victims = without;
            nodes = placedWithout;
          }
        }
        return new Preempt(position, shortage + "; " + preempting(victims), List.copyOf(victims), nodes);
      }
    }
    return new Wait(position, shortage);
  }

  /**
   * "; the nodes it fits are held for ns/v1 (first in queue vision): ...", naming the first stages
   * served before it that could run on a node it could (one at least: only those take its room).
   */
  private String heldFor(Gang gang, ClusterRoom room) {
    return "; the nodes it fits are held for " + servedFirst.stream()
        .filter(member -> room.shareANode(member.head().gang(), gang))
        .map(member -> member.head().key() + " (first in queue " + member.queue() + ")")
        .collect(Collectors.joining(", ")) + ": a queue's first stage within its quota goes before a queue that borrows";
  }

  /**
   * The first waiting stages of the cohort's other queues that fit their own queue's quota
   * ({@link #headWithinQuota}): Kueue serves them before a stage that borrows. One with room kept
   * for it (it preempted) is left out: that room is already its own.
   */
  private List<Member> servedBeforeBorrowing(ClusterRoom room) {
    return cohort.stream()
        .filter(member -> headsWithinQuota.contains(member.queue()) && !room.keptFor(member.head().key()))
        .toList();
  }

  /**
   * Whether the member's first waiting stage asks for GPUs and fits its own queue's quotas as they
   * stand (nominal GPUs, its product's GPUs, nominal cpu and memory), on nodes that could ever hold it.
   */
  private boolean headWithinQuota(Member member, ClusterRoom room) {
    if (member.headGpus() == 0 || !room.neverFits(member.head().gang()).isEmpty()) {
      return false;
    }
    Gang gang = member.head().gang();
    Integer productQuota = gang.product() == null ? null : member.spec().gpuQuotaByProduct().get(gang.product());
    int productUsed = member.running().stream().filter(r -> gang.product() != null && gang.product().equals(r.gang().product()))
        .mapToInt(r -> r.gang().gpus()).sum();
    return memberUsed.get(member.queue()) + gang.gpus() <= nominal(member.spec())
        && (productQuota == null || productUsed + gang.gpus() <= productQuota)
        && memberShares.get(member.queue()).entrySet().stream().allMatch(quota ->
            memberUsedOther.get(member.queue()).get(quota.getKey()) + gang.total(quota.getKey()) <= quota.getValue().nominal());
  }

  /**
   * Whether the gang may take back what the queue lent its cohort: Kueue reclaims only for a stage
   * that fits the queue's own (nominal) quotas once admitted.
   */
  private boolean mayReclaim(Gang gang) {
    return spec.reclaimWithinCohort() != TrainingQueueSpec.Reclaim.NEVER && !cohort.isEmpty() && spec.gpuQuota() != null
        && !borrowsAny(gang);
  }

  /** Whether admitting the gang would make this queue use GPUs, cpu or memory beyond its own (nominal) quota. */
  private boolean borrowsAny(Gang gang) {
    return spec.gpuQuota() != null && used + gang.gpus() > spec.gpuQuota()
        || otherShares.entrySet().stream().anyMatch(quota -> usedOther.getOrDefault(quota.getKey(), 0L)
            + gang.total(quota.getKey()) > quota.getValue().nominal());
  }

  /** Whether admitting the gang would make this queue use GPUs beyond its own (nominal) quota. */
  private boolean borrows(Gang gang) {
    return borrows(gang, List.of());
  }

  /** As {@link #borrows(Gang)}, once the stages {@code stopped} (of this queue or of its cohort) have stopped. */
  private boolean borrows(Gang gang, List<Running> stopped) {
    int own = used - stopped.stream().filter(r -> !memberOf.containsKey(r)).mapToInt(r -> r.gang().gpus()).sum();
    return spec.gpuQuota() != null && gang.gpus() > 0 && own + gang.gpus() > nominal(spec);
  }

  /**
   * Where a gang that borrows goes (rank order), now holding that room: only where it fits once
   * the stages {@link #servedFirst} hold what they could use; null when it does not fit there.
   */
  private List<String> placementLeaving(Gang gang, ClusterRoom room) {
    if (leftToBorrowers == null || leftToBorrowersAt != room.changes()) {
      // Built once per change of the room: a plan checks hundreds of waiting stages against it.
      leftToBorrowers = room.copy();
      servedFirst.forEach(member -> leftToBorrowers.reserve(member.head().gang()));
      leftToBorrowersAt = room.changes();
    }
    List<String> nodes = leftToBorrowers.placement(gang);
    if (nodes != null) {
      nodes.forEach(node -> room.hold(node, gang.perPod()));
    }
    return nodes;
  }

  /** Whether the gang fits the room as it is (no room taken), for as long as the room does not change. */
  private boolean fitsNow(Gang gang, ClusterRoom room) {
    if (fitsNowAt != room.changes()) {
      fitsNow.clear();
      fitsNowAt = room.changes();
    }
    return fitsNow.computeIfAbsent(gang, g -> room.copy().place(g));
  }

  /** The stages of this queue or its cohort stopping for {@code job}: its victims. */
  private List<Running> stoppingFor(String job, List<Running> running, ClusterRoom room) {
    Set<String> victims = room.victimsOf(job);
    List<Running> stopping = new ArrayList<>();
    running.stream().filter(r -> victims.contains(r.attempt())).forEach(stopping::add);
    cohort.forEach(member -> member.running().stream().filter(r -> victims.contains(r.attempt())).forEach(stopping::add));
    return stopping;
  }

  /** "preempting a/low (lower priority); preempting b/big of queue vision (on GPUs borrowed in cohort lab)". */
  private String preempting(List<Running> victims) {
    List<String> parts = new ArrayList<>();
    List<String> own = victims.stream().filter(v -> !memberOf.containsKey(v)).map(Running::key).toList();
    if (!own.isEmpty()) {
      parts.add("preempting " + String.join(", ", own) + " (lower priority)");
    }
    victims.stream().filter(memberOf::containsKey).forEach(v -> parts.add("preempting " + v.key() + " of queue "
        + memberOf.get(v).queue() + " (on GPUs borrowed in cohort " + spec.cohort() + ")"));
    return String.join("; ", parts);
  }

  /** A stage that can be stopped: it has a Job (a reservation has nothing to stop) and is not being stopped. */
  private static boolean stoppable(Running running) {
    return !running.stopping() && !running.attempt().isEmpty();
  }

  /** Whether stopping the stage frees room on a node the gang may use. */
  private static boolean frees(Running running, Gang gang, ClusterRoom room) {
    return running.heldByNode().keySet().stream().anyMatch(node -> room.usableBy(node, gang));
  }

  /**
   * Whether the member still holds more than its quota (of GPUs, or of a resource it has a quota
   * of) once its stages already stopping and {@code stopped} have stopped.
   */
  private boolean borrowingAfter(Member member, List<Running> stopped) {
    List<Running> going = member.running().stream().filter(r -> r.stopping() || stopped.stream().anyMatch(v -> v == r))
        .toList();
    int after = memberUsed.get(member.queue()) - going.stream().mapToInt(r -> r.gang().gpus()).sum();
    return after > nominal(member.spec()) || memberShares.get(member.queue()).entrySet().stream().anyMatch(q ->
        memberUsedOther.get(member.queue()).get(q.getKey()) - going.stream().mapToLong(r -> r.gang().total(q.getKey())).sum()
            > q.getValue().nominal());
  }

  /**
   * Where the gang's pods would run (rank order) once every stage of {@code stopped} lists has
   * stopped, or null when it would not fit the queue's quota or the nodes even then; should it
   * still borrow then, only where the first stages of queues {@code served} still fit.
   */
  @SafeVarargs
  private List<String> placedAfterStopping(Gang gang, ClusterRoom room, List<Member> served, List<Running>... stopped) {
    ClusterRoom after = room.copy();
    List<Running> all = new ArrayList<>();
    for (List<Running> list : stopped) {
      for (Running r : list) {
        all.add(r);
        r.heldByNode().forEach((node, held) -> after.release(node, held, r.attempt()));
      }
    }
    if (!fitsQuota(gang, all)) {
      return null;
    }
    if (borrows(gang, all)) {
      served.forEach(member -> after.reserve(member.head().gang()));
    }
    return after.placement(gang);
  }

  /** GPUs a running gang frees towards the quota a waiting gang is measured against. */
  private int counted(Gang running, Gang waiting) {
    boolean product = waiting.product() != null && spec.gpuQuotaByProduct().containsKey(waiting.product());
    return !product || waiting.product().equals(running.product()) ? running.gpus() : 0;
  }

  /**
   * Higher priority first; among equals, a stage that stopped others to run (room is kept for it)
   * before the rest, as Kueue's requeue-strategy design has it ("a workload does not jump ahead of
   * a preempting workload"): else an older stage queued since takes the room it freed, and it
   * stops more; then the oldest.
   */
  private static List<Waiting> ordered(List<Waiting> waiting, ClusterRoom room) {
    return waiting.stream()
        .sorted(Comparator.comparingInt(Waiting::priority).reversed()
            .thenComparing(stage -> !room.keptFor(stage.key()))
            .thenComparing(Waiting::created)
            .thenComparing(Waiting::key))
        .toList();
  }

  /**
   * Counts {@code gpus} of the gang's GPUs against the queue's quota, and what it requests of each
   * other resource with a quota: all of it, or ({@code upToWhatIsLeft}, for a waiting head) as much
   * as the quota has left.
   */
  private void hold(Gang gang, int gpus, boolean upToWhatIsLeft) {
    shortages.clear();
    Map<String, Long> held = new HashMap<>();
    for (String resource : spec.resourceQuotas().keySet()) {
      held.put(resource, upToWhatIsLeft ? Math.min(gang.total(resource), Math.max(0, otherLeft(resource, List.of())))
          : gang.total(resource));
    }
    held.forEach((resource, amount) -> usedOther.merge(resource, amount, Long::sum));
    used += gpus;
    if (gang.product() != null) {
      usedByProduct.merge(gang.product(), gpus, Integer::sum);
    }
  }

  /** Whether the gang fits every quota of the queue (and its cohort) once the stages {@code stopped} have stopped. */
  private boolean fitsQuota(Gang gang, List<Running> stopped) {
    return quotaLeft(gang, stopped) >= gang.gpus() && otherQuotaShort(gang, stopped).isEmpty();
  }

  /** The resources besides GPUs (cpu, memory) whose quota the gang does not fit once {@code stopped} have stopped. */
  private List<String> otherQuotaShort(Gang gang, List<Running> stopped) {
    return spec.resourceQuotas().keySet().stream().sorted()
        .filter(resource -> gang.total(resource) > 0 && otherLeft(resource, stopped) < gang.total(resource)).toList();
  }

  /**
   * What the queue may still take of a resource it has a quota of (thousandths), once the stages
   * {@code stopped} have stopped: counted as GPUs are, among the queues of its cohort that have a
   * quota of it too.
   */
  private long otherLeft(String resource, List<Running> stopped) {
    long own = usedOther.getOrDefault(resource, 0L);
    Map<String, Long> others = new HashMap<>();
    memberUsedOther.forEach((member, uses) -> {
      if (uses.containsKey(resource)) {
        others.put(member, uses.get(resource));
      }
    });
    for (Running r : stopped) {
      Member member = memberOf.get(r);
      if (member == null) {
        own -= r.gang().total(resource);
      } else if (others.containsKey(member.queue())) {
        others.merge(member.queue(), -r.gang().total(resource), Long::sum);
      }
    }
    List<Share> members = new ArrayList<>();
    List<Long> uses = new ArrayList<>();
    for (Member member : cohort) {
      Share share = memberShares.get(member.queue()).get(resource);
      if (share != null) {
        members.add(share);
        uses.add(others.get(member.queue()));
      }
    }
    return otherShares.get(resource).left(own, members, uses);
  }

  /** GPUs the queue's quota still allows for this gang: the total's (its cohort's) and its product's, whichever is less. */
  private int quotaLeft(Gang gang) {
    return quotaLeft(gang, List.of());
  }

  /** As {@link #quotaLeft(Gang)}, once the stages {@code stopped} (of this queue or of its cohort) have stopped. */
  private int quotaLeft(Gang gang, List<Running> stopped) {
    if (gang.gpus() == 0) {
      return Integer.MAX_VALUE;
    }
    int own = used;
    int ownProduct = gang.product() == null ? 0 : usedByProduct.getOrDefault(gang.product(), 0);
    Map<String, Integer> others = new HashMap<>(memberUsed);
    for (Running r : stopped) {
      Member member = memberOf.get(r);
      if (member != null) {
        others.merge(member.queue(), -r.gang().gpus(), Integer::sum);
      } else {
        own -= r.gang().gpus();
        ownProduct -= gang.product() != null && gang.product().equals(r.gang().product()) ? r.gang().gpus() : 0;
      }
    }
    long left = totalLeft(own, others);
    Integer product = gang.product() == null ? null : spec.gpuQuotaByProduct().get(gang.product());
    if (product != null) {
      left = Math.min(left, product - ownProduct);
    }
    return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, left));
  }

  /**
   * GPUs the queue may still take when it holds {@code own} and the other queues of its cohort
   * {@code others}. Alone: its gpuQuota less {@code own}. In a cohort, as {@link Share#left}.
   */
  private long totalLeft(int own, Map<String, Integer> others) {
    if (spec.gpuQuota() == null) {
      return Integer.MAX_VALUE;
    }
    List<Share> members = new ArrayList<>();
    List<Long> uses = new ArrayList<>();
    for (Member member : cohort) {
      int memberUses = others.getOrDefault(member.queue(), 0);
      // A head that fits its own queue's quota is served before anyone borrows, as Kueue's scheduler
      // serves heads that do not borrow first: otherwise GPUs stopped to be reclaimed are borrowed
      // back by the queue they were reclaimed from, and the reclaim starts over. Not one over its
      // product's quota or that no set of the nodes holds: it would keep them from everyone.
      int owed = headsWithinQuota.contains(member.queue()) ? member.headGpus() : 0;
      members.add(Share.gpus(member.spec()));
      uses.add((long) memberUses + owed);
    }
    return Share.gpus(spec).left(own, members, uses);
  }

  /**
   * A queue's quota of one resource: its nominal amount, how much more it may borrow (null: no
   * limit) and how much of the nominal amount its cohort may borrow (null: all of it).
   */
  private record Share(long nominal, Long borrowingLimit, Long lendingLimit) {

    static Share gpus(TrainingQueueSpec queue) {
      return new Share(QueuePlan.nominal(queue), queue.borrowingLimit() == null ? null : (long) queue.borrowingLimit(),
          queue.lendingLimit() == null ? null : (long) queue.lendingLimit());
    }

    /** The queue's quotas besides GPUs (cpu, memory), in thousandths, by resource. */
    static Map<String, Share> of(TrainingQueueSpec queue) {
      Map<String, Share> shares = new HashMap<>();
      queue.resourceQuotas().forEach((resource, quota) -> shares.put(resource, new Share(
          ResourceList.thousandths(quota.nominal()),
          quota.borrowingLimit() == null ? null : ResourceList.thousandths(quota.borrowingLimit()),
          quota.lendingLimit() == null ? null : ResourceList.thousandths(quota.lendingLimit()))));
      return shares;
    }

    /** What it keeps for itself, never lent: nominal less its lendingLimit (a lendingLimit above nominal lends all). */
    long kept() {
      return lendingLimit == null ? 0 : Math.max(0, nominal - lendingLimit);
    }

    /** What it puts in its cohort. */
    long lendable() {
      return nominal - kept();
    }

    /**
     * What the queue may still take when it holds {@code own} and the other queues of its cohort
     * ({@code members}) hold {@code uses}, as Kueue counts it: each queue lends its nominal amount
     * less what it keeps; a queue may use what it keeps plus what the cohort has left to lend,
     * within nominal + borrowingLimit. Alone: nominal less {@code own}.
     */
    long left(long own, List<Share> members, List<Long> uses) {
      if (members.isEmpty()) {
        return nominal - own;
      }
      long lendable = lendable();
      long lent = 0;
      for (int i = 0; i < members.size(); i++) {
        lendable += members.get(i).lendable();
        lent += Math.max(0, uses.get(i) - members.get(i).kept());
      }
      long byCohort = Math.max(kept() - own, kept() + lendable - lent - own);
      long byBorrowingLimit = borrowingLimit == null ? Long.MAX_VALUE : nominal + borrowingLimit - own;
      return Math.min(byCohort, byBorrowingLimit);
    }
  }

  private static int nominal(TrainingQueueSpec queue) {
    return queue.gpuQuota() == null ? 0 : queue.gpuQuota();
  }

  /** "waiting for 16 x NVIDIA-A100-SXM4-40GB: 8 free in queue research, 3 free on nodes". */
  private String shortage(Gang gang, ClusterRoom room) {
    if (shortagesAt != room.changes()) {
      shortages.clear();
      shortagesAt = room.changes();
    }
    return shortages.computeIfAbsent(gang, g -> describeShortage(g, room));
  }

  private String describeShortage(Gang gang, ClusterRoom room) {
    int quota = quotaLeft(gang);
    String inQueue = quota == Integer.MAX_VALUE ? "no quota limit in queue " + queue
        : Math.max(0, quota) + " free in queue " + queue + (cohort.isEmpty() ? "" : " and its cohort " + spec.cohort());
    for (String resource : otherQuotaShort(gang, List.of())) {
      inQueue += " (its " + resource + " quota has " + new ResourceList(Map.of(resource, Math.max(0,
          otherLeft(resource, List.of())))).describe(resource) + " left, the stage requests "
          + gang.perPod().times(gang.pods()).describe(resource) + ")";
    }
    String never = room.neverFits(gang);
    if (!never.isEmpty()) {
      return "waiting for " + gang.describe() + " (" + gang.pods() + " pods of " + gang.gpusPerPod() + "): " + inQueue
          + "; it cannot start on the cluster's nodes as they are, even with nothing else running: " + never;
    }
    String lacking = room.shortage(gang);
    int stopping = room.terminating(gang);
    List<String> setAside = room.setAsideFrom(gang).entrySet().stream().map(e -> e.getValue() + " held for " + e.getKey())
        .toList();
    return "waiting for " + gang.describe() + " (" + gang.pods() + " pods of " + gang.gpusPerPod() + "): " + inQueue
        + ", " + room.free(gang) + " free on nodes" + (stopping == 0 ? "" : " (" + stopping + " more once pods being"
        + " deleted have stopped)") + (setAside.isEmpty() ? "" : " (" + String.join(", ", setAside) + ": kept for the stage"
        + " that preempted to run there)") + (lacking.isEmpty() ? "" : "; " + lacking);
  }
}
