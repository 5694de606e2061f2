package dev.kiln.operator.admission;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.v1alpha1.ResourceQuota;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.api.v1alpha1.TrainingQueueSpec.Preemption;
import dev.kiln.api.v1alpha1.TrainingQueueSpec.Strategy;
import dev.kiln.operator.FakeCluster;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The queue's rules on snapshots: order, gangs, quota, the two strategies, preemption. */
class QueuePlanTest {

  static final String A100 = "NVIDIA-A100-SXM4-40GB";
  static final String H100 = "NVIDIA-H100-80GB-HBM3";
  static final TrainingQueueSpec OPEN = new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.NEVER);

  @Test
  void higherPriorityFirstThenOlder() {
    ClusterRoom room = room(nodes(1, 8, A100), List.of());
    var plan = QueuePlan.plan("research", OPEN, List.of(
        waiting("ns/old", 0, 1, gang(1, 8)), waiting("ns/new", 0, 2, gang(1, 8)), waiting("ns/urgent", 5, 3, gang(1, 8))),
        List.of(), room);

    assertThat(plan.verdicts().get("ns/urgent")).isInstanceOf(QueuePlan.Admit.class);
    assertThat(plan.pending()).containsExactly("ns/old", "ns/new");
    assertThat(plan.verdicts().get("ns/old")).isEqualTo(new QueuePlan.Wait(1,
        "waiting for 8 GPUs (1 pods of 8): no quota limit in queue research, 0 free on nodes"));
    assertThat(((QueuePlan.Wait) plan.verdicts().get("ns/new")).position()).isEqualTo(2);
  }

  @Test
  void aStageThatStoppedOthersGoesBeforeOlderStagesOfItsPriorityButNotBeforeAHigherOne() {
    // node-0 was freed by the preemptor's victim and is kept for it; an older stage queued since.
    // The queue's quota is one stage's: the first in line holds it back from those behind.
    TrainingQueueSpec oneStage = new TrainingQueueSpec(8, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY);
    ClusterRoom room = room(nodes(1, 8, A100), List.of());
    room.setAside("ns/preemptor", "node-0", ResourceList.gpus(8), java.util.Set.of("ns/victim-a1"));
    List<QueuePlan.Waiting> older = List.of(waiting("ns/older", 0, 1, gang(1, 8)), waiting("ns/preemptor", 0, 2, gang(1, 8)));

    var plan = QueuePlan.plan("research", oneStage, older, List.of(), room.copy());
    assertThat(plan.verdicts().get("ns/preemptor")).isInstanceOf(QueuePlan.Admit.class);
    assertThat(plan.pending()).containsExactly("ns/older");

    var unkept = QueuePlan.plan("research", oneStage, older, List.of(), room(nodes(1, 8, A100), List.of()));
    assertThat(unkept.verdicts().get("ns/older")).as("positive control: with no room kept, the older goes first")
        .isInstanceOf(QueuePlan.Admit.class);
    assertThat(unkept.pending()).containsExactly("ns/preemptor");

    List<QueuePlan.Waiting> higher = List.of(waiting("ns/urgent", 5, 3, gang(1, 8)), waiting("ns/preemptor", 0, 2, gang(1, 8)));
    var behindHigher = QueuePlan.plan("research", OPEN, higher, List.of(), room.copy());
    assertThat(behindHigher.pending().getFirst()).as("a higher priority still goes first").isEqualTo("ns/urgent");
    assertThat(behindHigher.verdicts().get("ns/preemptor")).as("and the room kept for the preemptor stays its own")
        .isInstanceOf(QueuePlan.Admit.class);
  }

  @Test
  void aPreemptorBehindAHigherHeadGivesUpItsRoomOnlyWhenTheHeadCouldUseItAndTheQuotaCannotRunBoth() {
    // pre stopped low (quota 8, low's 8 stopping on node-0) and waits behind urgent, of a higher priority.
    TrainingQueueSpec oneStage = new TrainingQueueSpec(8, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY);
    List<Node> nodes = new ArrayList<>(nodes(1, 8, A100));
    nodes.addAll(nodes(1, 8, H100, "h"));
    List<QueuePlan.Running> running = List.of(new QueuePlan.Running("ns/low", "ns/low-a1", 0, Instant.ofEpochSecond(1),
        new Gang(1, 8, A100), Map.of("node-0", ResourceList.gpus(8)), true));
    ClusterRoom room = room(nodes, List.of(pod("node-0", 8), pod("h-0", 8)));
    room.setAside("ns/pre", "node-0", ResourceList.gpus(8), java.util.Set.of("ns/low-a1"));

    var elsewhere = QueuePlan.plan("research", oneStage, List.of(waiting("ns/urgent", 20, 3, new Gang(1, 8, H100)),
        waiting("ns/pre", 10, 2, new Gang(1, 8, A100))), running, room.copy());
    assertThat(elsewhere.pending()).containsExactly("ns/urgent", "ns/pre");
    assertThat(elsewhere.roomNotNeeded()).as("urgent cannot use node-0: pre keeps it for when low is gone")
        .containsExactly("ns/urgent");

    var there = QueuePlan.plan("research", oneStage, List.of(waiting("ns/urgent", 20, 3, new Gang(1, 8, A100)),
        waiting("ns/pre", 10, 2, new Gang(1, 8, A100))), running, room.copy());
    assertThat(there.roomNotNeeded()).as("urgent could use node-0, and the quota runs one of them").contains("ns/pre");
  }

  @Test
  void twoTwoNodeGangsOnThreeNodesNeverSplitTheCluster() {
    ClusterRoom room = room(nodes(3, 8, A100), List.of());
    var plan = QueuePlan.plan("research", OPEN, List.of(waiting("ns/a", 0, 1, gang(2, 8)), waiting("ns/b", 0, 2, gang(2, 8))),
        List.of(), room);

    assertThat(plan.verdicts().get("ns/a")).isInstanceOf(QueuePlan.Admit.class);
    assertThat(plan.verdicts().get("ns/b")).isEqualTo(new QueuePlan.Wait(1,
        "waiting for 16 GPUs (2 pods of 8): no quota limit in queue research, 8 free on nodes"));
    assertThat(room.free(gang(1, 8))).as("b holds back the node it could use, a holds two").isZero();
  }

  @Test
  void aGangNeedsWholeNodesNotJustEnoughGpusInTotal() {
    List<Pod> pods = List.of(pod("node-0", 4), pod("node-1", 4));
    var plan = QueuePlan.plan("research", OPEN, List.of(waiting("ns/a", 0, 1, gang(1, 8))), List.of(),
        room(nodes(2, 8, A100), pods));

    assertThat(plan.verdicts().get("ns/a")).isEqualTo(new QueuePlan.Wait(1,
        "waiting for 8 GPUs (1 pods of 8): no quota limit in queue research, 8 free on nodes"));
  }

  @Test
  void quotaInTotalAndPerProduct() {
    TrainingQueueSpec quota = new TrainingQueueSpec(16, Map.of(H100, 8), Strategy.BEST_EFFORT_FIFO, Preemption.NEVER);
    List<Node> nodes = new ArrayList<>(nodes(2, 8, A100));
    nodes.addAll(nodes(2, 8, H100, "h"));
    var plan = QueuePlan.plan("research", quota, List.of(
        waiting("ns/h1", 0, 1, new Gang(1, 8, H100)), waiting("ns/h2", 0, 2, new Gang(1, 8, H100)),
        waiting("ns/a1", 0, 3, new Gang(1, 8, A100)), waiting("ns/a2", 0, 4, new Gang(1, 8, A100))),
        List.of(), room(nodes, List.of()));

    assertThat(plan.verdicts().get("ns/h1")).isInstanceOf(QueuePlan.Admit.class);
    assertThat(plan.verdicts().get("ns/h2")).isEqualTo(new QueuePlan.Wait(1,
        "waiting for 8 x " + H100 + " (1 pods of 8): 0 free in queue research, 8 free on nodes"));
    // h2 waits on its product's quota, and holds back none of the total: a1 takes the last 8 of 16.
    assertThat(plan.verdicts().get("ns/a1")).isInstanceOf(QueuePlan.Admit.class);
    assertThat(plan.verdicts().get("ns/a2")).isInstanceOf(QueuePlan.Wait.class);
    assertThat(plan.gpusInUse()).isEqualTo(16);
  }

  @Test
  void strictFifoLetsNothingPassTheHead() {
    TrainingQueueSpec strict = new TrainingQueueSpec(null, null, Strategy.STRICT_FIFO, Preemption.NEVER);
    var plan = QueuePlan.plan("research", strict, List.of(waiting("ns/big", 0, 1, gang(2, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(), room(nodes(1, 8, A100), List.of()));

    assertThat(plan.verdicts().get("ns/small")).isEqualTo(new QueuePlan.Wait(2, "behind ns/big in queue research (StrictFIFO)"));
  }

  @Test
  void bestEffortLetsASmallStagePassButNeverOnTheHeadsGpus() {
    // 3 nodes, one busy: the 3-node head cannot start; a 1-node stage could, but only on GPUs the head does not hold back.
    List<Pod> busy = List.of(pod("node-0", 8));
    var plan = QueuePlan.plan("research", OPEN, List.of(waiting("ns/big", 0, 1, gang(3, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(), room(nodes(3, 8, A100), busy));
    assertThat(plan.verdicts().get("ns/small")).isInstanceOf(QueuePlan.Wait.class);

    // With a fourth node the head still cannot start, and the small stage takes the node the head cannot use.
    var roomier = QueuePlan.plan("research", OPEN, List.of(waiting("ns/big", 0, 1, gang(3, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(), room(nodes(4, 8, A100), List.of(pod("node-0", 8),
        pod("node-1", 8))));
    assertThat(roomier.verdicts().get("ns/small")).isInstanceOf(QueuePlan.Wait.class);
    var passes = QueuePlan.plan("research", OPEN, List.of(waiting("ns/big", 0, 1, gang(3, 8)),
        waiting("ns/cpu", 0, 2, gang(1, 0))), List.of(), room(nodes(3, 8, A100), busy));
    assertThat(passes.verdicts().get("ns/cpu")).as("a CPU stage needs none of the head's GPUs")
        .isInstanceOf(QueuePlan.Admit.class);
  }

  @Test
  void aStageNoSetOfTheNodesHoldsHoldsNothingBackAndTheStageBehindItIsServedFirst() {
    // Three nodes, node-0 busy: a 4-node stage never starts here; a 3-node one waits for node-0.
    List<Pod> busy = List.of(pod("node-0", 8));
    var plan = QueuePlan.plan("research", OPEN, List.of(waiting("ns/huge", 0, 1, gang(4, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(), room(nodes(3, 8, A100), busy));

    assertThat(plan.verdicts().get("ns/huge")).isEqualTo(new QueuePlan.Wait(1, "waiting for 32 GPUs (4 pods of 8): no"
        + " quota limit in queue research; it cannot start on the cluster's nodes as they are, even with nothing else"
        + " running: the 3 GPU nodes it may use take one pod each; it has 4 pods"));
    assertThat(plan.verdicts().get("ns/small")).as("it holds back no node").isInstanceOf(QueuePlan.Admit.class);
    assertThat(plan.head()).as("nobody waits that is served first").isNull();
    assertThat(plan.roomNotNeeded()).contains("ns/huge");

    var control = QueuePlan.plan("research", OPEN, List.of(waiting("ns/big", 0, 1, gang(3, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(), room(nodes(3, 8, A100), busy));
    assertThat(control.verdicts().get("ns/small")).as("positive control: a head that fits once node-0 is free holds"
        + " back the other two").isInstanceOf(QueuePlan.Wait.class);
    assertThat(control.head().key()).isEqualTo("ns/big");

    var behind = QueuePlan.plan("research", OPEN, List.of(waiting("ns/huge", 0, 1, gang(4, 8)),
        waiting("ns/big", 0, 2, gang(3, 8)), waiting("ns/small", 0, 3, gang(1, 8))), List.of(),
        room(nodes(3, 8, A100), busy));
    assertThat(behind.head().key()).as("the stage behind it is served first").isEqualTo("ns/big");
    assertThat(behind.verdicts().get("ns/small")).isInstanceOf(QueuePlan.Wait.class)
        .extracting(v -> ((QueuePlan.Wait) v).reason()).asString().endsWith("; ns/big goes first");

    TrainingQueueSpec strict = new TrainingQueueSpec(null, null, Strategy.STRICT_FIFO, Preemption.LOWER_PRIORITY);
    var strictPlan = QueuePlan.plan("research", strict, List.of(waiting("ns/huge", 1, 1, gang(4, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(running("ns/low", 0, 0, "node-0")),
        room(nodes(3, 8, A100), busy));
    assertThat(strictPlan.verdicts().get("ns/huge")).as("no stop would make room: it preempts nobody")
        .isInstanceOf(QueuePlan.Wait.class);
    assertThat(strictPlan.verdicts().get("ns/small")).as("StrictFIFO: it still blocks its queue")
        .isEqualTo(new QueuePlan.Wait(2, "behind ns/huge in queue research (StrictFIFO)"));
    assertThat(strictPlan.head().key()).isEqualTo("ns/huge");
  }

  @Test
  void bestEffortAdmitsASmallStageWhereTheHeadIsBlockedByQuota() {
    TrainingQueueSpec quota = new TrainingQueueSpec(8, Map.of(), Strategy.BEST_EFFORT_FIFO, Preemption.NEVER);
    var plan = QueuePlan.plan("research", quota, List.of(waiting("ns/big", 0, 1, gang(2, 8)),
        waiting("ns/small", 0, 2, gang(1, 8))), List.of(), room(nodes(3, 8, A100), List.of()));
    assertThat(plan.verdicts().get("ns/big")).isInstanceOf(QueuePlan.Wait.class);
    assertThat(plan.verdicts().get("ns/small")).as("the head holds back the queue's 8 GPUs it could use")
        .isInstanceOf(QueuePlan.Wait.class);
  }

  @Test
  void preemptsLowestPriorityNewestFirstAndNoMoreThanNeeded() {
    TrainingQueueSpec preempting = new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY);
    List<Pod> pods = List.of(pod("node-0", 8), pod("node-1", 8), pod("node-2", 8));
    List<QueuePlan.Running> running = List.of(
        running("ns/low-old", 0, 1, "node-0"), running("ns/low-new", 0, 2, "node-1"), running("ns/mid", 3, 3, "node-2"));
    var plan = QueuePlan.plan("research", preempting, List.of(waiting("ns/urgent", 5, 9, gang(1, 8))), running,
        room(nodes(3, 8, A100), pods));

    var verdict = (QueuePlan.Preempt) plan.verdicts().get("ns/urgent");
    assertThat(verdict.victims()).extracting(QueuePlan.Running::key).containsExactly("ns/low-new");
    assertThat(verdict.reason()).endsWith("preempting ns/low-new (lower priority)");

    var equal = QueuePlan.plan("research", preempting, List.of(waiting("ns/peer", 0, 9, gang(1, 8))), running,
        room(nodes(3, 8, A100), pods));
    assertThat(equal.verdicts().get("ns/peer")).as("never an equal priority").isInstanceOf(QueuePlan.Wait.class);

    var never = QueuePlan.plan("research", OPEN, List.of(waiting("ns/urgent", 5, 9, gang(1, 8))), running,
        room(nodes(3, 8, A100), pods));
    assertThat(never.verdicts().get("ns/urgent")).isInstanceOf(QueuePlan.Wait.class);
  }

  @Test
  void aVictimTakenEarlyWhoseStopTheLaterOnesMadeUnneededKeepsRunning() {
    TrainingQueueSpec preempting = new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY);
    // node-0: "low" holds 4 GPUs beside a high-priority stage's 4; node-1: "lower-but-whole" holds all 8.
    List<Pod> pods = List.of(pod("node-0", 4), pod("node-0", 4), pod("node-1", 8));
    List<QueuePlan.Running> running = List.of(
        new QueuePlan.Running("ns/low", "ns/low-a1", 0, Instant.ofEpochSecond(5), gang(1, 4),
            Map.of("node-0", ResourceList.gpus(4)), false),
        new QueuePlan.Running("ns/vip", "ns/vip-a1", 9, Instant.ofEpochSecond(1), gang(1, 4),
            Map.of("node-0", ResourceList.gpus(4)), false),
        new QueuePlan.Running("ns/whole", "ns/whole-a1", 1, Instant.ofEpochSecond(2), gang(1, 8),
            Map.of("node-1", ResourceList.gpus(8)), false));

    var verdict = (QueuePlan.Preempt) QueuePlan.plan("research", preempting,
        List.of(waiting("ns/urgent", 5, 9, gang(1, 8))), running, room(nodes(2, 8, A100), pods)).verdicts().get("ns/urgent");

    // Lowest priority first takes "low" (4 GPUs, not enough), then "whole" (enough alone): "low" is dropped again.
    assertThat(verdict.victims()).extracting(QueuePlan.Running::key).containsExactly("ns/whole");
  }

  @Test
  void aReservationIsNeverAVictimThoughItHoldsTheQuotaTheWaitingStageLacks() {
    TrainingQueueSpec preempting = new TrainingQueueSpec(8, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY);
    // Admitted a moment ago, its Job not yet seen: it holds the queue's 8 GPUs of quota, and nothing can stop it.
    QueuePlan.Running reserved = new QueuePlan.Running("ns/reserved", "", 0, Instant.ofEpochSecond(6), gang(1, 8),
        Map.of(), false);
    var wait = QueuePlan.plan("research", preempting, List.of(waiting("ns/urgent", 5, 9, gang(1, 8))), List.of(reserved),
        room(nodes(2, 8, A100), List.of())).verdicts().get("ns/urgent");
    assertThat(wait).as("it waits: a reservation is not a stage being stopped").isInstanceOf(QueuePlan.Wait.class);

    QueuePlan.Running started = new QueuePlan.Running("ns/started", "ns/started-a1", 0, Instant.ofEpochSecond(6),
        gang(1, 8), Map.of("node-0", ResourceList.gpus(8)), false);
    var preempt = QueuePlan.plan("research", preempting, List.of(waiting("ns/urgent", 5, 9, gang(1, 8))), List.of(started),
        room(nodes(2, 8, A100), List.of(pod("node-0", 8)))).verdicts().get("ns/urgent");
    assertThat(((QueuePlan.Preempt) preempt).victims()).as("positive control: once its Job runs it may be stopped")
        .extracting(QueuePlan.Running::key).containsExactly("ns/started");
  }

  @Test
  void waitsForAStoppingStageInsteadOfPreemptingAnother() {
    TrainingQueueSpec preempting = new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY);
    List<Pod> pods = List.of(pod("node-0", 8), pod("node-1", 8));
    List<QueuePlan.Running> running = List.of(
        new QueuePlan.Running("ns/stopping", "ns/stopping-a1", 0, Instant.ofEpochSecond(1), gang(1, 8), Map.of("node-0", ResourceList.gpus(8)), true),
        running("ns/low", 0, 2, "node-1"));
    var plan = QueuePlan.plan("research", preempting, List.of(waiting("ns/urgent", 5, 9, gang(1, 8))), running,
        room(nodes(2, 8, A100), pods));

    var waiting = (QueuePlan.Preempt) plan.verdicts().get("ns/urgent");
    assertThat(waiting.reason()).endsWith("waiting for preempted stages to stop");
    assertThat(waiting.victims()).as("only the stage already stopping, named again; ns/low is left running")
        .extracting(QueuePlan.Running::key).containsExactly("ns/stopping");
  }

  @Test
  void unusableNodesOfferNoRoom() {
    Node cordoned = nodes(1, 8, A100).getFirst();
    cordoned.getSpec().setUnschedulable(true);
    Node notReady = nodes(1, 8, A100, "nr").getFirst();
    notReady.getStatus().setConditions(List.of(new io.fabric8.kubernetes.api.model.NodeConditionBuilder()
        .withType("Ready").withStatus("False").build()));
    Node tainted = nodes(1, 8, A100, "t").getFirst();
    tainted.getSpec().setTaints(List.of(new io.fabric8.kubernetes.api.model.TaintBuilder()
        .withKey("maintenance").withEffect("NoSchedule").build()));
    Node gpuTaint = nodes(1, 8, A100, "g").getFirst();
    gpuTaint.getSpec().setTaints(List.of(new io.fabric8.kubernetes.api.model.TaintBuilder()
        .withKey("nvidia.com/gpu").withEffect("NoSchedule").build()));

    assertThat(room(List.of(cordoned, notReady, tainted, gpuTaint), List.of()).free(gang(1, 8)))
        .as("only the node with the GPU taint Kiln tolerates").isEqualTo(8);
  }

  @Test
  void aGangIsNeverAdmittedOntoGpusAPodBeingDeletedStillHoldsAndItsReasonSaysSo() {
    Pod stopping = pod("node-0", 8);
    stopping.getMetadata().setDeletionTimestamp("2026-12-05T00:00:00Z");
    var plan = QueuePlan.plan("research", OPEN, List.of(waiting("ns/next", 0, 1, gang(1, 8))), List.of(),
        room(nodes(1, 8, A100), List.of(stopping)));
    assertThat(plan.verdicts().get("ns/next")).isEqualTo(new QueuePlan.Wait(1, "waiting for 8 GPUs (1 pods of 8): no quota"
        + " limit in queue research, 0 free on nodes (8 more once pods being deleted have stopped)"));

    var gone = QueuePlan.plan("research", OPEN, List.of(waiting("ns/next", 0, 1, gang(1, 8))), List.of(),
        room(nodes(1, 8, A100), List.of()));
    assertThat(gone.verdicts().get("ns/next")).as("positive control: once it has stopped").isInstanceOf(QueuePlan.Admit.class);
  }

  // --- cohorts ---------------------------------------------------------------------------------

  static TrainingQueueSpec inCohort(int quota, Integer borrowingLimit, Integer lendingLimit, TrainingQueueSpec.Reclaim reclaim) {
    return new TrainingQueueSpec(quota, null, Strategy.BEST_EFFORT_FIFO, Preemption.NEVER, null, "lab", borrowingLimit,
        lendingLimit, reclaim);
  }

  @Test
  void aQueueBorrowsWhatItsCohortLeavesUnusedWithinItsBorrowingLimit() {
    var language = new QueuePlan.Member("language", inCohort(16, null, null, null), List.of());
    List<QueuePlan.Waiting> wide = List.of(waiting("ns/wide", 0, 1, gang(2, 8)));

    var borrowing = QueuePlan.plan("vision", inCohort(8, null, null, null), wide, List.of(),
        room(nodes(4, 8, A100), List.of()), List.of(language));
    assertThat(borrowing.verdicts().get("ns/wide")).as("8 of its own, 8 lent by language").isInstanceOf(QueuePlan.Admit.class);

    var alone = QueuePlan.plan("vision", new TrainingQueueSpec(8, null, null, null), wide, List.of(),
        room(nodes(4, 8, A100), List.of()));
    assertThat(alone.verdicts().get("ns/wide")).as("positive control: outside a cohort its quota is a cap")
        .isEqualTo(new QueuePlan.Wait(1, "waiting for 16 GPUs (2 pods of 8): 8 free in queue vision, 32 free on nodes"));

    var limited = QueuePlan.plan("vision", inCohort(8, 4, null, null), wide, List.of(),
        room(nodes(4, 8, A100), List.of()), List.of(language));
    assertThat(limited.verdicts().get("ns/wide")).isEqualTo(new QueuePlan.Wait(1,
        "waiting for 16 GPUs (2 pods of 8): 12 free in queue vision and its cohort lab, 32 free on nodes"));

    var languageBusy = new QueuePlan.Member("language", inCohort(16, null, null, null), List.of(
        running("ns/l1", 0, 1, "node-2"), running("ns/l2", 0, 2, "node-3")));
    var nothingLent = QueuePlan.plan("vision", inCohort(8, null, null, null), wide, List.of(),
        room(nodes(4, 8, A100), List.of(pod("node-2", 8), pod("node-3", 8))), List.of(languageBusy));
    assertThat(((QueuePlan.Wait) nothingLent.verdicts().get("ns/wide")).reason())
        .as("language uses all it has: vision keeps its own 8").contains("8 free in queue vision and its cohort lab");
  }

  @Test
  void aLendingLimitKeepsPartOfAQueuesQuotaForItself() {
    var language = new QueuePlan.Member("language", inCohort(16, null, 4, null), List.of());
    var twelve = QueuePlan.plan("vision", inCohort(8, null, null, null), List.of(waiting("ns/twelve", 0, 1, gang(3, 4))),
        List.of(), room(nodes(4, 8, A100), List.of()), List.of(language));
    assertThat(twelve.verdicts().get("ns/twelve")).as("8 + the 4 language lends").isInstanceOf(QueuePlan.Admit.class);

    var sixteen = QueuePlan.plan("vision", inCohort(8, null, null, null), List.of(waiting("ns/sixteen", 0, 1, gang(4, 4))),
        List.of(), room(nodes(4, 8, A100), List.of()), List.of(language));
    assertThat(((QueuePlan.Wait) sixteen.verdicts().get("ns/sixteen")).reason())
        .contains("12 free in queue vision and its cohort lab");
  }

  @Test
  void aQueueWithinItsQuotaReclaimsLentGpusFromTheNewestStageOfABorrowingQueue() {
    // language (quota 8) runs 16 GPUs: 8 of them vision's, lent while vision was idle.
    List<QueuePlan.Running> languageStages = List.of(running("ns/lang-old", 5, 1, "node-0"),
        running("ns/lang-new", 5, 2, "node-1"));
    var language = new QueuePlan.Member("language", inCohort(8, null, null, null), languageStages);
    List<Pod> pods = List.of(pod("node-0", 8), pod("node-1", 8));
    List<QueuePlan.Waiting> back = List.of(waiting("ns/back", 0, 9, gang(1, 8)));

    var any = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY), back, List.of(),
        room(nodes(2, 8, A100), pods), List.of(language));
    var reclaiming = (QueuePlan.Preempt) any.verdicts().get("ns/back");
    assertThat(reclaiming.victims()).extracting(QueuePlan.Running::key).containsExactly("ns/lang-new");
    assertThat(reclaiming.reason()).endsWith("preempting ns/lang-new of queue language (on GPUs borrowed in cohort lab)");

    var lowerOnly = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.LOWER_PRIORITY), back,
        List.of(), room(nodes(2, 8, A100), pods), List.of(language));
    assertThat(lowerOnly.verdicts().get("ns/back")).as("language's stages have the higher priority")
        .isInstanceOf(QueuePlan.Wait.class);
    var never = QueuePlan.plan("vision", inCohort(8, null, null, null), back, List.of(), room(nodes(2, 8, A100), pods),
        List.of(language));
    assertThat(never.verdicts().get("ns/back")).isInstanceOf(QueuePlan.Wait.class);

    var withinItsOwn = new QueuePlan.Member("language", inCohort(16, null, null, null), languageStages);
    var notBorrowing = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY), back, List.of(),
        room(nodes(2, 8, A100), pods), List.of(withinItsOwn));
    assertThat(notBorrowing.verdicts().get("ns/back")).as("language runs within its own quota: nothing to reclaim")
        .isInstanceOf(QueuePlan.Wait.class);

    var beyondItsQuota = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY),
        List.of(waiting("ns/big", 0, 9, gang(2, 8))), List.of(), room(nodes(2, 8, A100), pods), List.of(language));
    assertThat(beyondItsQuota.verdicts().get("ns/big")).as("16 GPUs would be borrowing: not a reclaim")
        .isInstanceOf(QueuePlan.Wait.class);
  }

  @Test
  void aStageBehindAHeadThatReclaimsDoesNotBorrowAndCostItTheRightToReclaim() {
    // language (quota 8) runs 16 on node-0 and node-1; audio (quota 16) runs 4 on node-2, leaving 4 free there.
    var language = new QueuePlan.Member("language", inCohort(8, null, null, null), List.of(running("ns/lang-old", 0, 1,
        "node-0"), running("ns/lang-new", 0, 2, "node-1")));
    var audio = new QueuePlan.Member("audio", inCohort(16, null, null, null), List.of(new QueuePlan.Running("ns/audio",
        "ns/audio-a1", 0, Instant.ofEpochSecond(1), gang(1, 4), Map.of("node-2", ResourceList.gpus(4)), false)));
    List<Pod> pods = List.of(pod("node-0", 8), pod("node-1", 8), pod("node-2", 4));
    List<QueuePlan.Waiting> stages = List.of(waiting("ns/head", 0, 9, gang(1, 8)), waiting("ns/small", 0, 10, gang(1, 4)));

    var plan = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY), stages, List.of(),
        room(nodes(3, 8, A100), pods), List.of(language, audio));
    assertThat(((QueuePlan.Preempt) plan.verdicts().get("ns/head")).victims()).extracting(QueuePlan.Running::key)
        .containsExactly("ns/lang-new");
    assertThat(plan.verdicts().get("ns/small")).as("4 GPUs free on node-2, but beyond vision's own 8")
        .isInstanceOf(QueuePlan.Wait.class);
    assertThat(((QueuePlan.Wait) plan.verdicts().get("ns/small")).reason()).endsWith("; ns/head goes first: it reclaims"
        + " what queue vision lent, and the queue borrows nothing from cohort lab meanwhile");

    // Room kept for the borrower (it preempted before) on a node the head could use goes back to the pool.
    ClusterRoom keptForSmall = room(nodes(3, 8, A100), pods);
    keptForSmall.setAside("ns/small", "node-2", ResourceList.gpus(4), Set.of());
    var higherHead = List.of(waiting("ns/head", 5, 9, gang(1, 8)), waiting("ns/small", 0, 10, gang(1, 4)));
    var smallHadRoom = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY), higherHead,
        List.of(), keptForSmall, List.of(language, audio));
    assertThat(smallHadRoom.verdicts().get("ns/head")).isInstanceOf(QueuePlan.Preempt.class);
    assertThat(smallHadRoom.roomNotNeeded()).contains("ns/small");

    // Its next plans, while its victim stops: it still reclaims, and the borrower still waits.
    var stopping = new QueuePlan.Member("language", inCohort(8, null, null, null), List.of(running("ns/lang-old", 0, 1,
        "node-0"), new QueuePlan.Running("ns/lang-new", "ns/lang-new-a1", 0, Instant.ofEpochSecond(2), gang(1, 8),
        Map.of("node-1", ResourceList.gpus(8)), true)));
    ClusterRoom kept = room(nodes(3, 8, A100), pods);
    kept.setAside("ns/head", "node-1", ResourceList.gpus(8), Set.of("ns/lang-new-a1"));
    var waitingForIt = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY), stages, List.of(),
        kept, List.of(stopping, audio));
    assertThat(waitingForIt.verdicts().get("ns/head")).isInstanceOf(QueuePlan.Preempt.class);
    assertThat(waitingForIt.verdicts().get("ns/small")).isInstanceOf(QueuePlan.Wait.class);
    // A stage stopping for someone else (no room kept for the head) is not the head's reclaim.
    var stoppingForOthers = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY), stages,
        List.of(), room(nodes(3, 8, A100), pods), List.of(stopping, audio));
    assertThat(stoppingForOthers.verdicts().get("ns/head")).isInstanceOf(QueuePlan.Preempt.class);
    assertThat(stoppingForOthers.verdicts().get("ns/small")).isEqualTo(new QueuePlan.Admit(List.of("node-2")));

    // Had it started there, vision would be at 12 of its 8 with the head: a borrower, which reclaims nothing.
    var smallRunning = List.of(new QueuePlan.Running("ns/small", "ns/small-a1", 0, Instant.ofEpochSecond(10), gang(1, 4),
        Map.of("node-2", ResourceList.gpus(4)), false));
    var after = QueuePlan.plan("vision", inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY),
        List.of(stages.getFirst()), smallRunning, room(nodes(3, 8, A100), List.of(pod("node-0", 8), pod("node-1", 8),
        pod("node-2", 8))), List.of(language, audio));
    assertThat(after.verdicts().get("ns/head")).isInstanceOf(QueuePlan.Wait.class);

    var withinQuota = QueuePlan.plan("vision", inCohort(12, null, null, TrainingQueueSpec.Reclaim.ANY), stages, List.of(),
        room(nodes(3, 8, A100), pods), List.of(language, audio));
    assertThat(withinQuota.verdicts().get("ns/head")).isInstanceOf(QueuePlan.Preempt.class);
    assertThat(withinQuota.verdicts().get("ns/small")).as("positive control: within vision's own 12, it passes")
        .isEqualTo(new QueuePlan.Admit(List.of("node-2")));

    // A head that stops a stage of its own queue (of a lower priority) reclaims nothing: a borrower may pass it.
    var ownLow = List.of(new QueuePlan.Running("ns/low", "ns/low-a1", 0, Instant.ofEpochSecond(3), gang(1, 4),
        Map.of("node-2", ResourceList.gpus(4)), false));
    var ownVictim = QueuePlan.plan("vision", new TrainingQueueSpec(12, null, Strategy.BEST_EFFORT_FIFO,
        Preemption.LOWER_PRIORITY, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY), List.of(waiting("ns/head", 5,
        9, gang(1, 8)), waiting("ns/small", 0, 10, gang(1, 4))), ownLow, room(nodes(4, 8, A100), List.of(pod("node-0", 8),
        pod("node-1", 8), pod("node-2", 4), pod("node-3", 4))), List.of(new QueuePlan.Member("language", inCohort(16, null,
        null, null), language.running()), new QueuePlan.Member("audio", inCohort(16, null, null, null), List.of())));
    assertThat(((QueuePlan.Preempt) ownVictim.verdicts().get("ns/head")).victims()).extracting(QueuePlan.Running::key)
        .containsExactly("ns/low");
    assertThat(ownVictim.verdicts().get("ns/small")).isInstanceOf(QueuePlan.Admit.class);
  }

  @Test
  void gpusAnotherQueuesHeadNeedsWithinItsQuotaAreNotBorrowedBackFromIt() {
    // vision (quota 8) reclaimed its 8 from language, which now runs within its own 8 and wants more.
    List<QueuePlan.Waiting> again = List.of(waiting("ns/again", 0, 1, gang(1, 8)));
    var visionWaits = new QueuePlan.Member("vision", inCohort(8, null, null, null), List.of(), waiting("ns/v1", 0, 1, gang(1, 8)));
    List<QueuePlan.Running> languageRuns = List.of(running("ns/l1", 0, 1, "node-0"));
    var plan = QueuePlan.plan("language", inCohort(8, null, null, null), again, languageRuns,
        room(nodes(2, 8, A100), List.of(pod("node-0", 8))), List.of(visionWaits));
    assertThat(plan.verdicts().get("ns/again")).as("vision's head goes first: borrowing its 8 back would undo the reclaim")
        .isEqualTo(new QueuePlan.Wait(1, "waiting for 8 GPUs (1 pods of 8): 0 free in queue language and its cohort lab,"
            + " 8 free on nodes"));

    var visionIdle = new QueuePlan.Member("vision", inCohort(8, null, null, null), List.of());
    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), again, languageRuns,
        room(nodes(2, 8, A100), List.of(pod("node-0", 8))), List.of(visionIdle)).verdicts().get("ns/again"))
        .as("positive control: nothing waits in vision, its 8 are lent").isInstanceOf(QueuePlan.Admit.class);
    var visionWantsMore = new QueuePlan.Member("vision", inCohort(8, null, null, null), List.of(), waiting("ns/v1", 0, 1, gang(2, 8)));
    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), again, languageRuns,
        room(nodes(2, 8, A100), List.of(pod("node-0", 8))), List.of(visionWantsMore)).verdicts().get("ns/again"))
        .as("vision's head would borrow too: it has no precedence").isInstanceOf(QueuePlan.Admit.class);
  }

  @Test
  void aStageThatWouldBorrowLeavesTheNodesAnotherQueuesHeadNeedsWithinItsQuota() {
    // language (quota 8) runs 8 on node-0 and would borrow for a second stage; vision's head fits its
    // own quota of 16. The quota lets both run, the nodes only one: node-2 has 4 GPUs taken.
    List<QueuePlan.Waiting> more = List.of(waiting("ns/more", 0, 2, gang(1, 8)));
    List<QueuePlan.Running> languageRuns = List.of(running("ns/l1", 0, 1, "node-0"));
    List<Pod> pods = List.of(pod("node-0", 8), pod("node-2", 4));
    var visionWaits = new QueuePlan.Member("vision", inCohort(16, null, null, null), List.of(),
        waiting("ns/v1", 0, 3, gang(1, 8)));

    var plan = QueuePlan.plan("language", inCohort(8, null, null, null), more, languageRuns,
        room(nodes(3, 8, A100), pods), List.of(visionWaits));

    assertThat(plan.verdicts().get("ns/more")).as("vision's head goes first, though it queued later")
        .isEqualTo(new QueuePlan.Wait(1, "waiting for 8 GPUs (1 pods of 8): 8 free in queue language and its cohort lab,"
            + " 12 free on nodes; the nodes it fits are held for ns/v1 (first in queue vision): a queue's first stage"
            + " within its quota goes before a queue that borrows"));
    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), more, languageRuns,
        room(nodes(3, 8, A100), List.of(pod("node-0", 8))), List.of(visionWaits)).verdicts().get("ns/more"))
        .as("positive control: with node-2 free too, both fit: it borrows the one vision's head does not need")
        .isEqualTo(new QueuePlan.Admit(List.of("node-2")));
    assertThat(QueuePlan.plan("language", inCohort(16, null, null, null), more, languageRuns,
        room(nodes(3, 8, A100), pods), List.of(visionWaits)).verdicts().get("ns/more"))
        .as("within its own quota it does not borrow: no queue goes before it").isInstanceOf(QueuePlan.Admit.class);

    // In a LowerPriority queue, with a stage of vision stopping on node-2 (and speech lending the
    // quota that takes), it still only waits: it fits the room as it is, so no stop frees what it may take.
    var visionStopping = new QueuePlan.Member("vision", inCohort(16, null, null, null), List.of(new QueuePlan.Running(
        "ns/v0", "ns/v0-a1", 0, Instant.ofEpochSecond(1), gang(1, 4), Map.of("node-2", ResourceList.gpus(4)), true)),
        waiting("ns/v1", 0, 3, gang(1, 8)));
    var lowerPriority = new TrainingQueueSpec(8, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY, null, "lab",
        null, null, null);
    assertThat(QueuePlan.plan("language", lowerPriority, more, languageRuns, room(nodes(3, 8, A100), pods),
        List.of(visionStopping, new QueuePlan.Member("speech", inCohort(8, null, null, null), List.of())))
        .verdicts().get("ns/more")).isInstanceOf(QueuePlan.Wait.class)
        .extracting(v -> ((QueuePlan.Wait) v).reason()).asString().contains("held for ns/v1 (first in queue vision)");
  }

  @Test
  void anotherQueuesFirstStageThatNoSetOfTheNodesHoldsHoldsNoNodeFromABorrower() {
    // As above, with vision's quota 32: its first stage of 4 nodes fits that quota, but never the 3 nodes.
    List<QueuePlan.Waiting> more = List.of(waiting("ns/more", 0, 2, gang(1, 8)));
    List<QueuePlan.Running> languageRuns = List.of(running("ns/l1", 0, 1, "node-0"));
    ClusterRoom room = room(nodes(3, 8, A100), List.of(pod("node-0", 8), pod("node-2", 4)));
    var neverStarts = new QueuePlan.Member("vision", inCohort(32, null, null, null), List.of(),
        waiting("ns/v1", 0, 3, gang(4, 8)));
    var startsOnNode1 = new QueuePlan.Member("vision", inCohort(32, null, null, null), List.of(),
        waiting("ns/v1", 0, 3, gang(1, 8)));

    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), more, languageRuns, room.copy(),
        List.of(neverStarts)).verdicts().get("ns/more")).isEqualTo(new QueuePlan.Admit(List.of("node-1")));
    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), more, languageRuns, room.copy(),
        List.of(startsOnNode1)).verdicts().get("ns/more")).as("positive control: held for a first stage that fits")
        .isInstanceOf(QueuePlan.Wait.class);
  }

  @Test
  void aBorrowerHeldBackIsToldOnlyOfTheFirstStagesThatCouldRunWhereItWould() {
    // A100 nodes: node-0 runs language's 8, node-2 has 4 taken; two H100 nodes are free. vision's
    // first stage needs node-1, as language's would; speech's needs an H100 node.
    List<Node> nodes = new ArrayList<>(nodes(3, 8, A100));
    nodes.addAll(nodes(2, 8, H100, "h100"));
    List<QueuePlan.Waiting> more = List.of(waiting("ns/more", 0, 2, new Gang(1, 8, A100)));
    var vision = new QueuePlan.Member("vision", inCohort(16, null, null, null), List.of(),
        waiting("ns/v1", 0, 3, new Gang(1, 8, A100)));
    var speech = new QueuePlan.Member("speech", inCohort(8, null, null, null), List.of(),
        waiting("ns/s1", 0, 3, new Gang(1, 8, H100)));

    var plan = QueuePlan.plan("language", inCohort(8, null, null, null), more,
        List.of(running("ns/l1", 0, 1, "node-0")), room(nodes, List.of(pod("node-0", 8), pod("node-2", 4))),
        List.of(vision, speech));

    assertThat(plan.verdicts().get("ns/more")).isInstanceOf(QueuePlan.Wait.class)
        .extracting(v -> ((QueuePlan.Wait) v).reason()).asString()
        .contains("the nodes it fits are held for ns/v1 (first in queue vision): a queue's first stage")
        .doesNotContain("ns/s1");
  }

  @Test
  void anotherQueuesFirstStageOverItsProductsQuotaHoldsNothingFromABorrower() {
    // vision runs 8 A100 GPUs on node-2, all its A100 quota; its first stage asks 8 more.
    List<QueuePlan.Waiting> more = List.of(waiting("ns/more", 0, 2, new Gang(1, 8, A100)));
    List<QueuePlan.Running> languageRuns = List.of(running("ns/l1", 0, 1, "node-0"));
    var visionRuns = List.of(new QueuePlan.Running("ns/v0", "ns/v0-a1", 0, Instant.ofEpochSecond(1),
        new Gang(1, 8, A100), Map.of("node-2", ResourceList.gpus(8)), false));
    ClusterRoom room = room(nodes(3, 8, A100), List.of(pod("node-0", 8), pod("node-2", 8)));

    var overItsProduct = new QueuePlan.Member("vision", new TrainingQueueSpec(24, Map.of(A100, 8), null, null, null, "lab",
        null, null, null), visionRuns, waiting("ns/v1", 0, 3, new Gang(1, 8, A100)));
    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), more, languageRuns, room.copy(),
        List.of(overItsProduct)).verdicts().get("ns/more")).isEqualTo(new QueuePlan.Admit(List.of("node-1")));

    var withinItsProduct = new QueuePlan.Member("vision", new TrainingQueueSpec(24, Map.of(A100, 16), null, null, null,
        "lab", null, null, null), visionRuns, waiting("ns/v1", 0, 3, new Gang(1, 8, A100)));
    assertThat(QueuePlan.plan("language", inCohort(8, null, null, null), more, languageRuns, room.copy(),
        List.of(withinItsProduct)).verdicts().get("ns/more")).as("positive control: within it, it goes first")
        .isInstanceOf(QueuePlan.Wait.class);
  }

  @Test
  void aQueueThatStopsBorrowingOnceItsStoppingStagesHaveStoppedLosesNoMoreStages() {
    // language (quota 8) runs 16: b1 on a node vision cannot use, already stopping; b2 on the one it can.
    Node plain = nodes(1, 8, A100, "plain").getFirst();
    Node pooled = nodes(1, 8, A100, "pooled").getFirst();
    pooled.getMetadata().setLabels(Map.of(StageJobManifest.GPU_PRODUCT_LABEL, A100, "pool", "p"));
    Gang onPool = new Gang(1, ResourceList.gpus(8), null, Map.of("pool", "p"), List.of());
    List<Pod> pods = List.of(pod("plain-0", 8), pod("pooled-0", 8));
    TrainingQueueSpec vision = inCohort(8, null, null, TrainingQueueSpec.Reclaim.ANY);

    QueuePlan.Running b2 = new QueuePlan.Running("ns/b2", "ns/b2-a1", 0, Instant.ofEpochSecond(2), gang(1, 8),
        Map.of("pooled-0", ResourceList.gpus(8)), false);
    var stopping = new QueuePlan.Member("language", inCohort(8, null, null, null), List.of(new QueuePlan.Running("ns/b1",
        "ns/b1-a1", 0, Instant.ofEpochSecond(1), gang(1, 8), Map.of("plain-0", ResourceList.gpus(8)), true), b2));
    var plan = QueuePlan.plan("vision", vision, List.of(waiting("ns/back", 0, 9, onPool)), List.of(),
        room(List.of(plain, pooled), pods), List.of(stopping));
    assertThat(plan.verdicts().get("ns/back")).as("language is at its quota once b1 has stopped: b2 is not reclaimed")
        .isInstanceOf(QueuePlan.Wait.class);

    var borrowing = new QueuePlan.Member("language", inCohort(8, null, null, null), List.of(new QueuePlan.Running("ns/b1",
        "ns/b1-a1", 0, Instant.ofEpochSecond(1), gang(1, 8), Map.of("plain-0", ResourceList.gpus(8)), false), b2));
    var reclaim = QueuePlan.plan("vision", vision, List.of(waiting("ns/back", 0, 9, onPool)), List.of(),
        room(List.of(plain, pooled), pods), List.of(borrowing));
    assertThat(((QueuePlan.Preempt) reclaim.verdicts().get("ns/back")).victims()).as("positive control: borrowing")
        .extracting(QueuePlan.Running::key).containsExactly("ns/b2");
  }

  static TrainingQueueSpec withCpuQuota(int gpuQuota, String cohort, String cpu, TrainingQueueSpec.Reclaim reclaim) {
    return new TrainingQueueSpec(gpuQuota, null, Strategy.BEST_EFFORT_FIFO, Preemption.NEVER, null, cohort, null, null,
        reclaim, Map.of("cpu", new ResourceQuota(cpu, null, null)));
  }

  @Test
  void aCpuQuotaHoldsBackAStageItsGpuQuotaAdmitsAndItsCohortLendsIdleCpu() {
    List<QueuePlan.Waiting> two = List.of(waiting("ns/two", 0, 1, cpuGang(2, 4, 32)));

    var alone = QueuePlan.plan("vision", withCpuQuota(16, null, "48", null), two, List.of(), room(nodes(4, 8, A100),
        List.of()));
    assertThat(alone.verdicts().get("ns/two")).isEqualTo(new QueuePlan.Wait(1, "waiting for 8 GPUs (2 pods of 4): 16 free"
        + " in queue vision (its cpu quota has 48 cpu left, the stage requests 64 cpu), 32 free on nodes"));
    var one = QueuePlan.plan("vision", withCpuQuota(16, null, "48", null), List.of(waiting("ns/one", 0, 1,
        cpuGang(1, 4, 32))), List.of(), room(nodes(4, 8, A100), List.of()));
    assertThat(one.verdicts().get("ns/one")).as("positive control: 32 cpu fit").isInstanceOf(QueuePlan.Admit.class);

    var idle = new QueuePlan.Member("language", withCpuQuota(16, "lab", "48", null), List.of());
    var lent = QueuePlan.plan("vision", withCpuQuota(16, "lab", "48", null), two, List.of(), room(nodes(4, 8, A100),
        List.of()), List.of(idle));
    assertThat(lent.verdicts().get("ns/two")).as("48 cpu of its own and 16 lent by language")
        .isInstanceOf(QueuePlan.Admit.class);

    var busy = new QueuePlan.Member("language", withCpuQuota(16, "lab", "48", null), List.of(
        cpuRunning("ns/l1", 0, 1, "node-3", 48)));
    var nothingLent = QueuePlan.plan("vision", withCpuQuota(16, "lab", "48", null), two, List.of(),
        room(nodes(4, 8, A100), List.of()), List.of(busy));
    assertThat(((QueuePlan.Wait) nothingLent.verdicts().get("ns/two")).reason()).as("language uses all its cpu")
        .contains("(its cpu quota has 48 cpu left, the stage requests 64 cpu)");

    var noCpuQuota = new QueuePlan.Member("language", inCohort(16, null, null, null), List.of());
    var notShared = QueuePlan.plan("vision", withCpuQuota(16, "lab", "48", null), two, List.of(),
        room(nodes(4, 8, A100), List.of()), List.of(noCpuQuota));
    assertThat(((QueuePlan.Wait) notShared.verdicts().get("ns/two")).reason()).as("a queue with no cpu quota lends none")
        .contains("(its cpu quota has 48 cpu left, the stage requests 64 cpu)");
  }

  @Test
  void aQueueWithinItsCpuQuotaReclaimsCpuABorrowingQueueUses() {
    // language (16 GPUs, 32 cpu) runs two stages of 32 cpu: 32 of them vision's, lent while vision was idle.
    var language = new QueuePlan.Member("language", withCpuQuota(16, "lab", "32", null), List.of(
        cpuRunning("ns/lang-old", 0, 1, "node-0", 32), cpuRunning("ns/lang-new", 0, 2, "node-1", 32)));
    List<QueuePlan.Waiting> back = List.of(waiting("ns/back", 0, 9, cpuGang(2, 4, 32)));
    ClusterRoom room = room(nodes(4, 8, A100), List.of(pod("node-0", 8), pod("node-1", 8)));

    var reclaiming = QueuePlan.plan("vision", withCpuQuota(16, "lab", "64", TrainingQueueSpec.Reclaim.ANY), back,
        List.of(), room.copy(), List.of(language));
    assertThat(((QueuePlan.Preempt) reclaiming.verdicts().get("ns/back")).victims()).as("its GPUs fit; its cpu is lent")
        .extracting(QueuePlan.Running::key).containsExactly("ns/lang-new");

    var never = QueuePlan.plan("vision", withCpuQuota(16, "lab", "64", null), back, List.of(), room.copy(),
        List.of(language));
    assertThat(((QueuePlan.Wait) never.verdicts().get("ns/back")).reason()).as("positive control: without reclaim it"
        + " waits, for cpu").contains("(its cpu quota has 32 cpu left, the stage requests 64 cpu)");
  }

  // --- snapshots -----------------------------------------------------------------------------

  static Gang gang(int pods, int gpus) {
    return new Gang(pods, gpus, null);
  }

  /** {@code pods} pods of {@code gpus} GPUs and {@code cpu} cpu each. */
  static Gang cpuGang(int pods, int gpus, int cpu) {
    return new Gang(pods, ResourceList.gpus(gpus).plus(ResourceList.of(Map.of("cpu", new Quantity(Integer.toString(cpu))))),
        null, Map.of(), List.of());
  }

  static QueuePlan.Running cpuRunning(String key, int priority, long started, String node, int cpu) {
    return new QueuePlan.Running(key, key + "-a1", priority, Instant.ofEpochSecond(started), cpuGang(1, 8, cpu),
        Map.of(node, cpuGang(1, 8, cpu).perPod()), false);
  }

  static QueuePlan.Waiting waiting(String key, int priority, long created, Gang gang) {
    return new QueuePlan.Waiting(key, priority, Instant.ofEpochSecond(created), gang);
  }

  static QueuePlan.Running running(String key, int priority, long started, String node) {
    return new QueuePlan.Running(key, key + "-a1", priority, Instant.ofEpochSecond(started), gang(1, 8),
        Map.of(node, ResourceList.gpus(8)), false);
  }

  static ClusterRoom room(List<Node> nodes, List<Pod> pods) {
    return ClusterRoom.of(nodes, pods);
  }

  static List<Node> nodes(int count, int gpus, String product) {
    return nodes(count, gpus, product, "node");
  }

  static List<Node> nodes(int count, int gpus, String product, String prefix) {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      nodes.add(new NodeBuilder()
          .withNewMetadata().withName(prefix + "-" + i).withLabels(Map.of(StageJobManifest.GPU_PRODUCT_LABEL, product)).endMetadata()
          .withNewSpec().endSpec()
          .withNewStatus().withAllocatable(FakeCluster.gpuNodeAllocatable(gpus))
          .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
          .build());
    }
    return nodes;
  }

  static Pod pod(String node, int gpus) {
    return new PodBuilder()
        .withNewMetadata().withName("p-" + node + "-" + gpus).withNamespace("other").endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("c").withNewResources()
        .withRequests(Map.of(StageJobManifest.GPU, new Quantity(Integer.toString(gpus)))).endResources().endContainer().endSpec()
        .withNewStatus().withPhase("Running").endStatus()
        .build();
  }
}
