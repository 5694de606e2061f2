package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.api.v1alpha1.TrainingQueueSpec.Preemption;
import dev.kiln.api.v1alpha1.TrainingQueueSpec.Strategy;
import dev.kiln.operator.FakeCluster;
import dev.kiln.operator.TestJobs;
import dev.kiln.operator.TrainingQueues;
import dev.kiln.operator.admission.BuiltinAdmission;
import dev.kiln.operator.admission.Admission;
import dev.kiln.operator.admission.ListingClusterState;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Jobs sharing GPUs through a TrainingQueue, against the in-memory API server: the test plays the
 * scheduler, kubelet and Job controller; Kiln's queue decides who starts. Each reconcile builds a
 * fresh lifecycle and admission, as after an operator restart, unless a test keeps one.
 */
@EnableKubernetesMockClient(crud = true)
class QueueLifecycleTest {

  static final String NS = "research";
  static final String A100 = "NVIDIA-A100-SXM4-40GB";

  KubernetesClient client;
  FakeCluster cluster;
  TestClock clock;

  @BeforeEach
  void setUp() {
    cluster = new FakeCluster(client);
    cluster.registerCrd();
    clock = new TestClock();
  }

  @Test
  void aSecondJobWaitsInLineForTheGpusAndRunsWhenTheFirstFinishes() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob first = create("first", "research", 0, 1);
    clock.advance(java.time.Duration.ofSeconds(5));
    MultimodalPretrainJob second = create("second", "research", 0, 1);

    toTraining(first);
    assertThat(cluster.job(NS, "first-pretrain-a1")).isNotNull();
    toTraining(second);
    assertThat(cluster.job(NS, "second-pretrain-a1")).as("no room: 8 GPUs held by first").isNull();
    MultimodalPretrainJobStatus waiting = get(second).getStatus();
    assertThat(waiting.getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(waiting.getQueue().position()).isEqualTo(1);
    assertThat(waiting.getQueue().reason())
        .isEqualTo("waiting for 8 x " + A100 + " (1 pods of 8): no quota limit in queue research, 0 free on nodes");
    assertThat(queueStatus("research").getPending()).containsExactly("research/second");
    assertThat(queueStatus("research").getAdmitted()).containsExactly("research/first");
    assertThat(queueStatus("research").getGpusInUse()).isEqualTo(8);

    // The first job's next stage keeps its place ahead of the second job.
    cluster.startPod(NS, "first-pretrain-a1", 0, "gpu-0");
    cluster.stopPod(NS, "first-pretrain-a1-0", 0);
    cluster.complete(NS, "first-pretrain-a1", "{\"step\":10}");
    reconcile(second);
    reconcile(first);
    assertThat(cluster.job(NS, "first-sft-a1")).isNotNull();
    reconcile(second);
    assertThat(cluster.job(NS, "second-pretrain-a1")).isNull();

    cluster.complete(NS, "first-sft-a1", "{\"step\":10}");
    reconcile(first);
    assertThat(get(first).getStatus().getPhase()).isEqualTo(JobPhase.Succeeded);
    assertThat(queueStatus("research").getGpusInUse()).as("the queue's status follows a job that leaves").isZero();
    assertThat(queueStatus("research").getAdmitted()).isEmpty();
    reconcile(second);
    assertThat(cluster.job(NS, "second-pretrain-a1")).isNotNull();
    assertThat(get(second).getStatus().getQueue().position()).isNull();
    assertThat(get(second).getStatus().getPhase()).isEqualTo(JobPhase.Training);
    assertThat(eventReasons(second)).contains("Queued", "Admitted");
  }

  @Test
  void aGangWhoseRanksAllSucceededFreesItsGpusAndQuotaBeforeItsJobIsMarkedComplete() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(8, null, null, null));
    MultimodalPretrainJob first = create("first", "research", 0, 1);
    clock.advance(java.time.Duration.ofSeconds(5));
    MultimodalPretrainJob second = create("second", "research", 0, 1);
    toTraining(first);
    cluster.startPod(NS, "first-pretrain-a1", 0, "gpu-0");
    toTraining(second);

    // Pre-training's rank ends before its Job is marked complete: first's next stage keeps its place ahead.
    cluster.stopPod(NS, "first-pretrain-a1-0", 0);
    reconcile(second);
    assertThat(cluster.job(NS, "second-pretrain-a1")).as("first's next stage is ahead of it").isNull();
    cluster.complete(NS, "first-pretrain-a1", "{\"step\":10}");
    reconcile(first);
    cluster.startPod(NS, "first-sft-a1", 0, "gpu-0");
    reconcile(second);
    assertThat(cluster.job(NS, "second-pretrain-a1")).as("first's last stage runs").isNull();

    // The Job controller batches pod updates (a second or more): the last rank has ended, its Job not yet marked.
    cluster.stopPod(NS, "first-sft-a1-0", 0);
    assertThat(cluster.job(NS, "first-sft-a1").getStatus()).as("not marked complete").isNull();
    reconcile(second);

    assertThat(cluster.job(NS, "second-pretrain-a1")).as(() -> "the node's GPUs and the queue's 8 are free, yet: "
        + get(second).getStatus().getQueue().reason()).isNotNull();
  }

  @Test
  void aGangsPodsWaitGatedUntilEachIsPinnedToTheNodeItsRankWasPlannedOn() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    cluster.addGpuNode("gpu-2", 8, A100);
    foreignPod("inference", "gpu-1", 4);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob wide = create("wide", "research", 0, 2);

    toTraining(wide);
    var attempt = cluster.job(NS, "wide-pretrain-a1");
    assertThat(StageJobManifest.placement(attempt)).as("the two whole nodes, rank by rank").containsExactly("gpu-0", "gpu-2");
    cluster.createPod(NS, "wide-pretrain-a1", 0);
    cluster.createPod(NS, "wide-pretrain-a1", 1);
    assertThat(pod("wide-pretrain-a1-1").getSpec().getSchedulingGates()).as("created gated")
        .extracting(io.fabric8.kubernetes.api.model.PodSchedulingGate::getName).containsExactly(StageJobManifest.SCHEDULING_GATE);

    reconcile(wide);

    for (int rank = 0; rank < 2; rank++) {
      var pod = pod("wide-pretrain-a1-" + rank);
      assertThat(pod.getSpec().getSchedulingGates()).as("rank %d released", rank).isEmpty();
      assertThat(pod.getSpec().getNodeSelector()).as("rank %d pinned", rank)
          .containsEntry(StageJobManifest.HOSTNAME_LABEL, rank == 0 ? "gpu-0" : "gpu-2");
    }
  }

  @Test
  void aGangThatFitsTheNodesGpusButNotTheirCpuWaitsSayingWhich() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob hungry = createWithCpu("hungry", "200");
    toTraining(hungry);

    assertThat(cluster.job(NS, "hungry-pretrain-a1")).as("8 GPUs free, but 96 cpu of the 200 a pod asks").isNull();
    assertThat(get(hungry).getStatus().getQueue().reason()).isEqualTo("waiting for 8 x " + A100 + " (1 pods of 8):"
        + " no quota limit in queue research; it cannot start on the cluster's nodes as they are, even with nothing else"
        + " running: the one GPU node it may use cannot take a pod of 8 GPUs: 1 node with 8 GPUs lacks cpu (a pod"
        + " requests 200 cpu)");

    MultimodalPretrainJob modest = createWithCpu("modest", "90");
    toTraining(modest);
    assertThat(cluster.job(NS, "modest-pretrain-a1")).as("positive control: 90 cpu fit").isNotNull();
  }

  @Test
  void aQueueRefusesJobsOfNamespacesItsSelectorDoesNotAdmitAndTheyHoldNobodyBack() {
    cluster.addGpuNode("gpu-0", 8, A100);
    client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(NS)
        .withLabels(java.util.Map.of("team", "speech")).endMetadata().build()).create();
    queue("vision", new TrainingQueueSpec(null, null, Strategy.STRICT_FIFO, null,
        new io.fabric8.kubernetes.api.model.LabelSelectorBuilder().withMatchLabels(java.util.Map.of("team", "vision")).build()));
    MultimodalPretrainJob outsider = create("outsider", "vision", 0, 1);

    toTraining(outsider);
    var status = get(outsider).getStatus();
    assertThat(cluster.job(NS, "outsider-pretrain-a1")).isNull();
    assertThat(status.getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(status.getReason()).isEqualTo("NamespaceNotAdmitted");
    assertThat(status.getMessage()).isEqualTo("TrainingQueue vision does not admit namespace research (its"
        + " namespaceSelector: team=vision); use a queue that does, or ask its administrator");
    assertThat(status.getConditions()).anySatisfy(c -> {
      assertThat(c.getType()).isEqualTo("Stalled");
      assertThat(c.getStatus()).isEqualTo("True");
      assertThat(c.getReason()).isEqualTo("NamespaceNotAdmitted");
    });
    assertThat(eventReasons(outsider)).containsOnlyOnce("NamespaceNotAdmitted");
    reconcile(outsider);
    assertThat(eventReasons(outsider)).as("told once").containsOnlyOnce("NamespaceNotAdmitted");
    var vision = queueStatus("vision");
    assertThat(vision == null ? List.<String>of() : vision.getPending()).as("not in line: the queue is not blocked by it")
        .isEmpty();

    client.namespaces().withName(NS).edit(n -> {
      n.getMetadata().getLabels().put("team", "vision");
      return n;
    });
    reconcile(outsider);
    assertThat(cluster.job(NS, "outsider-pretrain-a1")).as("admitted once the namespace is the team's").isNotNull();
    assertThat(get(outsider).getStatus().getConditions()).anySatisfy(c -> {
      assertThat(c.getType()).isEqualTo("Stalled");
      assertThat(c.getStatus()).isEqualTo("False");
    });
  }

  @Test
  void theFrontOfAQueueIsWokenOnlyWhereItsPlaceChangedAndOnlyItsEntryIsAnEvent() {
    List<MultimodalPretrainJob> jobs = oneTrainingAndReady("second", "third");
    MultimodalPretrainJob second = jobs.get(1);
    MultimodalPretrainJob third = jobs.get(2);
    ScriptedState state = new ScriptedState(new ListingClusterState(client));  // versioned: plans are kept
    BuiltinAdmission admission = new BuiltinAdmission(state,
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    reconcile(second, admission);
    reconcile(third, admission);
    assertThat(get(third).getStatus().getQueue().position()).isEqualTo(2);
    assertThat(admission.frontOfQueues(50)).as("every place shown is the plan's").isEmpty();

    MultimodalPretrainJob urgent = create("urgent", "research", 10, 1);
    prepareData(urgent);
    state.version++;  // a job came
    reconcile(urgent, admission);

    assertThat(get(urgent).getStatus().getQueue().position()).isEqualTo(1);
    assertThat(admission.frontOfQueues(50)).as("moved back one place each; urgent's own place is shown")
        .containsExactlyInAnyOrder(NS + "/second", NS + "/third");
    assertThat(admission.frontOfQueues(2)).as("only the first places are refreshed").containsExactly(NS + "/second");
    reconcile(second, admission);
    assertThat(get(second).getStatus().getQueue().position()).isEqualTo(2);
    assertThat(eventReasons(second)).as("entering the queue is said; a new place is status only")
        .containsOnlyOnce("Queued");
  }

  @Test
  void aDecisionForAnotherJobThatFindsTheHeadAdmissibleWakesTheHead() {
    List<MultimodalPretrainJob> jobs = oneTrainingAndReady("head", "next");
    MultimodalPretrainJob first = jobs.get(0);
    MultimodalPretrainJob head = jobs.get(1);
    MultimodalPretrainJob next = jobs.get(2);
    List<String> woken = new java.util.ArrayList<>();
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), woken::add, clock);
    reconcile(head, admission);
    reconcile(next, admission);
    assertThat(get(next).getStatus().getQueue().position()).isEqualTo(2);
    assertThat(woken).isEmpty();

    // The first job is deleted and its GPUs come free; the job behind the head happens to be
    // reconciled first: the head must be woken to take its place, or it waits for the next change.
    cluster.startPod(NS, "first-pretrain-a1", 0, "gpu-0");
    cluster.stopPod(NS, "first-pretrain-a1-0", 0);
    client.batch().v1().jobs().inNamespace(NS).withName("first-pretrain-a1").delete();
    client.resource(get(first)).delete();
    reconcile(next, admission);

    assertThat(woken).containsExactly("research/head");
    assertThat(admission.waitingJobs()).contains("research/head", "research/next");
    reconcile(head, admission);
    assertThat(cluster.job(NS, "head-pretrain-a1")).isNotNull();
  }

  @Test
  void aPlanForOthersThatFindsAStageMustPreemptWakesIt() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.NEVER));
    MultimodalPretrainJob low = create("low", "research", 0, 1);
    MultimodalPretrainJob high = create("high", "research", 10, 1);
    toTraining(low);
    cluster.startPod(NS, "low-pretrain-a1", 0, "gpu-0");
    List<String> woken = new java.util.ArrayList<>();
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), woken::add, clock);
    prepareData(high);
    reconcile(high, admission);
    assertThat(get(high).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    admission.replan();
    assertThat(woken).as("positive control: a queue that never preempts has nothing to wake it for").isEmpty();

    client.resources(TrainingQueue.class).withName("research").edit(q -> {
      q.setSpec(new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY));
      return q;
    });
    admission.replan();

    assertThat(woken).as("its own reconcile marks the victim").containsExactly(NS + "/high");
    assertThat(cluster.job(NS, "low-pretrain-a1").getMetadata().getAnnotations()).as("not marked by the plan itself")
        .doesNotContainKey(BuiltinAdmission.PREEMPTED_BY);
  }

  @Test
  void aJobStaysAmongTheWaitingWhileTheCachesHaveNotYetHeardItIsQueued() {
    List<MultimodalPretrainJob> jobs = oneTrainingAndReady("second");
    MultimodalPretrainJob first = jobs.get(0);
    MultimodalPretrainJob second = jobs.get(1);
    ScriptedState state = new ScriptedState(new ListingClusterState(client));
    List<String> woken = new java.util.ArrayList<>();
    BuiltinAdmission admission = new BuiltinAdmission(state,
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), woken::add, clock);

    state.jobs = state.live.jobs();  // the caches as they were before second was queued
    reconcile(second, admission);
    assertThat(get(second).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    // Something changes on the cluster (first's pod starts) before the caches hear of second's
    // Queued status: planning the queue then must not drop second from the jobs to wake.
    cluster.startPod(NS, "first-pretrain-a1", 0, "gpu-0");
    state.version++;
    admission.replan();
    assertThat(admission.waitingJobs()).contains("research/second");

    state.jobs = null;
    cluster.stopPod(NS, "first-pretrain-a1-0", 0);
    client.batch().v1().jobs().inNamespace(NS).withName("first-pretrain-a1").delete();
    client.resource(get(first)).delete();
    state.version++;
    admission.replan();
    assertThat(woken).as("room came: the waiting job is woken, not left for its next poll").contains("research/second");
  }

  @Test
  void aWaitingJobAskingAgainReusesItsPlaceUntilSomethingThePlanReadChanges() {
    List<MultimodalPretrainJob> jobs = oneTrainingAndReady("second");
    MultimodalPretrainJob first = jobs.get(0);
    MultimodalPretrainJob second = jobs.get(1);
    ScriptedState state = new ScriptedState(new ListingClusterState(client));
    BuiltinAdmission admission = new BuiltinAdmission(state, (queue, status) -> { }, key -> { }, clock);

    var waiting = admission.admit(get(second), 0);
    int plans = state.plans;
    var again = admission.admit(get(second), 0);
    assertThat(again).isEqualTo(waiting);
    assertThat(again.admitted()).isFalse();
    assertThat(state.plans).as("nothing changed: the last plan's verdict stands").isEqualTo(plans);

    state.version++;  // a pod ended, a node came, a job changed
    admission.admit(get(second), 0);
    assertThat(state.plans).as("a plan this recent still stands for the same ask: a change that frees room"
        + " plans the queues at once, on its own").isEqualTo(plans);

    priorityClass(50, "research-high");
    MultimodalPretrainJob urgent = client.resource(get(second)).patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
        io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE), "{\"spec\":{\"scheduling\":{\"priorityClassName\":"
        + "\"research-high\"}}}");
    admission.admit(urgent, 0);
    assertThat(state.plans).as("its own ask changed (a higher priority): planned again").isEqualTo(plans + 1);

    clock.advance(BuiltinAdmission.RECENT_PLAN);
    state.version++;
    admission.admit(get(second), 0);
    assertThat(state.plans).as("the plan is no longer recent and the cluster changed: planned again").isEqualTo(plans + 2);
  }

  @Test
  void plansAtOneStateOfTheCachesReadTheClusterOnceAndAPodBoundSinceIsSeen() {
    cluster.addGpuNode("gpu-0", 8, A100);
    foreignPod("holder", 8);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    queue("vision", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob a = create("a", "research", 0, 1);
    MultimodalPretrainJob c = create("c", "vision", 0, 1);
    prepareData(a);
    prepareData(c);
    ScriptedState state = new ScriptedState(new ListingClusterState(client));
    state.changes = 0L;
    List<String> woken = new java.util.ArrayList<>();
    BuiltinAdmission admission = new BuiltinAdmission(state, (queue, status) -> { }, woken::add, clock);

    reconcile(a, admission);
    int plans = state.plans;
    reconcile(c, admission);
    assertThat(get(c).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(state.plans).as("another queue's plan at the same state reads nothing again").isEqualTo(plans);

    client.pods().inNamespace("serving").withName("holder").delete();
    state.version++;
    state.changes++;
    admission.replan();
    assertThat(woken).as("room came: both woken").containsExactlyInAnyOrder(NS + "/a", NS + "/c");
    assertThat(state.plans).as("both queues planned from one read").isEqualTo(plans + 1);

    // A pod bound since moves the caches' changes, not their version (it frees nothing).
    foreignPod("late", 8);
    state.changes++;
    var decision = admission.admit(get(a), 0);
    assertThat(decision.admitted()).as("the node the late pod took: %s", decision).isFalse();
    assertThat(decision.message()).contains("0 free on nodes");
    assertThat(state.plans).isEqualTo(plans + 2);
  }

  /** A pod of another workload bound to gpu-0, requesting {@code gpus}. */
  private void foreignPod(String name, int gpus) {
    foreignPod(name, "gpu-0", gpus);
  }

  /** A pod of another workload (namespace serving) bound to {@code node}, requesting {@code gpus}. */
  private io.fabric8.kubernetes.api.model.Pod foreignPod(String name, String node, int gpus) {
    return client.resource(new io.fabric8.kubernetes.api.model.PodBuilder()
        .withNewMetadata().withName(name).withNamespace("serving").endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("server").withNewResources()
          .addToRequests("nvidia.com/gpu", new io.fabric8.kubernetes.api.model.Quantity(String.valueOf(gpus)))
          .endResources().endContainer()
        .endSpec().withNewStatus().withPhase("Running").endStatus().build()).create();
  }

  @Test
  void aWaitStandsWhileAnotherStagesReservationAwaitsItsJobAndIsPlannedAgainOnceThatReservationExpires() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob first = create("first", "research", 0, 1);
    MultimodalPretrainJob second = create("second", "research", 0, 1);
    prepareData(first);
    prepareData(second);
    ScriptedState state = new ScriptedState(new ListingClusterState(client));
    BuiltinAdmission admission = new BuiltinAdmission(state, (queue, status) -> { }, key -> { }, clock);

    assertThat(admission.admit(get(first), 0).admitted()).isTrue();  // its Job never comes: the reservation holds gpu-0
    var waiting = admission.admit(get(second), 0);
    int plans = state.plans;
    assertThat(waiting.admitted()).isFalse();
    assertThat(admission.admit(get(second), 0)).isEqualTo(waiting);
    assertThat(state.plans).as("nothing changed: the wait stands, with a reservation pending").isEqualTo(plans);

    clock.advance(java.time.Duration.ofMinutes(2).plusSeconds(1));  // past the reservation's two minutes
    var afterExpiry = admission.admit(get(second), 0);

    assertThat(state.plans).as("the reservation expired with no event: planned again").isEqualTo(plans + 1);
    assertThat(afterExpiry.admitted()).as("%s", afterExpiry).isTrue();
  }

  @Test
  void aStageAskingAgainAfterItsJobCouldNotBeCreatedIsNotHeldBackByItsOwnReservation() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob only = create("only", "research", 0, 1);
    prepareData(only);
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { },
        key -> { }, clock);

    assertThat(admission.admit(get(only), 0).admitted()).isTrue();
    // Creating its Job failed (the API server was busy); the reconcile is retried and asks again.
    var again = admission.admit(get(only), 0);

    assertThat(again.admitted()).as("%s", again).isTrue();
  }

  /**
   * One 8-GPU node and queue research, where job first trains on the node and the {@code ready}
   * jobs, created after it in that order, have their data ready and have not yet asked for their
   * stage: first, then the ready ones.
   */
  private List<MultimodalPretrainJob> oneTrainingAndReady(String... ready) {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    List<MultimodalPretrainJob> jobs = new java.util.ArrayList<>(List.of(create("first", "research", 0, 1)));
    for (String name : ready) {
      jobs.add(create(name, "research", 0, 1));
    }
    toTraining(jobs.getFirst());
    jobs.subList(1, jobs.size()).forEach(this::prepareData);
    return jobs;
  }

  /**
   * The cluster as listed, with a version the test moves (counting the plans made from it), and
   * jobs as an informer cache may still hold them when the test sets {@code jobs}.
   */
  private static final class ScriptedState implements dev.kiln.operator.admission.ClusterState {
    final ListingClusterState live;
    long version;
    Long changes;  // null: cannot tell, as ListingClusterState
    int plans;
    List<MultimodalPretrainJob> jobs;

    ScriptedState(ListingClusterState live) {
      this.live = live;
    }

    public List<io.fabric8.kubernetes.api.model.Node> nodes() {
      return live.nodes();
    }

    public List<io.fabric8.kubernetes.api.model.Pod> pods() {
      return live.pods();
    }

    public List<io.fabric8.kubernetes.api.model.Pod> succeededStagePods() {
      return live.succeededStagePods();
    }

    public List<io.fabric8.kubernetes.api.model.batch.v1.Job> trainerJobs() {
      plans++;  // read once per plan
      return live.trainerJobs();
    }

    public List<MultimodalPretrainJob> jobs() {
      return jobs != null ? jobs : live.jobs();
    }

    public java.util.Optional<TrainingQueue> queue(String name) {
      return live.queue(name);
    }

    public List<TrainingQueue> queues() {
      return live.queues();
    }

    public java.util.Map<String, String> namespaceLabels(String namespace) {
      return live.namespaceLabels(namespace);
    }

    public List<io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass> priorityClasses() {
      return live.priorityClasses();
    }

    @Override
    public List<io.fabric8.kubernetes.api.model.node.v1.RuntimeClass> runtimeClasses() {
      return live.runtimeClasses();
    }

    public java.util.OptionalLong version() {
      return java.util.OptionalLong.of(version);
    }

    @Override
    public java.util.OptionalLong changes() {
      return changes == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(changes);
    }
  }

  @Test
  void aQueueThatDoesNotExistLeavesTheJobQueuedSayingSo() {
    cluster.addGpuNode("gpu-0", 8, A100);
    MultimodalPretrainJob job = create("lost", "nowhere", 0, 1);

    toTraining(job);

    assertThat(cluster.job(NS, "lost-pretrain-a1")).isNull();
    assertThat(get(job).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(get(job).getStatus().getMessage()).startsWith("TrainingQueue nowhere does not exist");
    assertThat(get(job).getStatus().getDataPrep().getPhase()).as("data prep does not wait for GPUs").isEqualTo("Succeeded");
    assertThat(reconcile(job).requeueAfter()).as("woken by changes; polled only as a safety net")
        .contains(JobLifecycle.QUEUED_POLL);

    queue("nowhere", new TrainingQueueSpec(null, null, null, null));
    reconcile(job);
    assertThat(cluster.job(NS, "lost-pretrain-a1")).isNotNull();
  }

  @Test
  void aJobNamingAPriorityClassThatDoesNotExistWaitsSayingSoUntilItIsCreated() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob urgent = create("unknown", "research", "research-urgent", 1, "Builtin", "cpu: \"2\"");
    MultimodalPretrainJob known = create("known", "research", 5, 1);

    toTraining(urgent);
    toTraining(known);

    assertThat(cluster.job(NS, "unknown-pretrain-a1")).isNull();
    assertThat(get(urgent).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(get(urgent).getStatus().getMessage()).startsWith("PriorityClass research-urgent (spec.scheduling"
        + ".priorityClassName) does not exist");
    assertThat(get(urgent).getStatus().getReason()).isEqualTo("PriorityClassNotFound");
    reconcile(urgent);
    assertThat(eventReasons(urgent)).as("said once").containsOnlyOnce("PriorityClassNotFound");
    assertThat(cluster.job(NS, "known-pretrain-a1")).as("positive control: a class that exists").isNotNull();
    assertThat(cluster.job(NS, "known-pretrain-a1").getSpec().getTemplate().getSpec().getPriorityClassName())
        .as("the pods carry the job's class").isEqualTo("priority-5");

    priorityClass(100, "research-urgent");
    reconcile(urgent);
    assertThat(cluster.job(NS, "unknown-pretrain-a1")).isNotNull();
  }

  @Test
  void aJobWhosePodsWouldBeRefusedHoldsNoPlaceAndIsNotWokenToTakeOne() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob missing = create("missing", "research", null, 1, "Builtin", "cpu: \"2\"");
    client.resource(missing).patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
        io.fabric8.kubernetes.client.dsl.base.PatchType.JSON),
        "[{\"op\":\"add\",\"path\":\"/spec/stages/0/pod\",\"value\":{\"runtimeClassName\":\"kata\"}}]");
    toTraining(missing);
    assertThat(get(missing).getStatus().getReason()).isEqualTo("RuntimeClassRefused");
    MultimodalPretrainJob beside = create("beside", "research", null, 1, "Builtin", "cpu: \"2\"");
    prepareData(beside);
    List<String> woken = new java.util.ArrayList<>();
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { },
        woken::add, clock);

    assertThat(admission.admit(get(beside), 0).admitted()).as("nothing ahead of it: the refused job holds no place")
        .isTrue();
    assertThat(woken).as("nor is it woken to take one (its reconcile would be refused, and plan the queue again)")
        .isEmpty();
  }

  @Test
  void aStagesRuntimeClassOverheadCountsInItsPlanAndAMissingClassIsSaidBeforeItsPodsAreRefused() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    // 96 cpu on the node: 90 requested fits, 90 plus the sandbox's 8 does not.
    MultimodalPretrainJob missing = create("missing", "research", null, 1, "Builtin", "cpu: \"90\"");
    missing = client.resource(missing).patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
        io.fabric8.kubernetes.client.dsl.base.PatchType.JSON),
        "[{\"op\":\"add\",\"path\":\"/spec/stages/0/pod\",\"value\":{\"runtimeClassName\":\"kata\"}}]");
    toTraining(missing);
    assertThat(get(missing).getStatus().getReason()).isEqualTo("RuntimeClassRefused");
    assertThat(get(missing).getStatus().getMessage()).startsWith("stage pretrain's pods would be refused: pod rejected:"
        + " RuntimeClass \"kata\" not found");
    assertThat(get(missing).getStatus().getConditions()).anySatisfy(c -> {
      assertThat(c.getType()).isEqualTo("Stalled");
      assertThat(c.getStatus()).isEqualTo("True");
    });

    client.resource(new io.fabric8.kubernetes.api.model.node.v1.RuntimeClassBuilder().withNewMetadata().withName("kata")
        .endMetadata().withHandler("kata").withNewOverhead()
        .addToPodFixed("cpu", new io.fabric8.kubernetes.api.model.Quantity("8")).endOverhead().build()).create();
    reconcile(missing);
    assertThat(cluster.job(NS, "missing-pretrain-a1")).as("90 cpu and 8 of overhead: more than the node's 96").isNull();
    assertThat(get(missing).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(get(missing).getStatus().getQueue().reason()).contains("cpu");

    MultimodalPretrainJob plain = create("plain", "research", null, 1, "Builtin", "cpu: \"90\"");
    toTraining(plain);
    assertThat(cluster.job(NS, "plain-pretrain-a1")).as("positive control: the same stage with no RuntimeClass fits")
        .isNotNull();
  }

  @Test
  void aQueueWithACpuQuotaShowsTheCpuItsStagesHoldAndWhatOfItIsBorrowed() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("vision", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, null,
        Map.of("cpu", new dev.kiln.api.v1alpha1.ResourceQuota("16", null, null))));
    queue("language", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, null,
        Map.of("cpu", new dev.kiln.api.v1alpha1.ResourceQuota("16", null, null))));
    MultimodalPretrainJob job = create("cpu-heavy", "language", 0, 1, "Builtin", "cpu: \"20\"");
    toTraining(job);
    assertThat(cluster.job(NS, "cpu-heavy-pretrain-a1")).as("20 cpu: its own 16 and 4 of vision's idle 16").isNotNull();

    assertThat(queueStatus("language").getResourcesInUse()).containsExactly(Map.entry("cpu", "20"));
    assertThat(queueStatus("language").getResourcesBorrowed()).containsExactly(Map.entry("cpu", "4"));
    assertThat(queueStatus("language").getGpusBorrowed()).as("its 8 GPUs are its own").isZero();
  }

  @Test
  void aQueueBorrowsItsCohortsIdleGpusAndTheLenderReclaimsThemByPreemption() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("vision", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    queue("language", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, null));
    MultimodalPretrainJob borrower = create("borrower", "language", 0, 2);
    toTraining(borrower);
    assertThat(cluster.job(NS, "borrower-pretrain-a1")).as("16 GPUs: its own 8 and vision's idle 8").isNotNull();
    cluster.startPod(NS, "borrower-pretrain-a1", 0, "gpu-0");
    cluster.startPod(NS, "borrower-pretrain-a1", 1, "gpu-1");
    reconcile(borrower);
    assertThat(client.resources(TrainingQueue.class).withName("language").get().getStatus().getGpusBorrowed())
        .isEqualTo(8);

    MultimodalPretrainJob owner = create("owner", "vision", 0, 1);
    toTraining(owner);
    assertThat(cluster.job(NS, "owner-pretrain-a1")).isNull();
    assertThat(get(owner).getStatus().getQueue().reason())
        .endsWith("preempting research/borrower of queue language (on GPUs borrowed in cohort lab)");
    assertThat(cluster.job(NS, "borrower-pretrain-a1").getMetadata().getAnnotations())
        .containsEntry(BuiltinAdmission.PREEMPTED_BY, "research/owner");

    reconcile(borrower);
    assertThat(cluster.job(NS, "borrower-pretrain-a1")).isNull();
    assertThat(get(borrower).getStatus().getStages().getFirst().getLastFailure().getMessage())
        .isEqualTo("preempted by research/owner, to make room for it");
    cluster.stopPod(NS, "borrower-pretrain-a1-0", 143);
    cluster.stopPod(NS, "borrower-pretrain-a1-1", 143);
    reconcile(owner);
    assertThat(cluster.job(NS, "owner-pretrain-a1")).isNotNull();
    reconcile(borrower);
    assertThat(get(borrower).getStatus().getQueue().reason()).as("what is left to borrow is 8")
        .contains("8 free in queue language and its cohort lab");
  }

  @Test
  void aStageThatWouldBorrowLeavesTheNodeAnotherQueuesFirstStageWaitsForWithinItsQuota() {
    BuiltinAdmission admission = borrowerAndOwnerQueuedForGpu1();

    reconcile(get("borrower"), admission);  // the first to ask once gpu-1 is free

    assertThat(cluster.job(NS, "borrower-pretrain-a1")).as("the cohort's quota lets it borrow 8, the node is owner's")
        .isNull();
    assertThat(get("borrower").getStatus().getQueue().reason())
        .contains("8 free on nodes; the nodes it fits are held for research/owner (first in queue vision)");
    reconcile(get("owner"), admission);
    assertThat(cluster.job(NS, "owner-pretrain-a1").getMetadata().getAnnotations())
        .as("admitted onto gpu-1, with no one to preempt there").containsEntry("kiln.dev/placement", "gpu-1");
    assertThat(eventReasons(get("owner"))).doesNotContain("Preempting");
  }

  @Test
  void aBorrowerIsNotHeldBackForAFirstStageWhoseJobIsGone() {
    BuiltinAdmission admission = borrowerAndOwnerQueuedForGpu1();
    client.resources(MultimodalPretrainJob.class).inNamespace(NS).withName("owner").delete();

    reconcile(get("borrower"), admission);

    assertThat(cluster.job(NS, "borrower-pretrain-a1").getMetadata().getAnnotations())
        .as("vision's last plan named owner its first stage; owner is gone").containsEntry("kiln.dev/placement", "gpu-1");
  }

  @Test
  void aPinnedPodWhoseJobIsGoneStillHoldsItsNodeUntilItIsDeleted() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob first = create("first", "research", 0, 1);
    toTraining(first);
    // Its pod pinned to gpu-0 and released, then its Job deleted: the scheduler may still bind the pod there.
    var orphan = cluster.createPod(NS, "first-pretrain-a1", 0);
    client.pods().inNamespace(NS).withName(orphan.getMetadata().getName()).edit(p -> {
      p.getSpec().setSchedulingGates(List.of());
      p.getSpec().setNodeSelector(Map.of("kubernetes.io/hostname", "gpu-0"));
      return p;
    });
    client.batch().v1().jobs().inNamespace(NS).withName("first-pretrain-a1").withPropagationPolicy(
        io.fabric8.kubernetes.api.model.DeletionPropagation.ORPHAN).delete();
    client.resources(MultimodalPretrainJob.class).inNamespace(NS).withName("first").delete();  // gone, its pod not yet

    MultimodalPretrainJob next = create("next", "research", 0, 1);
    toTraining(next);
    assertThat(cluster.job(NS, "next-pretrain-a1").getMetadata().getAnnotations())
        .as("planned on the node the orphan does not hold").containsEntry("kiln.dev/placement", "gpu-1");
  }

  @Test
  void aQueuesQuotaHoldsBackStagesTheNodesCouldRun() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("small", new TrainingQueueSpec(8, null, null, null));
    MultimodalPretrainJob first = create("first", "small", 0, 1);
    MultimodalPretrainJob second = create("second", "small", 0, 1);

    toTraining(first);
    toTraining(second);

    assertThat(cluster.job(NS, "second-pretrain-a1")).isNull();
    assertThat(get(second).getStatus().getQueue().reason()).contains("0 free in queue small, 8 free on nodes");
  }

  @Test
  void aGangStartsWholeOrNotAtAll() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob small = create("small", "research", 0, 1);
    MultimodalPretrainJob wide = create("wide", "research", 0, 2);

    toTraining(small);
    cluster.startPod(NS, "small-pretrain-a1", 0, "gpu-0");
    toTraining(wide);

    assertThat(cluster.job(NS, "wide-pretrain-a1")).as("one node free, two needed").isNull();
    assertThat(get(wide).getStatus().getQueue().reason()).startsWith("waiting for 16 x " + A100 + " (2 pods of 8)");
  }

  @Test
  void aStageTheNodesCanNeverHoldSaysSoAndHoldsNoNodeBackFromTheStagesBehindIt() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, null));
    // "huge" sorts before "later": the API server stamps creation to the second, and a tie goes by name.
    MultimodalPretrainJob huge = create("huge", "research", 0, 2);
    MultimodalPretrainJob small = create("small", "research", 0, 1);
    toTraining(huge);
    toTraining(small);

    assertThat(get(huge).getStatus().getQueue().reason()).isEqualTo("waiting for 16 x " + A100 + " (2 pods of 8):"
        + " no quota limit in queue research; it cannot start on the cluster's nodes as they are, even with nothing else"
        + " running: the one GPU node it may use takes one pod; it has 2 pods");
    assertThat(cluster.job(NS, "small-pretrain-a1")).as("no node is held back for a stage that cannot start here")
        .isNotNull();

    cluster.startPod(NS, "small-pretrain-a1", 0, "gpu-0");
    cluster.addGpuNode("gpu-1", 8, A100);
    MultimodalPretrainJob later = create("later", "research", 0, 1);
    toTraining(later);
    assertThat(cluster.job(NS, "later-pretrain-a1")).as("positive control: with a second node it fits once small"
        + " ends, so it is served first and holds gpu-1 back").isNull();
    assertThat(get(later).getStatus().getQueue().reason()).endsWith("; research/huge goes first");
  }

  @Test
  void aVictimWhoseOwnReconcileNeverStopsItIsStoppedByThePreemptorAfterTheGrace() {
    lowTrainingOnTheOnlyNode();
    MultimodalPretrainJob high = get("high");
    toTraining(high);
    assertThat(cluster.job(NS, "low-pretrain-a1").getMetadata().getAnnotations())
        .containsEntry(BuiltinAdmission.PREEMPTED_BY, "research/high").containsKey(BuiltinAdmission.PREEMPTED_AT);

    // The low job is never reconciled again (its reconcile stops early, or no operator watches it).
    clock.advance(BuiltinAdmission.PREEMPTION_GRACE.minusSeconds(1));
    reconcile(high);
    assertThat(cluster.job(NS, "low-pretrain-a1")).as("within the grace its own job has to stop it").isNotNull();

    clock.advance(java.time.Duration.ofSeconds(1));
    reconcile(high);
    assertThat(cluster.job(NS, "low-pretrain-a1")).as("stopped by the preemptor").isNull();
    assertThat(eventMessages(high)).anyMatch(m -> m.startsWith("stopped low-pretrain-a1 of research/low itself"));

    cluster.stopPod(NS, "low-pretrain-a1-0", 143);
    reconcile(high);
    assertThat(cluster.job(NS, "high-pretrain-a1")).isNotNull();
  }

  @Test
  void roomFreedForAPreemptorIsKeptForItNotTakenByAStageOfAnotherQueue() {
    lowTrainingOnTheOnlyNode();
    BuiltinAdmission admission = highPreemptsLowBesideAnotherQueue();
    prepareData(get("other"));
    reconcile(get("other"), admission);
    assertThat(cluster.job(NS, "other-pretrain-a1")).as("the node is full").isNull();

    theNodeLowGivesBackGoesToHighNotToOther(admission);
  }

  @Test
  void aPreemptorKeepsTheRoomOfAVictimWhosePodsWerePinnedButNotYetBoundWhenItsJobWent() {
    for (int i = 0; i < 3; i++) {
      cluster.addGpuNode("gpu-" + i, 8, A100);  // 96 cpu each: two pods of 50 never share one
    }
    queue("a", new TrainingQueueSpec(4, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    queue("b", new TrainingQueueSpec(12, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    queue("c", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    create("fill", "a", null, 1, 4, "cpu: \"50\"");
    create("victim", "a", null, 2, 4, "cpu: \"50\"");
    create("other", "c", null, 1, 4, "cpu: \"50\"");
    create("pre", "b", null, 2, 4, "cpu: \"50\"");
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    prepareData(get("fill"));
    reconcile(get("fill"), admission);
    cluster.startPod(NS, "fill-pretrain-a1", 0, StageJobManifest.placement(cluster.job(NS, "fill-pretrain-a1")).getFirst());
    prepareData(get("victim"));
    reconcile(get("victim"), admission);
    List<String> victimNodes = StageJobManifest.placement(cluster.job(NS, "victim-pretrain-a1"));
    cluster.createPod(NS, "victim-pretrain-a1", 0);
    cluster.createPod(NS, "victim-pretrain-a1", 1);
    reconcile(get("victim"), admission);  // pinned and released; the scheduler has yet to bind them
    prepareData(get("pre"));
    reconcile(get("pre"), admission);
    assertThat(get("pre").getStatus().getQueue().reason()).contains("preempting research/victim");
    prepareData(get("other"));

    reconcile(get("victim"), admission);  // it stops: its Job goes at once, its pods once they have checkpointed
    assertThat(cluster.job(NS, "victim-pretrain-a1")).isNull();
    admission.replan();
    reconcile(get("other"), admission);
    assertThat(get("other").getStatus().getQueue().reason()).as("what the victim's pods give back is kept for pre")
        .contains("held for research/pre");
    for (int rank = 0; rank < 2; rank++) {
      String node = victimNodes.get(rank);
      client.pods().inNamespace(NS).withName("victim-pretrain-a1-" + rank).edit(p -> {
        p.getSpec().setNodeName(node);
        return p;
      });
      cluster.stopPod(NS, "victim-pretrain-a1-" + rank, 143);
    }
    admission.replan();
    reconcile(get("other"), admission);
    assertThat(cluster.job(NS, "other-pretrain-a1")).as("other does not take a node pre stopped the victim for").isNull();
    reconcile(get("pre"), admission);
    assertThat(cluster.job(NS, "pre-pretrain-a1")).as("admitted onto the nodes its victim gave back").isNotNull();
    assertThat(StageJobManifest.placement(cluster.job(NS, "pre-pretrain-a1"))).containsExactlyInAnyOrderElementsOf(victimNodes);
    assertThat(eventReasons(get("pre")).stream().filter("Preempting"::equals)).hasSize(1);
  }

  @Test
  void aMarkedVictimLeftBehindByItsPreemptorHasItsPodsReleasedAfterTheGrace() {
    lowAdmittedOnTheOnlyNode();
    cluster.createPod(NS, "low-pretrain-a1", 0);
    highPreemptsLowBesideAnotherQueue();
    client.resources(MultimodalPretrainJob.class).inNamespace(NS).withName("high").delete();
    // A change to its started stage: low's own reconcile stops at SpecChangeRejected, before it could yield.
    var tree = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().valueToTree(get("low"));
    ((com.fasterxml.jackson.databind.node.ObjectNode) tree.at("/spec/stages/0")).put("visualTokens", 4);
    client.resource(io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().convertValue(tree,
        MultimodalPretrainJob.class)).update();

    reconcile(get("low"));
    assertThat(cluster.job(NS, "low-pretrain-a1")).as("its reconcile stopped early").isNotNull();
    assertThat(pod("low-pretrain-a1-0").getSpec().getSchedulingGates()).as("within the grace").isNotEmpty();

    clock.advance(BuiltinAdmission.PREEMPTION_GRACE);
    reconcile(get("low"));
    assertThat(pod("low-pretrain-a1-0").getSpec().getSchedulingGates()).as("not gated for good").isEmpty();
    assertThat(pod("low-pretrain-a1-0").getSpec().getNodeSelector()).containsEntry(StageJobManifest.HOSTNAME_LABEL, "gpu-0");
  }

  @Test
  void aVictimsGatedPodsStayGatedOnceItIsMarkedForPreemption() {
    lowAdmittedOnTheOnlyNode();
    cluster.createPod(NS, "low-pretrain-a1", 0);
    BuiltinAdmission admission = highPreemptsLowBesideAnotherQueue();

    reconcile(get("low"), admission);

    assertThat(cluster.job(NS, "low-pretrain-a1")).as("stopped").isNull();
    assertThat(pod("low-pretrain-a1-0").getSpec().getSchedulingGates()).as("not released to start only to stop")
        .isNotEmpty();
    assertThat(pod("low-pretrain-a1-0").getSpec().getNodeSelector()).doesNotContainKey(StageJobManifest.HOSTNAME_LABEL);
    reconcile(get("high"), admission);
    assertThat(cluster.job(NS, "high-pretrain-a1")).as("a gated pod holds nothing once its Job is gone").isNotNull();
  }

  @Test
  void roomFreedForAPreemptorStaysKeptForItWhenAStageOfItsQueueQueuedSinceGoesAheadOfIt() {
    lowTrainingOnTheOnlyNode();
    BuiltinAdmission admission = highPreemptsLowBesideAnotherQueue();
    MultimodalPretrainJob wide = create("wide", "research", 20, 2);

    // A higher stage queues since: it goes first, though it cannot start on the one node.
    prepareData(wide);
    reconcile(wide, admission);
    assertThat(get(wide).getStatus().getQueue().position()).isEqualTo(1);
    reconcile(get("high"), admission);
    assertThat(get("high").getStatus().getQueue().position()).isEqualTo(2);
    prepareData(get("other"));

    theNodeLowGivesBackGoesToHighNotToOther(admission);
  }

  /** After {@link #lowAdmittedOnTheOnlyNode}: a queue "other" with a job "other", and high preempting low. */
  private BuiltinAdmission highPreemptsLowBesideAnotherQueue() {
    queue("other", new TrainingQueueSpec(null, null, null, null));
    create("other", "other", 0, 1);
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    MultimodalPretrainJob high = get("high");
    prepareData(high);
    reconcile(high, admission);
    assertThat(get(high).getStatus().getQueue().reason()).endsWith("preempting research/low (lower priority)");
    return admission;
  }

  /** Low stops; other asks first for the node it freed, and waits; high starts there with no second preemption. */
  private void theNodeLowGivesBackGoesToHighNotToOther(BuiltinAdmission admission) {
    reconcile(get("low"), admission);
    cluster.stopPod(NS, "low-pretrain-a1-0", 143);
    assertThat(new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { }, key -> { }, clock)
        .admit(get("other"), 0).admitted()).as("positive control: an operator that knows of no preemption gives it the"
        + " node").isTrue();
    reconcile(get("other"), admission);
    assertThat(cluster.job(NS, "other-pretrain-a1")).as("the node low gave back is kept for high").isNull();
    assertThat(get("other").getStatus().getQueue().reason()).contains("0 free on nodes (8 held for research/high: kept"
        + " for the stage that preempted to run there)");
    reconcile(get("high"), admission);
    assertThat(cluster.job(NS, "high-pretrain-a1")).as("admitted onto the room it freed, with no second preemption")
        .isNotNull();
    assertThat(eventReasons(get("high")).stream().filter("Preempting"::equals)).hasSize(1);
  }

  @Test
  void aHigherStageQueuedSinceAPreemptorTakesTheRoomKeptForItWhenTheQueueCannotRunBoth() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(8, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY));
    MultimodalPretrainJob low = create("low", "research", 0, 1);
    MultimodalPretrainJob high = create("high", "research", 10, 1);
    MultimodalPretrainJob urgent = create("urgent", "research", 20, 1);
    toTraining(low);
    cluster.startPod(NS, "low-pretrain-a1", 0, "gpu-0");
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    prepareData(high);
    reconcile(high, admission);
    assertThat(get(high).getStatus().getQueue().reason()).endsWith("preempting research/low (lower priority)");

    // The queue's quota runs one stage: urgent goes first, onto the node low gives back.
    prepareData(urgent);
    reconcile(urgent, admission);
    reconcile(high, admission);
    assertThat(get(high).getStatus().getQueue().position()).isEqualTo(2);
    reconcile(get("low"), admission);
    cluster.stopPod(NS, "low-pretrain-a1-0", 143);
    reconcile(urgent, admission);
    assertThat(cluster.job(NS, "urgent-pretrain-a1")).as("not kept waiting by room kept for high, which cannot run"
        + " before it").isNotNull();
    reconcile(high, admission);
    assertThat(cluster.job(NS, "high-pretrain-a1")).isNull();
  }

  @Test
  void freeRoomAPreemptorsPlanCountsOnBesideItsVictimIsKeptForItWhileTheVictimStops() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY));
    queue("other", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob low = create("low", "research", 0, 1);
    toTraining(low);
    cluster.startPod(NS, "low-pretrain-a1", 0, "gpu-0");
    MultimodalPretrainJob high = create("high", "research", 10, 2);
    MultimodalPretrainJob other = create("other", "other", 0, 1);
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    prepareData(high);
    reconcile(high, admission);
    assertThat(get(high).getStatus().getQueue().reason()).as("16 GPUs: gpu-1 free, gpu-0 once low stops")
        .endsWith("preempting research/low (lower priority)");
    prepareData(other);

    // While low stops, the other queue's stage asks for the 8 GPUs free on gpu-1.
    assertThat(new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { }, key -> { }, clock)
        .admit(get(other), 0).admitted()).as("positive control: an operator that knows of no preemption gives it"
        + " gpu-1").isTrue();
    reconcile(other, admission);
    assertThat(cluster.job(NS, "other-pretrain-a1")).isNull();
    assertThat(get(other).getStatus().getQueue().reason()).contains("(8 held for research/high: kept for the stage that"
        + " preempted to run there)");

    reconcile(get("low"), admission);
    cluster.stopPod(NS, "low-pretrain-a1-0", 143);
    reconcile(high, admission);
    assertThat(cluster.job(NS, "high-pretrain-a1")).as("admitted onto both nodes, with no second preemption")
        .isNotNull();
    assertThat(eventReasons(high).stream().filter("Preempting"::equals)).hasSize(1);
  }

  @Test
  void twoPreemptorsDecidingBeforeEitherMarkIsInTheCacheStopDifferentVictims() {
    twoBorrowedStagesAndTwoReclaimers();
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { },
        key -> { }, clock);

    // Neither decision's victims are marked yet: each plan reads the Jobs as a cache that has not heard of a mark.
    Admission.Decision first = admission.admit(get("for-vision"), 0);
    assertThat(first.victims()).as(first.message()).hasSize(1);
    String taken = first.victims().getFirst().attemptJob();
    assertThat(new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { }, key -> { }, clock)
        .admit(get("for-speech"), 0).victims()).extracting(Admission.Victim::attemptJob)
        .as("positive control: an operator that handed out no victim chooses the same one").containsExactly(taken);
    Admission.Decision second = admission.admit(get("for-speech"), 0);
    assertThat(second.victims()).extracting(Admission.Victim::attemptJob).as("not the victim whose room is already"
        + " promised to for-vision: " + second.message()).containsExactly(
        taken.equals("newer-pretrain-a1") ? "older-pretrain-a1" : "newer-pretrain-a1");
  }

  @Test
  void aPreemptorWaitingForAStageHandedToAnotherPreemptorLeavesItToThatOneToMark() {
    twoNodesAndACohortOfThreeQueues();
    MultimodalPretrainJob wide = create("wide", "language", 0, 2);
    toTraining(wide);
    cluster.startPod(NS, "wide-pretrain-a1", 0, "gpu-0");
    cluster.startPod(NS, "wide-pretrain-a1", 1, "gpu-1");
    prepareData(create("for-vision", "vision", 0, 1));
    prepareData(create("for-speech", "speech", 0, 1));
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { },
        key -> { }, clock);

    Admission.Decision first = admission.admit(get("for-vision"), 0);
    assertThat(first.victims()).as("positive control: " + first.message()).extracting(Admission.Victim::attemptJob)
        .containsExactly("wide-pretrain-a1");
    // Its mark is not written yet; for-speech fits once wide stops too, and waits for it.
    Admission.Decision second = admission.admit(get("for-speech"), 0);
    assertThat(second.message()).contains("waiting for preempted stages to stop");
    assertThat(second.victims()).as("wide is for-vision's to mark").isEmpty();
  }

  @Test
  void aVictimWhoseJobIsGoneGivesItsRoomToItsPreemptorWhileItsPodsStop() {
    twoBorrowedStagesAndTwoReclaimers();
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client), (queue, status) -> { },
        key -> { }, clock);

    Admission.Decision first = admission.admit(get("for-vision"), 0);
    assertThat(first.victims()).as(first.message()).hasSize(1);
    String taken = first.victims().getFirst().attemptJob();
    // Its own job stops it: the Job is deleted at once, its pod checkpoints before it goes.
    client.batch().v1().jobs().inNamespace(NS).withName(taken).delete();
    assertThat(cluster.job(NS, taken)).isNull();
    assertThat(client.pods().inNamespace(NS).withName(taken + "-0").get()).as("still stopping").isNotNull();

    Admission.Decision second = admission.admit(get("for-speech"), 0);
    assertThat(second.victims()).extracting(Admission.Victim::attemptJob).as("not waiting for room already promised"
        + " to for-vision: " + second.message()).containsExactly(
        taken.equals("newer-pretrain-a1") ? "older-pretrain-a1" : "newer-pretrain-a1");
  }

  @Test
  void aVictimWhoseJobTheCacheHasNotHeardOfYetIsMarkedAllTheSame() {
    lowTrainingOnTheOnlyNode();
    ChildResources.Reads api = new ChildResources.ApiReads(client);
    ChildResources.Reads lagging = new ChildResources.Reads() {
      @Override
      public <T extends io.fabric8.kubernetes.api.model.HasMetadata> T get(T like) {
        // The victim's Job was created a moment ago: this cache has not heard of it.
        return like instanceof io.fabric8.kubernetes.api.model.batch.v1.Job ? null : api.get(like);
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.batch.v1.Job> jobs(String namespace, String job) {
        return api.jobs(namespace, job);
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.Pod> pods(String namespace, String job) {
        return api.pods(namespace, job);
      }
    };
    MultimodalPretrainJob high = get("high");
    prepareData(high);
    reconcile(get("high"), new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock), lagging);

    assertThat(get(high).getStatus().getQueue().reason()).endsWith("preempting research/low (lower priority)");
    assertThat(cluster.job(NS, "low-pretrain-a1").getMetadata().getAnnotations()).as("marked: else nobody stops it,"
        + " while the queue counts it as stopping").containsEntry(BuiltinAdmission.PREEMPTED_BY, "research/high");
  }

  @Test
  void aStoppedPodTheCacheStillHoldsAfterTheApiServerDeletedItHoldsTheStageBackOnlyUntilItIsLookedUp() {
    lowTrainingOnTheOnlyNode();
    toTraining(get("high"));
    assertThat(cluster.job(NS, "low-pretrain-a1").getMetadata().getAnnotations())
        .containsEntry(BuiltinAdmission.PREEMPTED_BY, "research/high");
    List<io.fabric8.kubernetes.api.model.Pod> cached = client.pods().inNamespace(NS)
        .withLabel(dev.kiln.operator.manifests.Labels.JOB, "low").list().getItems();
    ChildResources.Reads api = new ChildResources.ApiReads(client);
    ChildResources.Reads missedTheDeletion = new ChildResources.Reads() {
      @Override
      public <T extends io.fabric8.kubernetes.api.model.HasMetadata> T get(T like) {
        return api.get(like);
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.batch.v1.Job> jobs(String namespace, String job) {
        return api.jobs(namespace, job);
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.Pod> pods(String namespace, String job) {
        return cached;  // the running pod, as a cache that never heard of its deletion holds it
      }
    };
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    reconcile(get("low"), admission, missedTheDeletion);
    assertThat(cluster.job(NS, "low-pretrain-a1")).as("stopped for the preemptor").isNull();
    client.pods().inNamespace(NS).withName("low-pretrain-a1-0").delete();

    reconcile(get("low"), admission, missedTheDeletion);
    assertThat(get("low").getStatus().getReason()).as("positive control: just stopped, the cache is believed")
        .isEqualTo("Stopping");
    clock.advance(StageAttempts.STOPPING_RECHECK.plusSeconds(1));
    reconcile(get("low"), admission, missedTheDeletion);
    assertThat(get("low").getStatus().getReason()).as("the API server has no such pod: it asks its queue again")
        .isNotEqualTo("Stopping");
    assertThat(get("low").getStatus().getPhase()).isEqualTo(JobPhase.Queued);
  }

  @Test
  void aHigherPriorityStagePreemptsALowerOneWhichResumesLaterAsADisruption() {
    lowTrainingOnTheOnlyNode();
    MultimodalPretrainJob low = get("low");
    MultimodalPretrainJob high = get("high");

    toTraining(high);
    assertThat(cluster.job(NS, "high-pretrain-a1")).isNull();
    assertThat(cluster.job(NS, "low-pretrain-a1").getMetadata().getAnnotations())
        .containsEntry(BuiltinAdmission.PREEMPTED_BY, "research/high");
    assertThat(get(high).getStatus().getQueue().reason()).endsWith("preempting research/low (lower priority)");
    assertThat(eventReasons(high)).contains("Preempting");

    reconcile(low);
    assertThat(cluster.job(NS, "low-pretrain-a1")).as("stopped: its pods get SIGTERM and checkpoint").isNull();
    var stage = get(low).getStatus().getStages().getFirst();
    assertThat(stage.getDisruptions()).isEqualTo(1);
    assertThat(stage.getRestarts()).isZero();
    assertThat(stage.getLastFailure().getReason()).isEqualTo("Preempted");
    assertThat(get(low).getStatus().getReason()).as("waits for its pod to finish the checkpoint").isEqualTo("Stopping");
    assertThat(eventReasons(low)).contains("Preempted");

    reconcile(high);
    assertThat(cluster.job(NS, "high-pretrain-a1")).as("the preempted pod still holds the GPUs").isNull();
    cluster.stopPod(NS, "low-pretrain-a1-0", 143);
    reconcile(high);
    assertThat(cluster.job(NS, "high-pretrain-a1")).isNotNull();
    reconcile(low);
    assertThat(get(low).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(get(low).getStatus().getQueue().position()).isEqualTo(1);
    assertThat(cluster.job(NS, "low-pretrain-a2")).isNull();

    cluster.complete(NS, "high-pretrain-a1", "{\"step\":10}");
    reconcile(high);
    cluster.complete(NS, "high-sft-a1", "{\"step\":10}");
    reconcile(high);
    reconcile(low);
    assertThat(cluster.job(NS, "low-pretrain-a2")).as("resumes as its next attempt, from its checkpoint").isNotNull();
    assertThat(get(low).getStatus().getRestarts()).isZero();
  }

  @Test
  void anOperatorRestartKeepsPositionsAndAdmitsNothingTwice() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, Strategy.STRICT_FIFO, null));
    // Created within one second: the names break the tie in the same order.
    MultimodalPretrainJob running = create("a-running", "research", 0, 1);
    MultimodalPretrainJob next = create("b-next", "research", 0, 1);
    MultimodalPretrainJob last = create("c-last", "research", 0, 1);
    toTraining(running);
    toTraining(next);
    toTraining(last);
    assertThat(get(next).getStatus().getQueue().position()).isEqualTo(1);
    assertThat(get(last).getStatus().getQueue().position()).isEqualTo(2);

    // Every reconcile below builds a new admission, as a restarted operator would.
    for (int i = 0; i < 3; i++) {
      reconcile(last);
      reconcile(next);
      reconcile(running);
    }
    assertThat(get(next).getStatus().getQueue().position()).isEqualTo(1);
    assertThat(get(last).getStatus().getQueue().position()).isEqualTo(2);
    assertThat(cluster.jobNames(NS)).filteredOn(n -> n.contains("-pretrain-a")).containsExactly("a-running-pretrain-a1");
  }

  @Test
  void twoStagesAskingAtOnceNeverBothTakeTheLastGpus() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob a = create("a", "research", 0, 1);
    MultimodalPretrainJob b = create("b", "research", 0, 1);
    prepareData(a);
    prepareData(b);
    // One admission shared by both, its Jobs not yet visible: the reservation is what stops the second.
    ListingClusterState live = new ListingClusterState(client);
    BuiltinAdmission shared = new BuiltinAdmission(new dev.kiln.operator.admission.ClusterState() {
      public List<io.fabric8.kubernetes.api.model.Node> nodes() {
        return live.nodes();
      }

      public List<io.fabric8.kubernetes.api.model.Pod> pods() {
        return live.pods();
      }

      public List<io.fabric8.kubernetes.api.model.Pod> succeededStagePods() {
        return live.succeededStagePods();
      }

      public List<io.fabric8.kubernetes.api.model.batch.v1.Job> trainerJobs() {
        return List.of();  // an informer that has not caught up
      }

      public List<MultimodalPretrainJob> jobs() {
        return live.jobs();
      }

      public java.util.Optional<TrainingQueue> queue(String name) {
        return live.queue(name);
      }

      public List<TrainingQueue> queues() {
        return live.queues();
      }

      public java.util.Map<String, String> namespaceLabels(String namespace) {
        return live.namespaceLabels(namespace);
      }

      public List<io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass> priorityClasses() {
        return live.priorityClasses();
      }

      @Override
      public List<io.fabric8.kubernetes.api.model.node.v1.RuntimeClass> runtimeClasses() {
        return live.runtimeClasses();
      }
    }, (queue, status) -> { }, key -> { }, clock);
    assertThat(shared.admit(get(a), 0).admitted()).isTrue();
    assertThat(shared.admit(get(b), 0).admitted()).isFalse();

    // Deleting a job gives its reservation back at once, not after the reservation's time-to-live.
    MultimodalPretrainJob deleted = get(a);
    client.resource(deleted).delete();
    assertThat(shared.admit(get(b), 0).admitted()).as("the reservation outlives the job until told").isFalse();
    shared.forget(deleted);  // what the operator does when its informer hears of the delete
    assertThat(shared.admit(get(b), 0).admitted()).isTrue();
  }

  @Test
  void anAttemptWhosePodsDoNotStartInTimeGoesBackToTheQueue() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob job = create("stuck", "research", 0, 1);
    toTraining(job);
    cluster.waitingPod(NS, "stuck-pretrain-a1", 0, "gpu-0", "ImagePullBackOff", "Back-off pulling image \"kiln-trainer\"");

    clock.advance(java.time.Duration.ofSeconds(1799));
    reconcile(job);
    assertThat(cluster.job(NS, "stuck-pretrain-a1")).as("within startupDeadlineSeconds (1800)").isNotNull();

    clock.advance(java.time.Duration.ofSeconds(2));
    reconcile(job);
    assertThat(cluster.job(NS, "stuck-pretrain-a1")).isNull();
    var stage = get(job).getStatus().getStages().getFirst();
    assertThat(stage.getDisruptions()).isEqualTo(1);
    assertThat(stage.getRestarts()).isZero();
    assertThat(stage.getLastFailure().getReason()).isEqualTo("StartupDeadlineExceeded");
    assertThat(stage.getLastFailure().getMessage()).contains("did not start within 1800s")
        .contains("pod stuck-pretrain-a1-0 ImagePullBackOff: Back-off pulling image \"kiln-trainer\"");
    assertThat(eventReasons(job)).contains("StartupDeadlineExceeded");

    client.pods().inNamespace(NS).withName("stuck-pretrain-a1-0").delete();  // the garbage collector's part
    reconcile(job);
    assertThat(cluster.job(NS, "stuck-pretrain-a2")).as("backing off for a minute first").isNull();
    assertThat(get(job).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(get(job).getStatus().getQueue().reason())
        .startsWith("stage pretrain backs off after 1 startup failure(s) in a row; it asks queue research again at ");
    clock.advance(java.time.Duration.ofSeconds(60));
    reconcile(job);
    assertThat(cluster.job(NS, "stuck-pretrain-a2")).as("queued again and admitted").isNotNull();
  }

  @Test
  void aStageWhosePodsNeverStartBacksOffHoldingNothingThenFailsUnschedulableWithTheSchedulersReason() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob job = create("stuck", "research", 0, 1);
    client.resources(MultimodalPretrainJob.class).inNamespace(NS).withName("stuck").patch(
        io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
        "{\"spec\":{\"scheduling\":{\"startupRetries\":1}}}");
    MultimodalPretrainJob behind = create("behind", "research", 0, 1);
    toTraining(job);
    prepareData(behind);
    reconcile(behind);
    assertThat(cluster.job(NS, "behind-pretrain-a1")).as("positive control: no room while stuck holds gpu-0").isNull();

    for (int attempt = 1; attempt <= 2; attempt++) {
      String name = "stuck-pretrain-a" + attempt;
      cluster.createPod(NS, name, 0);
      client.pods().inNamespace(NS).withName(name + "-0").editStatus(p -> {
        p.getStatus().getConditions().add(new io.fabric8.kubernetes.api.model.PodConditionBuilder().withType("PodScheduled")
            .withStatus("False").withReason("Unschedulable")
            .withMessage("0/1 nodes are available: 1 Insufficient cpu.").build());
        return p;
      });
      clock.advance(java.time.Duration.ofSeconds(1801));
      reconcile(job);
      client.pods().inNamespace(NS).withName(name + "-0").delete();
      if (attempt == 1) {
        reconcile(behind);
        assertThat(cluster.job(NS, "behind-pretrain-a1")).as("a stage backing off holds no place").isNotNull();
        cluster.complete(NS, "behind-pretrain-a1", "{\"step\":10}");
        reconcile(behind);
        client.batch().v1().jobs().inNamespace(NS).withName("behind-sft-a1").delete();
        client.resource(get(behind)).delete();
        clock.advance(StageAttempts.startupBackoff(1));
        reconcile(job);
        assertThat(cluster.job(NS, "stuck-pretrain-a2")).isNotNull();
      }
    }

    var status = get(job).getStatus();
    assertThat(status.getPhase()).isEqualTo(JobPhase.Failed);
    assertThat(status.getReason()).isEqualTo("Unschedulable");
    assertThat(status.getMessage()).isEqualTo("stage pretrain: pods did not all start within 1800s, 2 times in a row"
        + " (scheduling.startupRetries 1); last: pod stuck-pretrain-a2-0 Unschedulable: 0/1 nodes are available:"
        + " 1 Insufficient cpu.");

    // Retried: the count starts again, and the stage is admitted at once.
    client.resources(MultimodalPretrainJob.class).inNamespace(NS).withName("stuck").patch(
        io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
        "{\"spec\":{\"restartNonce\":\"retry-1\"}}");
    reconcile(job);
    reconcile(job);
    assertThat(get(job).getStatus().getStages().getFirst().getStartupFailures()).isNull();
    assertThat(cluster.job(NS, "stuck-pretrain-a3")).isNotNull();
  }

  @Test
  void startupBackoffDoublesUpToAnHour() {
    assertThat(StageAttempts.startupBackoff(1)).hasSeconds(60);
    assertThat(StageAttempts.startupBackoff(3)).hasSeconds(240);
    assertThat(StageAttempts.startupBackoff(7)).hasSeconds(3600);
    assertThat(StageAttempts.startupBackoff(60)).hasSeconds(3600);
  }

  @Test
  void aBuiltinJobsAttemptSuspendedByKueueIsReportedNotWaitedOn() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, null, null));
    MultimodalPretrainJob job = create("taken", "research", 0, 1);
    toTraining(job);
    reconcile(job);
    assertThat(get(job).getStatus().getReason()).as("positive control: not suspended").isNotEqualTo("SuspendedExternally");

    kueueSetsSuspend("taken-pretrain-a1", true);  // Kueue's manageJobsWithoutQueueName, or its LocalQueue defaulting
    reconcile(job);
    reconcile(job);

    var status = get(job).getStatus();
    assertThat(status.getReason()).isEqualTo("SuspendedExternally");
    assertThat(status.getMessage()).startsWith("Job taken-pretrain-a1 is suspended, and Kiln did not suspend it");
    assertThat(status.getConditions()).anySatisfy(c -> {
      assertThat(c.getType()).isEqualTo("Stalled");
      assertThat(c.getStatus()).isEqualTo("True");
    });
    assertThat(eventReasons(job)).containsOnlyOnce("SuspendedExternally");
  }

  @Test
  void inKueueModeTheTestPlaysKueueAdmittingAndPreemptingEachStageJob() {
    MultimodalPretrainJob job = create("kq", "team-a", 0, 1, "Kueue");
    toTraining(job);
    var attempt = cluster.job(NS, "kq-pretrain-a1");
    assertThat(attempt.getSpec().getSuspend()).as("created suspended for Kueue").isTrue();
    assertThat(attempt.getMetadata().getLabels()).containsEntry("kueue.x-k8s.io/queue-name", "team-a");
    reconcile(job);
    assertThat(get(job).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(get(job).getStatus().getQueue().reason()).isEqualTo("waiting for Kueue to admit Job kq-pretrain-a1 (LocalQueue team-a)");

    kueueSetsSuspend("kq-pretrain-a1", false);  // admitted
    reconcile(job);
    assertThat(get(job).getStatus().getPhase()).isEqualTo(JobPhase.Training);
    assertThat(get(job).getStatus().getConditions()).anySatisfy(c -> {
      assertThat(c.getType()).isEqualTo("Admitted");
      assertThat(c.getStatus()).isEqualTo("True");
      assertThat(c.getReason()).isEqualTo("AdmittedByKueue");
    });

    kueueSetsSuspend("kq-pretrain-a1", true);  // preempted: the Job controller stops its pods
    reconcile(job);
    var stage = get(job).getStatus().getStages().getFirst();
    assertThat(get(job).getStatus().getPhase()).isEqualTo(JobPhase.Queued);
    assertThat(stage.getDisruptions()).isEqualTo(1);
    assertThat(stage.getRestarts()).isZero();
    assertThat(stage.getLastFailure().getReason()).isEqualTo("Preempted");
    assertThat(cluster.job(NS, "kq-pretrain-a1")).as("the same Job resumes when Kueue admits it again").isNotNull();
    reconcile(job);
    assertThat(get(job).getStatus().getStages().getFirst().getDisruptions()).as("counted once").isEqualTo(1);

    kueueSetsSuspend("kq-pretrain-a1", false);
    reconcile(job);
    cluster.complete(NS, "kq-pretrain-a1", "{\"step\":10}");
    reconcile(job);
    assertThat(cluster.job(NS, "kq-sft-a1").getSpec().getSuspend()).isTrue();
    assertThat(eventReasons(job)).contains("Admitted", "Preempted");
  }

  @Test
  void inKueueModeTheWorkloadsConditionsSayWhyAJobWaitsAndWhenOnlyAPersonCanEndTheWait() {
    MultimodalPretrainJob job = create("kq", "team-a", 0, 1, "Kueue");
    toTraining(job);
    var attempt = cluster.job(NS, "kq-pretrain-a1");

    workload(attempt, true, condition("QuotaReserved", "False", "Pending", "couldn't assign flavors to pod set main:"
        + " insufficient unused quota for nvidia.com/gpu in flavor a100, 4 more needed"));
    reconcile(job);
    assertThat(get(job).getStatus().getQueue().reason()).isEqualTo("waiting for Kueue to admit Job kq-pretrain-a1"
        + " (LocalQueue team-a): couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in"
        + " flavor a100, 4 more needed");
    assertThat(condition(get(job), "Stalled").getStatus()).as("positive control: waiting for quota").isEqualTo("False");

    workload(attempt, true, condition("QuotaReserved", "False", "Inadmissible", "LocalQueue team-a doesn't exist"));
    reconcile(job);
    reconcile(job);
    assertThat(get(job).getStatus().getReason()).isEqualTo("KueueInadmissible");
    assertThat(condition(get(job), "Stalled").getStatus()).isEqualTo("True");
    assertThat(condition(get(job), "Stalled").getMessage())
        .isEqualTo("Kueue cannot admit Job kq-pretrain-a1 (LocalQueue team-a): LocalQueue team-a doesn't exist");
    assertThat(eventReasons(job)).as("said once").containsOnlyOnce("KueueInadmissible");

    workload(attempt, false, condition("Evicted", "True", "DeactivatedDueToRequeuingLimitExceeded",
        "The workload is deactivated due to exceeding the maximum number of re-queuing retries"));
    reconcile(job);
    assertThat(get(job).getStatus().getReason()).isEqualTo("KueueDeactivated");
    assertThat(get(job).getStatus().getMessage()).startsWith("Kueue's Workload job-kq-pretrain-a1-5c2e1 for Job"
        + " kq-pretrain-a1 is deactivated (DeactivatedDueToRequeuingLimitExceeded: The workload is deactivated due to"
        + " exceeding the maximum number of re-queuing retries); set its spec.active to true");

    workloads().delete();
    reconcile(job);
    assertThat(get(job).getStatus().getReason()).as("no Workload yet: Kueue may still make one").isEqualTo("WaitingForKueue");
    clock.advance(java.time.Duration.ofMinutes(3));
    reconcile(job);
    assertThat(get(job).getStatus().getReason()).isEqualTo("KueueNotManaging");
    assertThat(get(job).getStatus().getMessage()).startsWith("Kueue has made no Workload for Job kq-pretrain-a1 in 180s");
  }

  /** The Workload Kueue makes for a Job, in the shape of Kueue's v1beta2 API, with one status condition. */
  private void workload(io.fabric8.kubernetes.api.model.batch.v1.Job job, boolean active, Map<String, Object> condition) {
    var workload = new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
        .withApiVersion("kueue.x-k8s.io/v1beta2").withKind("Workload")
        .withNewMetadata().withName("job-" + job.getMetadata().getName() + "-5c2e1").withNamespace(NS)
          .withLabels(Map.of("kueue.x-k8s.io/job-uid", job.getMetadata().getUid())).endMetadata()
        .withAdditionalProperties(Map.of("spec", Map.of("active", active, "queueName", "team-a"),
            "status", Map.of("conditions", List.of(condition))))
        .build();
    workloads().delete();
    workloads().resource(workload).create();
  }

  private io.fabric8.kubernetes.client.dsl.NonNamespaceOperation<io.fabric8.kubernetes.api.model.GenericKubernetesResource,
      io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
      io.fabric8.kubernetes.client.dsl.Resource<io.fabric8.kubernetes.api.model.GenericKubernetesResource>> workloads() {
    return client.genericKubernetesResources(dev.kiln.operator.admission.KueueWorkloads.api("v1beta2")).inNamespace(NS);
  }

  private static Map<String, Object> condition(String type, String status, String reason, String message) {
    return Map.of("type", type, "status", status, "reason", reason, "message", message,
        "lastTransitionTime", "2026-11-26T10:00:00Z");
  }

  private static io.fabric8.kubernetes.api.model.Condition condition(MultimodalPretrainJob job, String type) {
    return job.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElseThrow();
  }

  @Test
  void aKueueJobHoldsGpusOnNodesButNoQuotaInAKilnQueueOfTheSameName() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("research", new TrainingQueueSpec(8, null, null, null));
    MultimodalPretrainJob kueue = create("kq", "research", 0, 1, "Kueue");
    toTraining(kueue);
    kueueSetsSuspend("kq-pretrain-a1", false);
    cluster.startPod(NS, "kq-pretrain-a1", 0, "gpu-0");
    reconcile(kueue);

    MultimodalPretrainJob builtin = create("kiln", "research", 0, 1);
    toTraining(builtin);
    assertThat(cluster.job(NS, "kiln-pretrain-a1")).as("8 GPUs of quota and gpu-1 free").isNotNull();

    MultimodalPretrainJob third = create("third", "research", 0, 1);
    toTraining(third);
    assertThat(get(third).getStatus().getQueue().reason()).as("the nodes are full: the Kueue job's pod counts there")
        .contains("0 free in queue research, 0 free on nodes");
  }

  private void kueueSetsSuspend(String name, boolean suspend) {
    client.batch().v1().jobs().inNamespace(NS).withName(name).edit(j -> {
      j.getSpec().setSuspend(suspend);
      return j;
    });
  }

  // --- helpers -------------------------------------------------------------------------------

  private MultimodalPretrainJob create(String name, String queue, int priority, int nodes) {
    return create(name, queue, priority, nodes, "Builtin");
  }

  /** A one-node job in queue research whose stage pods request {@code cpu}. */
  private MultimodalPretrainJob createWithCpu(String name, String cpu) {
    return create(name, "research", 0, 1, "Builtin", "cpu: \"" + cpu + "\"");
  }

  private MultimodalPretrainJob create(String name, String queue, int priority, int nodes, String mode) {
    return create(name, queue, priority, nodes, mode, "cpu: \"2\"");
  }

  private MultimodalPretrainJob create(String name, String queue, int priority, int nodes, String mode, String cpu) {
    return create(name, queue, priority == 0 ? null : priorityClass(priority), nodes, mode, cpu);
  }

  private MultimodalPretrainJob create(String name, String queue, String priorityClass, int nodes, String mode,
      String cpu) {
    return create(name, queue, priorityClass, nodes, 8, mode, cpu);
  }

  /** A Builtin-mode job of {@code nodes} pods of {@code gpus} GPUs, each pod requesting {@code cpu}. */
  private MultimodalPretrainJob create(String name, String queue, String priorityClass, int nodes, int gpus, String cpu) {
    return create(name, queue, priorityClass, nodes, gpus, "Builtin", cpu);
  }

  private MultimodalPretrainJob create(String name, String queue, String priorityClass, int nodes, int gpus, String mode,
      String cpu) {
    try {
      String yaml = Files.readString(TestJobs.root().resolve("examples/quickstart.yaml"))
          .replace("name: quickstart\n", "name: " + name + "\n")
          .replace("gpusPerNode: 0                      # CPU", "gpusPerNode: " + gpus + "\n        gpuProduct: " + A100)
          .replace("gpusPerNode: 0", "gpusPerNode: " + gpus + "\n        gpuProduct: " + A100)
          .replace("nodes: 1", "nodes: " + nodes)
          .replace("cpu: \"2\"", cpu)
          .replace("globalBatchSize: 8", "globalBatchSize: 64")
          .replace("      size: 1Gi\n", "      size: 1Gi\n      accessModes: [ReadWriteMany]\n")
          .replace("  checkpoints:\n", "  scheduling:\n    queue: " + queue
              + (priorityClass == null ? "" : "\n    priorityClassName: " + priorityClass)
              + "\n    mode: " + mode + "\n  checkpoints:\n");
      MultimodalPretrainJob job = TestJobs.withoutSampleData(JobFiles.parse(yaml, name + ".yaml").getFirst());
      job.getMetadata().setNamespace(NS);
      job.getMetadata().setCreationTimestamp(clock.instant().toString());
      clock.advance(java.time.Duration.ofSeconds(1));
      return client.resource(job).create();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Two 8-GPU nodes and cohort lab: queues vision and speech (8 GPUs each, free to reclaim them)
   * and language (no quota of its own: it runs on what it borrows).
   */
  private void twoNodesAndACohortOfThreeQueues() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("vision", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    queue("speech", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    queue("language", new TrainingQueueSpec(0, null, null, null, null, "lab", null, null, null));
  }

  /**
   * Queue language (no quota of its own) runs "older" on gpu-0 and "newer" on gpu-1, both on GPUs
   * borrowed in cohort lab; "for-vision" and "for-speech", with their data ready, wait in the two
   * queues whose quota those are, each free to reclaim it.
   */
  private void twoBorrowedStagesAndTwoReclaimers() {
    twoNodesAndACohortOfThreeQueues();
    MultimodalPretrainJob older = create("older", "language", 0, 1);
    toTraining(older);
    cluster.startPod(NS, "older-pretrain-a1", 0, "gpu-0");
    MultimodalPretrainJob newer = create("newer", "language", 0, 1);
    toTraining(newer);
    cluster.startPod(NS, "newer-pretrain-a1", 0, "gpu-1");
    MultimodalPretrainJob forVision = create("for-vision", "vision", 0, 1);
    MultimodalPretrainJob forSpeech = create("for-speech", "speech", 0, 1);
    prepareData(forVision);
    prepareData(forSpeech);
  }

  /**
   * Cohort lab of vision (16 GPUs), speech (8, idle: it lends them) and language (8, running
   * "first" on gpu-0). Another workload held gpu-1 while vision's "owner" and language's
   * "borrower" asked for 8 GPUs each, both told to wait by the returned admission; that workload
   * has now ended.
   */
  private BuiltinAdmission borrowerAndOwnerQueuedForGpu1() {
    cluster.addGpuNode("gpu-0", 8, A100);
    cluster.addGpuNode("gpu-1", 8, A100);
    queue("vision", new TrainingQueueSpec(16, null, null, null, null, "lab", null, null, TrainingQueueSpec.Reclaim.ANY));
    queue("speech", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, null));
    queue("language", new TrainingQueueSpec(8, null, null, null, null, "lab", null, null, null));
    BuiltinAdmission admission = new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock);
    MultimodalPretrainJob first = create("first", "language", 0, 1);
    toTraining(first);
    cluster.startPod(NS, "first-pretrain-a1", 0, "gpu-0");
    io.fabric8.kubernetes.api.model.Pod other = foreignPod("other", "gpu-1", 8);
    MultimodalPretrainJob owner = create("owner", "vision", 0, 1);
    prepareData(owner);
    reconcile(get(owner), admission);
    MultimodalPretrainJob borrower = create("borrower", "language", 0, 1);
    prepareData(borrower);
    reconcile(get(borrower), admission);
    assertThat(cluster.job(NS, "owner-pretrain-a1")).isNull();
    assertThat(cluster.job(NS, "borrower-pretrain-a1")).isNull();
    client.pods().inNamespace("serving").withName(other.getMetadata().getName()).editStatus(p -> {
      p.getStatus().setPhase("Succeeded");
      return p;
    });
    return admission;
  }

  /** A PriorityClass of that value (created once), as an administrator would provide it. */
  private String priorityClass(int value) {
    return priorityClass(value, "priority-" + value);
  }

  private String priorityClass(int value, String name) {
    if (client.scheduling().v1().priorityClasses().withName(name).get() == null) {
      client.scheduling().v1().priorityClasses().resource(new io.fabric8.kubernetes.api.model.scheduling.v1
          .PriorityClassBuilder().withNewMetadata().withName(name).endMetadata().withValue(value).build()).create();
    }
    return name;
  }

  private void queue(String name, TrainingQueueSpec spec) {
    TrainingQueue queue = new TrainingQueue();
    queue.setMetadata(new ObjectMetaBuilder().withName(name).build());
    queue.setSpec(spec);
    client.resource(queue).create();
  }

  private dev.kiln.api.v1alpha1.TrainingQueueStatus queueStatus(String name) {
    return client.resources(TrainingQueue.class).withName(name).get().getStatus();
  }

  private void prepareData(MultimodalPretrainJob job) {
    String name = job.getMetadata().getName();
    reconcile(job);
    cluster.complete(NS, name + "-filter-shapes");
    reconcile(job);
    cluster.completePacking(NS, name, () -> reconcile(job));
  }

  /** Data prep done, and one reconcile that asks the queue for the first stage. */
  private void toTraining(MultimodalPretrainJob job) {
    prepareData(job);
    reconcile(job);
  }

  /**
   * A LowerPriority queue on one 8-GPU node: "low" (priority 0) training there, and "high" (10)
   * created behind it, its data not yet prepared.
   */
  private void lowTrainingOnTheOnlyNode() {
    lowAdmittedOnTheOnlyNode();
    cluster.startPod(NS, "low-pretrain-a1", 0, "gpu-0");
  }

  /** As {@link #lowTrainingOnTheOnlyNode}, low's Job created and its pod not yet. */
  private void lowAdmittedOnTheOnlyNode() {
    cluster.addGpuNode("gpu-0", 8, A100);
    queue("research", new TrainingQueueSpec(null, null, Strategy.BEST_EFFORT_FIFO, Preemption.LOWER_PRIORITY));
    MultimodalPretrainJob low = create("low", "research", 0, 1);
    create("high", "research", 10, 1);
    toTraining(low);
  }

  private MultimodalPretrainJob get(String name) {
    return client.resources(MultimodalPretrainJob.class).inNamespace(NS).withName(name).get();
  }

  private io.fabric8.kubernetes.api.model.Pod pod(String name) {
    return client.pods().inNamespace(NS).withName(name).get();
  }

  private JobLifecycle.Outcome reconcile(MultimodalPretrainJob job) {
    return reconcile(job, new BuiltinAdmission(new ListingClusterState(client),
        (queue, status) -> TrainingQueues.writeStatus(client, queue, status), key -> { }, clock));
  }

  private JobLifecycle.Outcome reconcile(MultimodalPretrainJob job, BuiltinAdmission admission) {
    return reconcile(job, admission, null);
  }

  /** With the job's children read through {@code reads} (null: from the API server). */
  private JobLifecycle.Outcome reconcile(MultimodalPretrainJob job, BuiltinAdmission admission, ChildResources.Reads reads) {
    ChildResources children = reads == null ? new ChildResources(client) : new ChildResources(client, reads);
    return new JobLifecycle(children, new EventRecorder(client, clock), admission, ProgressReader.none(),
        java.time.Duration.ofSeconds(30), OperatorSettings.defaults("test"), clock).reconcile(get(job));
  }

  private MultimodalPretrainJob get(MultimodalPretrainJob job) {
    return cluster.get(job);
  }

  private List<String> eventReasons(MultimodalPretrainJob job) {
    return client.v1().events().inNamespace(NS).list().getItems().stream()
        .filter(e -> job.getMetadata().getName().equals(e.getInvolvedObject().getName()))
        .map(Event::getReason).toList();
  }

  private List<String> eventMessages(MultimodalPretrainJob job) {
    return client.v1().events().inNamespace(NS).list().getItems().stream()
        .filter(e -> job.getMetadata().getName().equals(e.getInvolvedObject().getName()))
        .map(Event::getMessage).toList();
  }
}
