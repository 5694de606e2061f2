package dev.kiln.operator.admission;

import dev.kiln.api.scheduling.Priorities;
import dev.kiln.api.scheduling.QueueNamespaces;
import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.scheduling.RuntimeClasses;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.api.v1alpha1.TrainingQueueStatus;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.Names;
import dev.kiln.operator.manifests.StageJobManifest;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Kiln's own GPU gang queue ({@code scheduling.mode: Builtin}): each decision reads the cluster
 * (nodes, every pod, Kiln's trainer Jobs, jobs and queues; once per state of the caches), builds
 * the queue's {@link QueuePlan} and answers for the stage that asked. Decisions are serialised,
 * and what the caches cannot show yet is kept here: a stage admitted but whose Job is not yet in
 * the cache keeps its GPUs reserved, so two stages reconciled at the same moment never both take
 * the last free GPUs; victims handed to a preemptor count as stopping before their mark is seen;
 * room a preemptor counts on is set aside for it. All of it is short-lived: a restarted operator
 * rebuilds the same queue from the jobs' status and the Jobs that exist.
 */
public final class BuiltinAdmission implements Admission {

  private static final Logger LOG = Logger.getLogger(BuiltinAdmission.class);

  /** Annotation on a trainer Job being stopped to make room: the job (namespace/name) it makes room for. */
  public static final String PREEMPTED_BY = "kiln.dev/preempted-by";
  /** Beside it: when it was marked. A victim still running {@link #PREEMPTION_GRACE} later is stopped by the preemptor. */
  public static final String PREEMPTED_AT = "kiln.dev/preempted-at";
  /** How long a marked victim's own reconcile has to stop it (it only has to delete its Job). */
  public static final Duration PREEMPTION_GRACE = Duration.ofSeconds(60);
  /** How long a reservation waits for its Job to show in the cache before it is dropped. */
  static final Duration RESERVATION_TTL = Duration.ofMinutes(2);
  /**
   * How long a victim handed to a preemptor counts as stopping before the cache shows its mark:
   * a mark that did not come by then was not written (the preemptor's reconcile failed, or found
   * no such Job), and the victim is planned afresh.
   */
  static final Duration HANDED_OUT_TTL = Duration.ofSeconds(15);
  /**
   * How long room kept for a preemptor stays set aside for it after it last preempted, or waited for
   * its victims to stop: their grace, and a reservation's wait.
   */
  static final Duration SET_ASIDE_TTL = PREEMPTION_GRACE.plus(RESERVATION_TTL);

  private final ClusterState state;
  private final BiConsumer<String, TrainingQueueStatus> queueStatus;
  private final Consumer<String> wake;
  private final Clock clock;
  private final String gpuRuntimeClassName;
  private final Map<String, Reservation> reservations = new LinkedHashMap<>();
  /** Per preemptor (namespace/name): what its pods are planned to take where it preempted, kept for it until it starts. */
  private final Map<String, SetAside> setAside = new LinkedHashMap<>();
  /**
   * Attempts (namespace/Job) handed to a preemptor as victims: they are stopping, though the Job
   * cache may not show their mark yet, so no other preemptor is given them too.
   */
  private final Map<String, HandedOut> handedOut = new HashMap<>();
  private final Map<String, TrainingQueueStatus> lastWritten = new HashMap<>();
  private final Set<String> waiting = new LinkedHashSet<>();
  /** Each queue's last plan, with the versions it was made at: a waiting job asking again reuses its verdict. */
  private final Map<String, MadePlan> plans = new HashMap<>();
  /**
   * The stage each queue served first at its last plan ({@link QueuePlan.Result#head}): what the
   * rest of its cohort must not borrow, while it fits that queue's own quotas.
   */
  private final Map<String, QueuePlan.Waiting> heads = new HashMap<>();
  /**
   * Moves with every change to {@link #reservations}, {@link #handedOut} or {@link #setAside},
   * which plans depend on as much as on the cluster.
   */
  private long reservationsVersion;
  /** Moves with every change to {@link #reservations} or {@link #handedOut}: what a {@link Snapshot} holds besides the cluster. */
  private long heldVersion;
  private final Admission kueue = new ImmediateAdmission();

  private record Reservation(String queue, String namespace, String job, String stage, Gang gang, List<String> nodes,
      int priority, Instant at) {}

  /**
   * What a preemptor of {@code queue} is planned to take on each node once its victims stop, as of
   * its last ask: without this, the room they free, or the free room beside it that the plan
   * counted on, goes to whichever stage of any queue is planned first, and the preemptor stops
   * more stages or waits for the next release (at 1,000 jobs, the slowest admissions were such preemptors).
   * Empty while it has given that room up ({@link #giveUpRoom}), its victims still named.
   */
  private record SetAside(String queue, Map<String, ResourceList> byNode, Set<String> victims, Instant at) {}

  /** A victim's preemptor, and when it was handed out. */
  private record HandedOut(String preemptor, Instant at) {}

  /** What {@link #snapshot} read of the cluster, at the caches' {@code changes} and {@link #heldVersion}. */
  private record Snapshot(long changes, long heldVersion, ClusterRoom room,
      Map<String, List<QueuePlan.Running>> runningByQueue, Map<String, List<Job>> jobsByOwner,
      Set<String> ranksAllSucceeded) {}

  private Snapshot snapshot;

  /**
   * How long a plan's wait stands for a job asking again with the same stage and priority, though
   * the cluster changed since: every change that can free room plans the queues again at once (and
   * wakes whom that admits), so a wait this recent is at worst a place that is a moment old. At
   * 1,000 jobs a change comes every fraction of a second, and without this every job woken to learn
   * its new place planned the whole queue again.
   */
  public static final Duration RECENT_PLAN = Duration.ofSeconds(1);

  /**
   * A plan, the versions it was made at, when, what each waiting job asked for, and when the first
   * reservation, victim handed out or room set aside that it counted expires (its room then frees).
   */
  private record MadePlan(long stateVersion, long reservationsVersion, Instant madeAt,
      Map<String, QueuePlan.Waiting> asked, Instant reservationsExpire, QueuePlan.Result result) {}

  /**
   * {@code wake} is told of a job (namespace/name) whose stage a decision for another job found
   * admissible, or found must stop others to run: only its own reconcile takes the place or marks
   * the victims, so it must be woken now, not when the cluster next changes.
   */
  public BuiltinAdmission(ClusterState state, BiConsumer<String, TrainingQueueStatus> queueStatus,
      Consumer<String> wake, Clock clock) {
    this(state, queueStatus, wake, clock, "");
  }

  /** As above; GPU stages whose pod settings name no RuntimeClass run under {@code gpuRuntimeClassName} (empty: none). */
  public BuiltinAdmission(ClusterState state, BiConsumer<String, TrainingQueueStatus> queueStatus,
      Consumer<String> wake, Clock clock, String gpuRuntimeClassName) {
    this.state = state;
    this.queueStatus = queueStatus;
    this.wake = wake;
    this.clock = clock;
    this.gpuRuntimeClassName = gpuRuntimeClassName;
  }

  /** Jobs (namespace/name) waiting in some queue at the last decision: who to wake when room appears. */
  public synchronized Set<String> waitingJobs() {
    return Set.copyOf(waiting);
  }

  /** The job waits for nothing any more; its queue's status is brought up to date without it. */
  @Override
  public synchronized void forget(MultimodalPretrainJob job) {
    waiting.remove(key(job));
    if (reservations.keySet().removeIf(k -> k.startsWith(key(job) + "/"))
        | handedOut.values().removeIf(h -> h.preemptor().equals(key(job)))) {
      heldChanged();
    }
    if (setAside.remove(key(job)) != null) {
      reservationsVersion++;
    }
    String queueName = job.getSpec().scheduling().queue();
    if (job.getSpec().scheduling().mode() == SchedulingSpec.Mode.BUILTIN) {
      state.queue(queueName).ifPresent(queue -> planQueue(queueName, queue, job, null));
    }
  }

  /**
   * Plans every queue that jobs wait in, as the cluster is now, waking each job a plan finds
   * admissible or finds must preempt: after a change that may free GPUs, the jobs that can start
   * (or make room) are reconciled first, not after every waiting job has had its turn.
   */
  public synchronized void replan() {
    Set<String> queues = new LinkedHashSet<>();
    for (MultimodalPretrainJob job : state.jobs()) {
      if (waiting.contains(key(job))) {
        queues.add(job.getSpec().scheduling().queue());
      }
    }
    for (String name : queues) {
      state.queue(name).ifPresent(queue -> planQueue(name, queue, null, null));
    }
  }

  @Override
  public synchronized Decision admit(MultimodalPretrainJob job, int stageIndex) {
    SchedulingSpec scheduling = job.getSpec().scheduling();
    String queueName = scheduling.queue();
    OptionalInt priority = Priorities.resolve(scheduling.priorityClassName(), state.priorityClasses());
    if (priority.isEmpty()) {
      // Its pods would be refused, and Kueue makes no Workload for a Job whose class is missing.
      if (waiting.contains(key(job))) {
        forget(job);  // it cannot be ordered: those behind it move up
      }
      return Decision.refused(queueName, JobStatusAggregator.PRIORITY_CLASS_NOT_FOUND, "PriorityClass "
          + scheduling.priorityClassName() + " (spec.scheduling.priorityClassName) does not exist; ask the cluster's"
          + " administrator for it, or name one that does (kubectl get priorityclasses)");
    }
    StageSpec stage = job.getSpec().stages().get(stageIndex);
    RuntimeClasses.Admitted runtime = runtimeAdmission(stage);
    if (runtime.refused()) {
      // Its pods would be refused at creation, whatever the queue decided.
      if (waiting.contains(key(job))) {
        forget(job);
      }
      return Decision.refused(queueName, JobStatusAggregator.RUNTIME_CLASS_REFUSED, "stage " + stage.name()
          + "'s pods would be refused: " + runtime.refusal() + " (spec.stages[" + stageIndex + "].pod.runtimeClassName, or"
          + " the operator's gpuRuntimeClassName; kubectl get runtimeclasses lists those that exist)");
    }
    if (scheduling.mode() == SchedulingSpec.Mode.KUEUE) {
      return kueue.admit(job, stageIndex);  // Kueue gates the suspended Jobs
    }
    var queue = state.queue(queueName);
    if (queue.isEmpty()) {
      waiting.add(key(job));
      return Decision.waiting(queueName, null, "TrainingQueue " + queueName + " does not exist; create it (kubectl get"
          + " trainingqueues lists those that do) or set spec.scheduling.queue");
    }
    String namespace = job.getMetadata().getNamespace();
    if (!admitsNamespace(queue.get(), namespace)) {
      if (waiting.contains(key(job))) {
        forget(job);  // refused now, after it waited: those behind it move up
      }
      return Decision.refused(queueName, JobStatusAggregator.NAMESPACE_NOT_ADMITTED, "TrainingQueue " + queueName
          + " does not admit namespace " + namespace + " (its namespaceSelector: "
          + QueueNamespaces.describe(queue.get().getSpec()) + "); use a queue that does, or ask its administrator");
    }
    Gang asked = gang(stage);
    // Asking again for a stage it was admitted to means its Job was never made (creating it failed):
    // its reservation must not hold it back from the GPUs it reserved.
    if (reservations.remove(key(job) + "/" + stage.name()) != null) {
      heldChanged();
    }
    QueuePlan.Verdict unchanged = unchangedWait(queueName, new QueuePlan.Waiting(key(job), priority.getAsInt(),
        created(job), asked));
    QueuePlan.Verdict verdict = unchanged != null ? unchanged
        : planQueue(queueName, queue.get(), job, asked).verdicts().get(key(job));

    return switch (verdict) {
      case QueuePlan.Admit admit -> {
        heldChanged();
        setAside.remove(key(job));  // its reservation holds what it takes now
        reservations.put(key(job) + "/" + stage.name(), new Reservation(queueName, job.getMetadata().getNamespace(),
            job.getMetadata().getName(), stage.name(), asked, admit.nodes(), priority.getAsInt(), Instant.now(clock)));
        yield Decision.admitNow(queueName, "admitted to queue " + queueName + ": " + asked.describe()
            + (admit.nodes().isEmpty() ? "" : " on " + String.join(", ", admit.nodes())), admit.nodes());
      }
      case QueuePlan.Wait wait -> Decision.waiting(queueName, wait.position(), wait.reason());
      case QueuePlan.Preempt preempt -> {
        if (preempt.victims().stream().anyMatch(v -> !v.stopping())) {
          // Those it stopped before count still: the room planned may rest on them too.
          Set<String> victims = new HashSet<>(setAside.containsKey(key(job)) ? setAside.get(key(job)).victims() : Set.of());
          preempt.victims().stream().filter(v -> !v.stopping() && !v.attempt().isEmpty()).forEach(v -> {
            victims.add(v.attempt());
            handedOut.put(v.attempt(), new HandedOut(key(job), Instant.now(clock)));
          });
          heldChanged();
          keepRoom(key(job), queueName, preempt.roomByNode(asked), victims);
        } else if (setAside.containsKey(key(job))) {
          // Waiting for its own victims: it still asks for the room planned when it stopped them, or,
          // having given that up while it could not start, for the room it is planned now.
          SetAside kept = setAside.get(key(job));
          boolean ownStopping = preempt.victims().stream().anyMatch(v -> kept.victims().contains(v.attempt()));
          keepRoom(key(job), queueName, kept.byNode().isEmpty() && ownStopping ? preempt.roomByNode(asked)
              : kept.byNode(), kept.victims());
        }
        // A stage handed to another preemptor, its mark not yet written, is that preemptor's to mark:
        // named here too, this one's reconcile could mark it first, and the room it frees be owed twice.
        String self = key(job);
        yield Decision.preempting(queueName, preempt.position(), preempt.reason(),
          preempt.victims().stream().filter(v -> !v.attempt().isEmpty() && (!handedOut.containsKey(v.attempt())
              || handedOut.get(v.attempt()).preemptor().equals(self))).map(v -> new Victim(
              v.attempt().substring(0, v.attempt().indexOf('/')), v.attempt().substring(v.attempt().indexOf('/') + 1),
              v.key())).toList());
      }
    };
  }

  /**
   * Keeps for the preemptor, while its victims stop, the room its pods are planned to take there
   * once they have: so that neither what they give back nor what was already free on those nodes
   * goes to a stage planned first, of its own queue or another, which would make it stop more.
   * Only a stage that stops victims of its own plans room; one that waits for stages already
   * stopping (perhaps for another preemptor) keeps what it had, if anything.
   */
  private void keepRoom(String preemptor, String queueName, Map<String, ResourceList> byNode, Set<String> victims) {
    SetAside before = setAside.get(preemptor);
    if (before == null || !before.byNode().equals(byNode) || !before.victims().equals(victims)) {
      reservationsVersion++;
      LOG.debugf("room kept for %s on %s while %s stop", preemptor, byNode.keySet(), victims);
    }
    setAside.put(preemptor, new SetAside(queueName, Map.copyOf(byNode), Set.copyOf(victims), Instant.now(clock)));
  }

  /** Reservations or victims handed out changed: the snapshot, and every plan made, are stale. */
  private void heldChanged() {
    heldVersion++;
    reservationsVersion++;
  }

  /**
   * The stage's Wait in the queue's last plan, when nothing the plan read has changed since, or
   * the plan is at most {@link #RECENT_PLAN} old and the stage asks for what it asked for then;
   * null when it must be planned again. Only waits are reused: an admission reserves and a
   * preemption marks victims, so those are always decided on a fresh plan. A reservation whose
   * Job arrives moves the cluster's version; one that expires does so with no event, hence its deadline.
   */
  private QueuePlan.Verdict unchangedWait(String queueName, QueuePlan.Waiting asking) {
    MadePlan made = plans.get(queueName);
    OptionalLong version = state.version();
    Instant now = Instant.now(clock);
    if (made == null || version.isEmpty() || !now.isBefore(made.reservationsExpire())) {
      return null;
    }
    boolean unchanged = made.stateVersion() == version.getAsLong() && made.reservationsVersion() == reservationsVersion;
    boolean recent = now.isBefore(made.madeAt().plus(RECENT_PLAN)) && asking.equals(made.asked().get(asking.key()));
    if (!unchanged && !recent) {
      return null;
    }
    return made.result().verdicts().get(asking.key()) instanceof QueuePlan.Wait wait ? wait : null;
  }

  /**
   * Jobs the last plans have news for: those found admissible or preempting for, and those among
   * the first {@code positions} waiting in each queue whose place differs from the one their status
   * shows. Jobs further back are told their new place when they next ask (their poll), not with
   * every change ahead of them.
   */
  public synchronized Set<String> frontOfQueues(int positions) {
    Map<String, Integer> shown = new HashMap<>();
    for (MultimodalPretrainJob job : state.jobs()) {
      var queue = job.getStatus() == null ? null : job.getStatus().getQueue();
      if (queue != null && queue.position() != null) {
        shown.put(key(job), queue.position());
      }
    }
    Set<String> front = new LinkedHashSet<>();
    for (MadePlan made : plans.values()) {
      made.result().verdicts().forEach((job, verdict) -> {
        if (verdict instanceof QueuePlan.Admit || verdict instanceof QueuePlan.Preempt) {
          front.add(job);
        }
      });
      List<String> pending = made.result().pending();
      for (int place = 1; place <= Math.min(positions, pending.size()); place++) {
        if (!Objects.equals(shown.get(pending.get(place - 1)), place)) {
          front.add(pending.get(place - 1));
        }
      }
    }
    front.retainAll(waiting);
    return front;
  }

  /**
   * The queue's plan from the cluster as it is now, with {@code job} asking for {@code asked} (or,
   * when {@code asked} is null, leaving: it neither waits nor holds a reservation; or, when
   * {@code job} is null too, nobody asking); writes the queue's status when it changed, remembers
   * who waits, and wakes those it finds admissible or must preempt.
   */
  private QueuePlan.Result planQueue(String queueName, TrainingQueue queue, MultimodalPretrainJob job, Gang asked) {
    OptionalLong version = state.version();  // read first: a change while planning makes the plan stale
    OptionalLong changes = state.changes();
    Map<String, MultimodalPretrainJob> cached = new HashMap<>();
    state.jobs().forEach(j -> cached.put(key(j), j));
    Map<String, MultimodalPretrainJob> jobs = cached;
    if (job != null) {
      jobs = new HashMap<>(cached);
      jobs.put(key(job), job);  // the asking (or leaving) job as this reconcile sees it, fresher than the cache
    }
    List<PriorityClass> classes = state.priorityClasses();
    dropExpired();
    Snapshot cluster = snapshot;
    if (cluster == null || changes.isEmpty() || cluster.changes() != changes.getAsLong()
        || cluster.heldVersion() != heldVersion) {
      cluster = snapshot(changes, cached, classes);  // the caches' jobs alone: it serves other callers too
    }
    Map<String, List<QueuePlan.Running>> runningByQueue = cluster.runningByQueue();
    Map<String, List<Job>> jobsByOwner = cluster.jobsByOwner();
    Set<String> ranksAllSucceeded = cluster.ranksAllSucceeded();
    List<QueuePlan.Running> running = runningByQueue.getOrDefault(queueName, List.of());
    List<QueuePlan.Member> cohort = new ArrayList<>();
    String cohortName = queue.getSpec().cohort();
    if (cohortName != null) {
      for (TrainingQueue other : state.queues()) {
        String otherName = other.getMetadata().getName();
        if (!otherName.equals(queueName) && other.getSpec() != null && cohortName.equals(other.getSpec().cohort())) {
          cohort.add(new QueuePlan.Member(otherName, other.getSpec(), runningByQueue.getOrDefault(otherName, List.of()),
              stillHead(heads.get(otherName), otherName, jobs)));
        }
      }
    }

    Set<String> holding = new HashSet<>();
    running.stream().filter(r -> !r.stopping()).forEach(r -> holding.add(r.key()));
    String self = job == null ? null : key(job);  // asking or leaving: added below, or not at all
    List<QueuePlan.Waiting> waitingStages = new ArrayList<>();
    for (Map.Entry<String, MultimodalPretrainJob> entry : jobs.entrySet()) {
      String otherKey = entry.getKey();
      MultimodalPretrainJob other = entry.getValue();
      OptionalInt priority = Priorities.resolve(other.getSpec().scheduling().priorityClassName(), classes);
      if (otherKey.equals(self) || !inQueue(other, queueName) || holding.contains(otherKey) || backingOff(other)
          || !admitsNamespace(queue, other.getMetadata().getNamespace()) || priority.isEmpty()) {
        continue;
      }
      List<Job> own = jobsByOwner.getOrDefault(otherKey, List.of());
      boolean between = other.getStatus().getQueue().position() == null
          && other.getStatus().getPhase() != JobPhase.AwaitingPromotion;
      StageSpec next = stage(other, nextStage(other, own, ranksAllSucceeded));
      if (next != null && runtimeAdmission(next).refused()) {
        continue;  // its pods would be refused: admit() refuses it, and it holds no place
      }
      Gang gang = next == null ? null : gang(next);
      if (gang != null && (other.getStatus().getQueue().position() != null || between)) {
        waitingStages.add(new QueuePlan.Waiting(otherKey, priority.getAsInt(), created(other), gang));
      }
    }
    if (asked != null) {
      waitingStages.add(new QueuePlan.Waiting(key(job), priority(job, classes), created(job), asked));
    }

    QueuePlan.Result first = QueuePlan.plan(queueName, queue.getSpec(), waitingStages, running, roomKept(cluster), cohort);
    // What preemptors gave up goes to the stages behind them now, not at the cluster's next change.
    while (giveUpRoom(queueName, first)) {
      first = QueuePlan.plan(queueName, queue.getSpec(), waitingStages, running, roomKept(cluster), cohort);
    }
    QueuePlan.Result plan = first;
    String asking = asked == null ? null : self;
    writeQueueStatus(queueName, queue.getSpec(), plan, running, asking, asked);
    List<String> admissible = plan.verdicts().entrySet().stream()
        .filter(v -> v.getValue() instanceof QueuePlan.Admit && !v.getKey().equals(asking))
        .map(Map.Entry::getKey).toList();
    // A stage the plan finds must stop others is woken too: only its own reconcile marks its victims.
    List<String> toPreempt = plan.verdicts().entrySet().stream()
        .filter(v -> v.getValue() instanceof QueuePlan.Preempt preempt && !v.getKey().equals(asking)
            && preempt.victims().stream().anyMatch(victim -> !victim.stopping()))
        .map(Map.Entry::getKey).toList();
    // Only what this plan looked at leaves the waiting: a job the caches do not yet show in the queue
    // (its Queued status written but not heard of) stays, or no later change would wake it.
    Set<String> considered = new HashSet<>();
    waitingStages.forEach(w -> considered.add(w.key()));
    running.forEach(r -> considered.add(r.key()));
    waiting.removeIf(k -> considered.contains(k) && !plan.pending().contains(k) && !admissible.contains(k));
    waiting.addAll(plan.pending());
    waiting.addAll(admissible);
    admissible.forEach(wake);
    toPreempt.forEach(wake);
    Map<String, QueuePlan.Waiting> askedFor = new HashMap<>();
    waitingStages.forEach(w -> askedFor.put(w.key(), w));
    heads.put(queueName, plan.head());
    if (version.isPresent()) {
      Instant expire = Stream.of(
          reservations.values().stream().map(r -> r.at().plus(RESERVATION_TTL)),
          handedOut.values().stream().map(h -> h.at().plus(HANDED_OUT_TTL)),
          setAside.values().stream().map(k -> k.at().plus(SET_ASIDE_TTL))).flatMap(s -> s)
          .min(Instant::compareTo).orElse(Instant.MAX);
      plans.put(queueName, new MadePlan(version.getAsLong(), reservationsVersion, Instant.now(clock), askedFor, expire,
          plan));
    }
    return plan;
  }

  /**
   * Room kept for these preemptors of the queue is kept no more: the plan found they wait with no
   * use for it (at the head without preempting, or behind a head they cannot pass). Their victims
   * stay named, so that one that waits for them again asks for room again. Returns whether any
   * room was given up. One the plan did not see (its Queued status not yet in the cache) keeps
   * its room: it leaves through forget().
   */
  private boolean giveUpRoom(String queueName, QueuePlan.Result plan) {
    boolean givenUp = false;
    for (Map.Entry<String, SetAside> entry : setAside.entrySet()) {
      SetAside kept = entry.getValue();
      if (kept.queue().equals(queueName) && plan.roomNotNeeded().contains(entry.getKey()) && !kept.byNode().isEmpty()) {
        entry.setValue(new SetAside(kept.queue(), Map.of(), kept.victims(), kept.at()));
        givenUp = true;
        LOG.debugf("room kept for %s on %s given up: %s", entry.getKey(), kept.byNode().keySet(),
            plan.verdicts().get(entry.getKey()));
      }
    }
    if (givenUp) {
      reservationsVersion++;
    }
    return givenUp;
  }

  /** The snapshot's room with what is kept for preemptors set aside. */
  private ClusterRoom roomKept(Snapshot cluster) {
    ClusterRoom room = cluster.room().copy();
    // After everything that holds room: only what is free now, the rest as its victims give it back.
    setAside.forEach((preemptor, kept) -> kept.byNode().forEach((node, held) -> room.setAside(preemptor, node, held,
        kept.victims())));
    return room;
  }

  /**
   * What every plan reads of the cluster, from the caches as they are now: the room nodes have once
   * what holds it (pods, admitted pods not yet bound, reservations) is taken, what runs in each
   * queue, each job's trainer Jobs, and the attempts whose ranks all succeeded. Kept for the plans
   * that follow until the caches, the reservations or the victims handed out change
   * ({@link #heldVersion}): {@link #replan} plans every queue from one.
   */
  private Snapshot snapshot(OptionalLong changes, Map<String, MultimodalPretrainJob> jobs, List<PriorityClass> classes) {
    List<Job> trainerJobs = state.trainerJobs();
    List<Pod> pods = state.pods();
    dropArrivedReservations(trainerJobs);
    ClusterRoom room = ClusterRoom.of(state.nodes(), pods);
    // Grouped once: a decision must not scan every pod for every Job, nor every Job for every job.
    Map<String, List<Pod>> trainerPods = new LinkedHashMap<>();
    for (Pod pod : pods) {
      if (Labels.TRAINER.equals(Labels.get(pod, Labels.COMPONENT)) && !ClusterRoom.terminal(pod)) {
        trainerPods.computeIfAbsent(attemptKey(pod), k -> new ArrayList<>()).add(pod);
      }
    }
    // Only an attempt whose Job has not finished can need its succeeded ranks; the pods of finished
    // ones pile up all run long, so they are passed over by their job's name before any key is built.
    Set<String> unfinished = new HashSet<>();
    trainerJobs.stream().filter(j -> !finished(j)).forEach(j -> unfinished.add(Labels.get(j, Labels.JOB)));
    Map<String, Set<Integer>> succeededRanks = new HashMap<>();
    for (Pod pod : state.succeededStagePods()) {
      if (unfinished.contains(Labels.get(pod, Labels.JOB))) {
        succeededRanks.computeIfAbsent(attemptKey(pod), k -> new HashSet<>()).add(StageJobManifest.completionIndex(pod));
      }
    }
    Map<String, List<Job>> jobsByOwner = new HashMap<>();
    trainerJobs.forEach(j -> jobsByOwner.computeIfAbsent(ownerKey(j), k -> new ArrayList<>()).add(j));
    // What each Builtin queue runs: this queue's stages, and its cohort's (GPUs they lend and borrow).
    Map<String, List<QueuePlan.Running>> runningByQueue = new HashMap<>();
    Set<String> ranksAllSucceeded = new HashSet<>();
    Set<String> unfinishedAttempts = new HashSet<>();
    for (Job attempt : trainerJobs) {
      if (finished(attempt)) {
        continue;  // most of them, late in a long run: passed over before any key is built
      }
      unfinishedAttempts.add(attempt.getMetadata().getNamespace() + "/" + attempt.getMetadata().getName());
      MultimodalPretrainJob owner = jobs.get(ownerKey(attempt));
      if (owner == null) {
        continue;
      }
      Gang gang = gang(owner, Labels.get(attempt, Labels.STAGE));
      if (gang == null) {
        continue;
      }
      Set<Integer> done = succeededRanks.getOrDefault(attemptKey(attempt), Set.of());
      if (done.size() >= gang.pods()) {
        ranksAllSucceeded.add(attemptKey(attempt));  // it holds nothing, though its Job may not say Complete yet
        continue;
      }
      List<Pod> attemptPods = trainerPods.getOrDefault(attemptKey(attempt), List.of());
      Map<String, ResourceList> byNode = heldByNode(attemptPods);
      // What its unbound ranks hold on their planned nodes is freed by stopping it too.
      holdUnbound(room, gang, StageJobManifest.placement(attempt), attemptPods, done)
          .forEach((node, held) -> byNode.merge(node, held, ResourceList::plus));
      if (builtin(owner)) {
        String attemptName = attempt.getMetadata().getNamespace() + "/" + attempt.getMetadata().getName();
        boolean marked = attempt.getMetadata().getDeletionTimestamp() != null || annotation(attempt, PREEMPTED_BY) != null;
        if (marked) {
          handedOut.remove(attemptName);
        }
        runningIn(runningByQueue, owner).add(new QueuePlan.Running(ownerKey(attempt), attemptName, priority(owner, classes),
            created(attempt), gang, byNode, marked || handedOut.containsKey(attemptName)));
      }
    }
    if (handedOut.keySet().retainAll(unfinishedAttempts)) {
      heldChanged();  // victims that ended or went before their mark was seen: nothing is left to stop
    }
    // Pods of attempts whose Job is already gone still hold GPUs until they exit; pods of a reserved
    // stage whose Job the cache has not shown yet are the reservation's, not a stopping attempt.
    Set<String> podsOf = new HashSet<>();
    trainerPods.values().forEach(attemptPods -> podsOf.add(Labels.get(attemptPods.getFirst(), Labels.JOB)));
    trainerJobs.stream().filter(j -> podsOf.contains(Labels.get(j, Labels.JOB))).forEach(j -> trainerPods.remove(attemptKey(j)));
    Map<String, List<Pod>> reservedPods = new HashMap<>();
    trainerPods.forEach((attempt, attemptPods) -> {
      Pod first = attemptPods.getFirst();
      String stageKey = first.getMetadata().getNamespace() + "/" + Labels.get(first, Labels.JOB) + "/"
          + Labels.get(first, Labels.STAGE);
      if (reservations.containsKey(stageKey)) {
        reservedPods.computeIfAbsent(stageKey, k -> new ArrayList<>()).addAll(attemptPods);
        return;
      }
      // Released but unbound, their Job gone and they not yet: the scheduler still binds them where they were pinned.
      Map<String, ResourceList> byNode = heldByNode(attemptPods);
      for (Pod pod : attemptPods) {
        String hostname = pod.getSpec().getNodeSelector() == null ? null
            : pod.getSpec().getNodeSelector().get(StageJobManifest.HOSTNAME_LABEL);
        if (pod.getSpec().getNodeName() == null && hostname != null && pod.getMetadata().getDeletionTimestamp() == null
            && !StageJobManifest.gated(pod)) {
          ResourceList requested = ResourceList.requestedBy(pod);
          String node = room.holdOnHostname(hostname, requested);
          if (node != null) {
            byNode.merge(node, requested, ResourceList::plus);  // and its stop frees it there
          }
        }
      }
      MultimodalPretrainJob owner = jobs.get(first.getMetadata().getNamespace() + "/" + Labels.get(first, Labels.JOB));
      if (owner != null && builtin(owner)) {
        ResourceList held = attemptPods.stream().map(ResourceList::requestedBy).reduce(ResourceList.NONE, ResourceList::plus);
        // Its Job is gone and its pods already stopping: named still, so that what they give back
        // goes to the preemptor they were stopped for.
        Gang stopping = new Gang(1, held, stageProduct(owner, Labels.get(first, Labels.STAGE)), null, null);
        String attemptLabel = Labels.get(first, Labels.ATTEMPT);
        String attemptName = attemptLabel == null ? "" : first.getMetadata().getNamespace() + "/"
            + Names.attemptJob(owner, Labels.get(first, Labels.STAGE), Integer.parseInt(attemptLabel));
        runningIn(runningByQueue, owner).add(new QueuePlan.Running(key(owner), attemptName, priority(owner, classes),
            Instant.EPOCH, stopping, byNode, true));
      }
    });
    for (Reservation reservation : reservations.values()) {
      // Its pods may be in the pod cache before its Job is in the Job cache: those bound count once, as pods.
      holdUnbound(room, reservation.gang(), reservation.nodes(), reservedPods.getOrDefault(
          reservation.namespace() + "/" + reservation.job() + "/" + reservation.stage(), List.of()), Set.of());
      runningByQueue.computeIfAbsent(reservation.queue(), k -> new ArrayList<>()).add(new QueuePlan.Running(
          reservation.namespace() + "/" + reservation.job(), "", reservation.priority(), reservation.at(),
          reservation.gang(), Map.of(), false));
    }
    Map<String, List<QueuePlan.Running>> running = new HashMap<>();
    runningByQueue.forEach((queue, stages) -> running.put(queue, List.copyOf(stages)));
    Snapshot made = new Snapshot(changes.orElse(-1), heldVersion, room, running, jobsByOwner,
        ranksAllSucceeded);
    snapshot = changes.isPresent() ? made : null;
    return made;
  }

  /**
   * What admitted pods not yet bound will take: on the nodes they were planned on (returned by
   * node), or (an attempt from before placements) on any nodes that fit.
   */
  private static Map<String, ResourceList> holdUnbound(ClusterRoom room, Gang gang, List<String> placement,
      List<Pod> pods, Set<Integer> succeeded) {
    Set<Integer> bound = new HashSet<>(succeeded);
    for (Pod pod : pods) {
      if (pod.getSpec().getNodeName() != null && !ClusterRoom.terminal(pod)) {
        bound.add(StageJobManifest.completionIndex(pod));
      }
    }
    Map<String, ResourceList> held = new LinkedHashMap<>();
    if (placement.size() != gang.pods()) {
      room.reserve(gang.withPods(Math.max(0, gang.pods() - bound.size())));
      return held;
    }
    for (int rank = 0; rank < placement.size(); rank++) {
      if (!bound.contains(rank)) {
        room.hold(placement.get(rank), gang.perPod());
        held.merge(placement.get(rank), gang.perPod(), ResourceList::plus);
      }
    }
    return held;
  }

  /** A stage pod that ended Succeeded: its rank is done. */
  static boolean succeededStagePod(Pod pod) {
    return Labels.TRAINER.equals(Labels.get(pod, Labels.COMPONENT)) && pod.getStatus() != null
        && "Succeeded".equals(pod.getStatus().getPhase());
  }

  /**
   * Drops reservations that waited too long for their Job, room kept for a preemptor that stopped
   * asking, and victims handed out whose mark never came (they are planned afresh).
   */
  private void dropExpired() {
    Instant now = Instant.now(clock);
    if (reservations.values().removeIf(r -> !now.isBefore(r.at().plus(RESERVATION_TTL)))
        | handedOut.values().removeIf(h -> !now.isBefore(h.at().plus(HANDED_OUT_TTL)))) {
      heldChanged();
    }
    if (setAside.values().removeIf(k -> !now.isBefore(k.at().plus(SET_ASIDE_TTL)))) {
      reservationsVersion++;
    }
  }

  /** Drops reservations whose Job arrived: the Job's pods hold what they took from then on. */
  private void dropArrivedReservations(List<Job> trainerJobs) {
    if (reservations.isEmpty()) {
      return;
    }
    Set<String> arrived = new HashSet<>();
    for (Job attempt : trainerJobs) {
      if (!finished(attempt)) {
        arrived.add(attempt.getMetadata().getNamespace() + "/" + Labels.get(attempt, Labels.JOB) + "/"
            + Labels.get(attempt, Labels.STAGE));
      }
    }
    if (reservations.keySet().removeIf(arrived::contains)) {
      heldChanged();
    }
  }

  /**
   * The queue as it is once this decision takes effect: what runs, plus the asking stage when it
   * is admitted; every other stage waits, even one the plan would admit when it next asks.
   */
  private void writeQueueStatus(String queue, TrainingQueueSpec spec, QueuePlan.Result plan,
      List<QueuePlan.Running> running, String asking, Gang asked) {
    boolean askingAdmitted = asking != null && plan.verdicts().get(asking) instanceof QueuePlan.Admit;
    List<String> admitted = new ArrayList<>(running.stream().map(QueuePlan.Running::key).distinct().toList());
    int gpus = running.stream().mapToInt(r -> r.gang().gpus()).sum();
    if (askingAdmitted) {
      admitted.add(asking);
      gpus += asked.gpus();
    }
    List<String> pending = plan.verdicts().keySet().stream().filter(k -> !(askingAdmitted && k.equals(asking))).toList();
    TrainingQueueStatus status = new TrainingQueueStatus();
    status.setGpusInUse(gpus);
    if (spec.cohort() != null && spec.gpuQuota() != null) {
      status.setGpusBorrowed(Math.max(0, gpus - spec.gpuQuota()));
    }
    if (!spec.resourceQuotas().isEmpty()) {
      Map<String, Long> inUse = new TreeMap<>();
      Map<String, Long> borrowed = new TreeMap<>();
      spec.resourceQuotas().forEach((resource, quota) -> {
        long used = running.stream().mapToLong(r -> r.gang().total(resource)).sum()
            + (askingAdmitted ? asked.total(resource) : 0);
        inUse.put(resource, used);
        borrowed.put(resource, Math.max(0, used - ResourceList.thousandths(quota.nominal())));
      });
      status.setResourcesInUse(quantities(inUse));
      if (spec.cohort() != null) {
        status.setResourcesBorrowed(quantities(borrowed));
      }
    }
    status.setAdmittedCount(admitted.size());
    status.setPendingCount(pending.size());
    status.setAdmitted(admitted.stream().limit(TrainingQueueStatus.LISTED).toList());
    status.setPending(pending.stream().limit(TrainingQueueStatus.LISTED).toList());
    TrainingQueueStatus last = lastWritten.get(queue);
    if (last == null || !sameStatus(last, status)) {
      queueStatus.accept(queue, status);
      lastWritten.put(queue, status);
    }
  }

  /** Thousandths of each resource as Kubernetes quantities. */
  private static Map<String, String> quantities(Map<String, Long> thousandths) {
    ResourceList amounts = new ResourceList(thousandths);
    Map<String, String> quantities = new TreeMap<>();
    thousandths.keySet().forEach(resource -> quantities.put(resource, amounts.quantity(resource)));
    return quantities;
  }

  private static boolean sameStatus(TrainingQueueStatus a, TrainingQueueStatus b) {
    return Objects.equals(a.getGpusInUse(), b.getGpusInUse()) && Objects.equals(a.getGpusBorrowed(), b.getGpusBorrowed())
        && Objects.equals(a.getResourcesInUse(), b.getResourcesInUse())
        && Objects.equals(a.getResourcesBorrowed(), b.getResourcesBorrowed())
        && Objects.equals(a.getAdmitted(), b.getAdmitted())
        && Objects.equals(a.getPending(), b.getPending()) && Objects.equals(a.getAdmittedCount(), b.getAdmittedCount())
        && Objects.equals(a.getPendingCount(), b.getPendingCount());
  }

  /** The head a queue's last plan found, while it is still a job in that queue (not deleted, moved or suspended). */
  private static QueuePlan.Waiting stillHead(QueuePlan.Waiting head, String queue, Map<String, MultimodalPretrainJob> jobs) {
    MultimodalPretrainJob job = head == null ? null : jobs.get(head.key());
    return job != null && inQueue(job, queue) ? head : null;
  }

  /**
   * A job that waits in this queue, or was admitted from it and is between two attempts (its stage
   * done and the next not yet asked for, or an attempt failed): such a job keeps its place, and
   * the stage it will ask for next counts as waiting.
   */
  private static boolean inQueue(MultimodalPretrainJob job, String queue) {
    var status = job.getStatus();
    if (status == null || status.getQueue() == null || !queue.equals(status.getQueue().name())) {
      return false;
    }
    return memberOf(job, queue) && !job.getSpec().suspend()
        && (status.getPhase() == null || !status.getPhase().isFinished()) && status.getPhase() != JobPhase.Suspended
        && job.getMetadata().getDeletionTimestamp() == null;
  }

  private boolean admitsNamespace(TrainingQueue queue, String namespace) {
    return QueueNamespaces.admits(queue.getSpec(), namespace, state.namespaceLabels(namespace));
  }

  /**
   * The job's priority from its PriorityClass; a job admitted before its class was deleted counts
   * at the cluster's default priority (nothing here says what the class's value was).
   */
  private static int priority(MultimodalPretrainJob job, List<PriorityClass> classes) {
    return Priorities.resolve(job.getSpec().scheduling().priorityClassName(), classes)
        .orElseGet(() -> Priorities.resolve(null, classes).getAsInt());
  }

  /** A stage of the job waits out a backoff after startup failures: it neither waits in line nor holds anything back. */
  private boolean backingOff(MultimodalPretrainJob job) {
    Instant now = Instant.now(clock);
    return job.getStatus().getStages() != null && job.getStatus().getStages().stream()
        .anyMatch(s -> s.getRequeueTime() != null && now.isBefore(Instant.parse(s.getRequeueTime())));
  }

  /**
   * The job belongs to this Kiln queue: it names it and Kiln admits it. A Kueue-mode job naming a
   * LocalQueue of the same name is Kueue's: its pods still hold GPUs on the nodes, not quota here.
   */
  private static boolean memberOf(MultimodalPretrainJob job, String queue) {
    return builtin(job) && queue.equals(job.getSpec().scheduling().queue());
  }

  /** Kiln admits the job (its queue is a TrainingQueue). */
  private static boolean builtin(MultimodalPretrainJob job) {
    return job.getSpec().scheduling().mode() == SchedulingSpec.Mode.BUILTIN;
  }

  /** Where the stages of the job's queue are listed. */
  private static List<QueuePlan.Running> runningIn(Map<String, List<QueuePlan.Running>> byQueue,
      MultimodalPretrainJob job) {
    return byQueue.computeIfAbsent(job.getSpec().scheduling().queue(), k -> new ArrayList<>());
  }

  /**
   * The first stage of the job that has not completed an attempt (its Job Complete, or its ranks
   * all succeeded: {@code ranksAllSucceeded}): the one it asks for next.
   */
  private static String nextStage(MultimodalPretrainJob job, List<Job> own, Set<String> ranksAllSucceeded) {
    for (StageSpec stage : job.getSpec().stages()) {
      boolean done = own.stream().anyMatch(j -> stage.name().equals(Labels.get(j, Labels.STAGE))
          && (completed(j) || ranksAllSucceeded.contains(attemptKey(j))));
      if (!done) {
        return stage.name();
      }
    }
    return null;
  }

  private static boolean completed(Job job) {
    return hasCondition(job, "Complete");
  }

  private Gang gang(MultimodalPretrainJob job, String stageName) {
    StageSpec stage = stage(job, stageName);
    return stage == null ? null : gang(stage);
  }

  /** The job's stage of that name, or null. */
  private static StageSpec stage(MultimodalPretrainJob job, String stageName) {
    return job.getSpec().stages().stream().filter(s -> s.name().equals(stageName)).findFirst().orElse(null);
  }

  /**
   * A stage's gang as its pods will be admitted: its RuntimeClass's overhead on each pod, that
   * class's node selector and tolerations with the stage's own (a class that refuses the pods
   * adds nothing here; admit() refuses the stage).
   */
  private Gang gang(StageSpec stage) {
    var pod = stage.pod();
    RuntimeClasses.Admitted runtime = runtimeAdmission(stage);
    ResourceList perPod = ResourceList.pod(StageJobManifest.podRequests(stage));
    if (runtime.refused()) {
      return new Gang(stage.resources().nodes(), perPod, stage.resources().gpuProduct(),
          pod == null ? null : pod.nodeSelector(), pod == null ? null : pod.tolerations(), stage.resources().topology());
    }
    return new Gang(stage.resources().nodes(), perPod.plus(ResourceList.of(runtime.overhead())),
        stage.resources().gpuProduct(), runtime.nodeSelector(), runtime.tolerations(), stage.resources().topology());
  }

  /** What the RuntimeClass admission plugin makes of the stage's pods. */
  private RuntimeClasses.Admitted runtimeAdmission(StageSpec stage) {
    var pod = stage.pod();
    String className = pod != null && pod.runtimeClassName() != null ? pod.runtimeClassName()
        : stage.resources().gpusPerNode() > 0 ? gpuRuntimeClassName : null;
    return RuntimeClasses.admit(className, null, pod == null ? null : pod.nodeSelector(),
        pod == null ? null : pod.tolerations(), className == null || className.isEmpty() ? List.of()
            : state.runtimeClasses());
  }

  private String stageProduct(MultimodalPretrainJob job, String stageName) {
    Gang gang = gang(job, stageName);
    return gang == null ? null : gang.product();
  }

  private static Map<String, ResourceList> heldByNode(List<Pod> pods) {
    Map<String, ResourceList> byNode = new LinkedHashMap<>();
    for (Pod pod : pods) {
      if (pod.getSpec().getNodeName() != null && !ClusterRoom.terminal(pod)) {
        byNode.merge(pod.getSpec().getNodeName(), ResourceList.requestedBy(pod), ResourceList::plus);
      }
    }
    return byNode;
  }

  static boolean finished(Job job) {
    return hasCondition(job, "Complete") || hasCondition(job, "Failed");
  }

  private static boolean hasCondition(Job job, String type) {
    return job.getStatus() != null && job.getStatus().getConditions() != null && job.getStatus().getConditions().stream()
        .anyMatch(c -> type.equals(c.getType()) && "True".equals(c.getStatus()));
  }

  private static String key(MultimodalPretrainJob job) {
    return job.getMetadata().getNamespace() + "/" + job.getMetadata().getName();
  }

  private static String ownerKey(HasMetadata child) {
    return child.getMetadata().getNamespace() + "/" + Labels.get(child, Labels.JOB);
  }

  /** namespace/job/stage/attempt, from the labels the operator puts on attempt Jobs and their pods. */
  private static String attemptKey(HasMetadata child) {
    return ownerKey(child) + "/" + Labels.get(child, Labels.STAGE) + "/" + Labels.get(child, Labels.ATTEMPT);
  }

  private static String annotation(HasMetadata object, String key) {
    return object.getMetadata().getAnnotations() == null ? null : object.getMetadata().getAnnotations().get(key);
  }

  private static Instant created(HasMetadata object) {
    String created = object.getMetadata().getCreationTimestamp();
    return created == null ? Instant.EPOCH : Instant.parse(created);
  }
}
