package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.local.ApiCommit;
import dev.kiln.local.LocalCluster;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code kiln bench operator --cohorts}: every job run to the end through four Builtin queues
 * that share the cluster's GPUs in one cohort (each nominally a quarter; borrowing, reclaim of lent
 * GPUs and lower-priority preemption), with 1- and 2-node gangs of 4 or 8 GPUs, on nodes whose
 * cpu is scarcer than their GPUs (two 4-GPU pods do not fit one 8-GPU node by cpu). The queues'
 * demand is uneven (40, 30, 20 and 10 % of the jobs) and half of the smallest queue's jobs come
 * late, so the others borrow its share and give it back. Stand-in trainer pods run nothing for
 * {@code --train-seconds}.
 */
final class CohortBench implements Callable<Integer> {

  static final List<String> QUEUES = List.of("lab-a", "lab-b", "lab-c", "lab-d");
  static final String HIGH = "bench-high";
  /** A node's cpu: one 8-GPU pod (32 cpu) fits, two 4-GPU pods (24 cpu each) do not. */
  static final int NODE_CPUS = 44;
  /** A pod still Pending this long after it was created counts its gang as partly pending (the jobs' startupDeadlineSeconds). */
  static final int STARTUP_DEADLINE_SECONDS = 120;
  /** The operator's mark on a trainer Job stopped for another job (namespace/name). */
  static final String PREEMPTED_BY = "kiln.dev/preempted-by";
  /** The operator's label on trainer Jobs and pods: which attempt of the stage they are. */
  static final String ATTEMPT_LABEL = "kiln.dev/attempt";

  private final int jobs;
  private final int trainSeconds;
  private final int settleMinutes;
  private final boolean keep;
  private final CommandSpec spec;

  /** Per trainer pod (namespace/name): when it was created, bound to a node, and ended or deleted; its job and GPUs. */
  private final Map<String, PodTimes> pods = new ConcurrentHashMap<>();
  /** Each trainer Job as it appeared: when, and for which job. */
  private final List<JobAdded> jobsAdded = java.util.Collections.synchronizedList(new ArrayList<>());
  /** Each data Job (by uid) when it was first seen complete, and for which job: a job may be admitted once its last is. */
  private final Map<String, DataJobDone> dataJobsDone = new ConcurrentHashMap<>();

  /** Per preemptor (job name): the attempts (job/attempt) stopped for it, and when each was first seen marked. */
  private final Map<String, Map<String, Long>> victims = new ConcurrentHashMap<>();

  private record JobAdded(long at, String job) {}

  private record DataJobDone(long at, String job) {}

  /**
   * A trainer Job {@code ms} after its admission became possible, {@code at} nanos, from {@code from}: a
   * GPU release, its victims' release (it preempted for its room), or its data becoming ready.
   */
  record Latency(String job, long ms, long at, String from) {

    boolean preemptor() {
      return from.equals(VICTIMS_RELEASE);
    }
  }

  private static final String VICTIMS_RELEASE = "its victims' release";

  private static final class PodTimes {
    volatile long created;
    volatile long bound;
    volatile long ended;
    volatile String job;
    volatile String attempt;
    volatile int gpus;
  }

  CohortBench(int jobs, int trainSeconds, int settleMinutes, boolean keep, CommandSpec spec) {
    this.jobs = jobs;
    this.trainSeconds = trainSeconds;
    this.settleMinutes = settleMinutes;
    this.keep = keep;
    this.spec = spec;
  }

  @Override
  public Integer call() throws Exception {
    int gpuNodes = Math.max(4, jobs / 16);
    int quota = gpuNodes * 8 / QUEUES.size();
    Path folder = Files.createTempDirectory("kiln-bench-cohorts");
    LocalCluster.Options options = LocalCluster.Options.in(folder).withGpuNodes(gpuNodes).withGpuNodeCpus(NODE_CPUS)
        .withStandInContainers().withOperatorSettings(Map.of("KILN_OPERATOR_PROGRESS_INTERVAL_SECONDS", "30"));
    Map<String, Object> result = new LinkedHashMap<>();
    try (LocalCluster cluster = LocalCluster.start(options)) {
      KubernetesClient client = cluster.client();
      ExecutorService commits = listen(cluster);
      client.persistentVolumeClaims().inNamespace(LocalCluster.NAMESPACE).resource(new PersistentVolumeClaimBuilder()
          .withNewMetadata().withName(OperatorBench.DATA_CLAIM).endMetadata()
          .withNewSpec().withAccessModes("ReadWriteMany").withNewResources()
            .addToRequests("storage", new Quantity("1Gi")).endResources().endSpec()
          .build()).create();
      client.scheduling().v1().priorityClasses().resource(new PriorityClassBuilder().withNewMetadata().withName(HIGH)
          .endMetadata().withValue(100).build()).create();
      for (String name : QUEUES) {
        TrainingQueue queue = new TrainingQueue();
        queue.setMetadata(new ObjectMetaBuilder().withName(name).build());
        queue.setSpec(new TrainingQueueSpec(quota, null, TrainingQueueSpec.Strategy.BEST_EFFORT_FIFO,
            TrainingQueueSpec.Preemption.LOWER_PRIORITY, null, "bench", null, null, TrainingQueueSpec.Reclaim.ANY));
        client.resource(queue).create();
      }

      long start = System.nanoTime();
      List<Integer> late = new ArrayList<>();
      for (int i = 0; i < jobs; i++) {
        if (queueOf(i).equals("lab-d") && i >= jobs / 2) {
          late.add(i);  // its queue's share is borrowed meanwhile, and reclaimed when these come
        } else {
          client.resource(job(i)).create();
        }
      }
      long rssMb = 0;
      long lateAt = start + TimeUnit.SECONDS.toNanos(5L * trainSeconds);
      long deadline = start + TimeUnit.MINUTES.toNanos(settleMinutes);
      while (true) {
        if (!late.isEmpty() && System.nanoTime() > lateAt) {
          for (int i : late) {
            client.resource(job(i)).create();
          }
          late.clear();
        }
        rssMb = Math.max(rssMb, OperatorBench.residentMb(cluster.operator().pid()));
        Map<JobPhase, Long> phases = phases(client);
        if (phases.getOrDefault(JobPhase.Failed, 0L) > 0 || phases.getOrDefault(JobPhase.Succeeded, 0L) == jobs
            && late.isEmpty()) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("timed out after " + settleMinutes + " min: " + phases);
        }
        Thread.sleep(2_000);
      }
      double wallSeconds = (System.nanoTime() - start) / 1e9;
      commits.shutdown();  // what was stored until now is read; what comes after is not
      if (!commits.awaitTermination(1, TimeUnit.MINUTES)) {
        throw new IllegalStateException("the API server's changes were not all read within a minute");
      }
      List<MultimodalPretrainJob> all = client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE)
          .list().getItems();

      result.put("bench", "operator-cohorts");
      result.put("jobs", jobs);
      result.put("gpu_nodes", gpuNodes);
      result.put("node_cpus", NODE_CPUS);
      result.put("queues", QUEUES.size());
      result.put("nominal_gpus_per_queue", quota);
      result.put("train_seconds", trainSeconds);
      result.put("wall_s", Math.round(wallSeconds));
      result.put("succeeded", all.stream().filter(j -> j.getStatus() != null && j.getStatus().getPhase() == JobPhase.Succeeded).count());
      result.put("failed", all.stream().filter(j -> j.getStatus() != null && j.getStatus().getPhase() == JobPhase.Failed).count());
      result.put("preempted_jobs", all.stream().filter(CohortBench::disrupted).count());
      result.put("gangs", gangs().size());
      result.put("gangs_partly_pending", partlyPending());
      List<Latency> admissions = admissionLatencies();
      List<Long> latencies = admissions.stream().map(Latency::ms).toList();
      result.put("admissions", latencies.size());
      result.put("admission_from", "the later of the job's data ready and the release of GPUs before its trainer Job:"
          + " for a job that preempted, the last of its victims' pods to go; for others, the last trainer pod to go");
      result.put("admission_p50_ms", OperatorBench.percentile(latencies, 0.50));
      result.put("admission_p99_ms", OperatorBench.percentile(latencies, 0.99));
      for (boolean preemptors : List.of(true, false)) {
        List<Long> some = admissions.stream().filter(a -> a.preemptor() == preemptors).map(Latency::ms).toList();
        String kind = preemptors ? "preemptors" : "others";
        result.put("admissions_" + kind, some.size());
        result.put("admission_p50_ms_" + kind, OperatorBench.percentile(some, 0.50));
        result.put("admission_p99_ms_" + kind, OperatorBench.percentile(some, 0.99));
      }
      // Where to look next: the slowest, with when they came and what made them possible.
      result.put("admission_slowest", admissions.stream().sorted(java.util.Comparator.comparingLong(Latency::ms).reversed())
          .limit(5).map(a -> "%s %d ms at %d s after %s".formatted(a.job(), a.ms(), TimeUnit.NANOSECONDS.toSeconds(a.at()
              - start), a.from())).toList());
      if (keep) {
        StringBuilder table = new StringBuilder("job\tms\tat_s\tafter\n");
        admissions.forEach(a -> table.append(a.job()).append('\t').append(a.ms()).append('\t')
            .append(TimeUnit.NANOSECONDS.toMillis(a.at() - start) / 1000.0).append('\t').append(a.from()).append('\n'));
        Files.writeString(folder.resolve("admissions.tsv"), table);
      }
      result.put("rss_mb", rssMb);
      result.put("gpu_busy_fraction", Math.round(gpuSeconds(null) / (gpuNodes * 8.0 * wallSeconds) * 1000) / 1000.0);
      Map<String, Double> share = new LinkedHashMap<>();
      double total = gpuSeconds(null);
      for (String queue : QUEUES) {
        share.put(queue, Math.round(gpuSeconds(queue) / total * 1000) / 1000.0);
      }
      result.put("gpu_hours", Math.round(total / 3600 * 100) / 100.0);
      result.put("gpu_share_by_queue", share);
      result.put("job_share_by_queue", Map.of("lab-a", 0.4, "lab-b", 0.3, "lab-c", 0.2, "lab-d", 0.1));
      result.put("nominal_share", 1.0 / QUEUES.size());
      result.put("goal_gangs_partly_pending", 0);
      result.put("goal_admission_p99_ms", 1000);
      result.put("goal_rss_mb", 300);
    } catch (RuntimeException | InterruptedException e) {
      spec.commandLine().getErr().println("kiln bench operator --cohorts: " + e.getMessage() + "; the cluster's folder is"
          + " kept: " + folder + " (operator.log)");
      return 1;
    }
    if (keep) {
      spec.commandLine().getErr().println("kiln bench operator --cohorts: the cluster's folder is kept: " + folder
          + " (operator.log; admissions.tsv: each timed admission)");
    } else {
      OperatorBench.deleteTree(folder);
    }
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }

  /** 40, 30, 20 and 10 % of the jobs. */
  static String queueOf(int index) {
    int tenth = index % 10;
    return QUEUES.get(tenth < 4 ? 0 : tenth < 7 ? 1 : tenth < 9 ? 2 : 3);
  }

  /** One stage of 1 or 2 nodes of 4 or 8 GPUs; one job in seven of the high class. */
  private MultimodalPretrainJob job(int index) {
    int nodes = index % 4 < 2 ? 1 : 2;
    int gpus = index % 2 == 0 ? 8 : 4;
    String stage = """
              resources:
                nodes: %d
                gpusPerNode: %d
                cpu: "%d"
              pod:
                env:
                  - {name: STAND_IN_TRAIN_SECONDS, value: "%d"}
        """.formatted(nodes, gpus, gpus == 8 ? 32 : 24, trainSeconds);
    String scheduling = """
          scheduling:
            queue: %s
            startupDeadlineSeconds: %d
        """.formatted(queueOf(index), STARTUP_DEADLINE_SECONDS)
        + (index % 7 == 0 ? "    priorityClassName: " + HIGH + "\n" : "");
    return OperatorBench.benchJob("co-%05d".formatted(index), nodes * gpus, 1, stage, scheduling);
  }

  /**
   * Times every trainer Job, trainer pod and data Job by when the API server stored each change
   * (its audit time), not when a watch here delivered it: a watch falls behind in a burst, and a
   * release it delivered late read as an admission that waited for an older one.
   */
  private ExecutorService listen(LocalCluster cluster) {
    ExecutorService reader = Executors.newSingleThreadExecutor(runnable -> {
      Thread thread = new Thread(runnable, "bench-commits");
      thread.setDaemon(true);
      return thread;
    });
    cluster.onCommit(commit -> {
      if (!reader.isShutdown() && ("jobs".equals(commit.resource()) || "pods".equals(commit.resource()))) {
        try {
          reader.execute(() -> read(commit));  // in the order stored; parsed off the server's thread
        } catch (RejectedExecutionException e) {
          // the bench has stopped reading
        }
      }
    });
    return reader;
  }

  /** Records one stored change of a trainer Job or pod, or a data Job, at the time it was stored. */
  void read(ApiCommit commit) {
    long at = commit.nanoTime();
    if ("jobs".equals(commit.resource())) {
      if (commit.after() == null) {
        return;
      }
      Job job = Serialization.unmarshal(commit.after(), Job.class);
      var labels = job.getMetadata().getLabels();
      String owner = labels == null ? null : labels.get(LocalCluster.JOB_LABEL);
      if (owner == null) {
        return;
      }
      if (LocalCluster.TRAINER.equals(labels.get(LocalCluster.COMPONENT_LABEL))) {
        if (commit.before() == null) {
          jobsAdded.add(new JobAdded(at, owner));
        }
        var annotations = job.getMetadata().getAnnotations();
        String preemptor = annotations == null ? null : annotations.get(PREEMPTED_BY);
        if (preemptor != null) {
          victims.computeIfAbsent(preemptor.substring(preemptor.indexOf('/') + 1), k -> new ConcurrentHashMap<>())
              .putIfAbsent(owner + "/" + labels.get(ATTEMPT_LABEL), at);
        }
      } else if (job.getStatus() != null && job.getStatus().getConditions() != null && job.getStatus().getConditions()
          .stream().anyMatch(c -> "Complete".equals(c.getType()) && "True".equals(c.getStatus()))) {
        dataJobsDone.putIfAbsent(job.getMetadata().getUid(), new DataJobDone(at, owner));
      }
      return;
    }
    boolean deleted = commit.after() == null;
    String state = deleted ? commit.before() : commit.after();
    if (state == null) {
      return;
    }
    Pod pod = Serialization.unmarshal(state, Pod.class);
    var labels = pod.getMetadata().getLabels();
    if (labels == null || !LocalCluster.TRAINER.equals(labels.get(LocalCluster.COMPONENT_LABEL))) {
      return;
    }
    PodTimes times = pods.computeIfAbsent(pod.getMetadata().getName(), name -> {
      PodTimes created = new PodTimes();
      created.created = at;
      created.job = labels.get(LocalCluster.JOB_LABEL);
      created.attempt = labels.get(ATTEMPT_LABEL);
      created.gpus = gpus(pod);
      return created;
    });
    if (times.bound == 0 && pod.getSpec().getNodeName() != null && !deleted) {
      times.bound = at;
    }
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    // A pod never bound holds nothing once its deletion begins (the operator counts it so once the
    // victim's Job is gone, which its pods' deletion follows): that is its release, not the removal
    // of the Job controller's finalizer a pass later.
    boolean deletingUnbound = pod.getMetadata().getDeletionTimestamp() != null && pod.getSpec().getNodeName() == null;
    if (times.ended == 0 && (deleted || deletingUnbound || "Succeeded".equals(phase) || "Failed".equals(phase))) {
      times.ended = at;
    }
  }

  private static int gpus(Pod pod) {
    var requests = pod.getSpec().getContainers().getFirst().getResources().getRequests();
    Quantity gpus = requests == null ? null : requests.get("nvidia.com/gpu");
    return gpus == null ? 0 : gpus.getNumericalAmount().intValue();
  }

  private static Map<JobPhase, Long> phases(KubernetesClient client) {
    Map<JobPhase, Long> phases = new HashMap<>();
    for (MultimodalPretrainJob job : client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE)
        .list().getItems()) {
      if (job.getStatus() != null && job.getStatus().getPhase() != null) {
        phases.merge(job.getStatus().getPhase(), 1L, Long::sum);
      }
    }
    return phases;
  }

  private static boolean disrupted(MultimodalPretrainJob job) {
    return job.getStatus() != null && job.getStatus().getStages() != null && job.getStatus().getStages().stream()
        .anyMatch(s -> s.getDisruptions() != null && s.getDisruptions() > 0);
  }

  /** Trainer pods by gang (job/attempt). */
  private Map<String, List<PodTimes>> gangs() {
    Map<String, List<PodTimes>> gangs = new HashMap<>();
    pods.values().forEach(p -> gangs.computeIfAbsent(p.job + "/" + p.attempt, k -> new ArrayList<>()).add(p));
    return gangs;
  }

  /** Gangs with a pod that was Pending (not bound) longer than the startup deadline, or never bound while alive. */
  private long partlyPending() {
    long deadline = TimeUnit.SECONDS.toNanos(STARTUP_DEADLINE_SECONDS);
    return gangs().values().stream().filter(gang -> gang.stream().anyMatch(p -> {
      long boundOrGone = p.bound != 0 ? p.bound : p.ended != 0 ? p.ended : System.nanoTime();
      return boundOrGone - p.created > deadline;
    })).count();
  }

  /**
   * For each trainer Job: how long after admission became possible it appeared, that is after the
   * later of its job's data becoming ready and the release of the GPUs it took: for a job that
   * preempted for them, the last of its victims' pods to go before its Job (one never bound goes
   * when its deletion begins: it held nothing on a node); for others, the last
   * trainer pod of any job to go before it (a Job made with no release before it, onto an idle
   * cluster, is not counted). When room came from an earlier release than the last, this is shorter
   * than the real wait: a lower bound there.
   */
  List<Latency> admissionLatencies() {
    List<Long> releases = pods.values().stream().map(p -> p.ended).filter(t -> t != 0).sorted().toList();
    List<Latency> latencies = new ArrayList<>();
    List<JobAdded> added;
    synchronized (jobsAdded) {
      added = List.copyOf(jobsAdded);
    }
    for (JobAdded job : added) {
      long last = -1;
      for (long release : releases) {
        if (release > job.at()) {
          break;
        }
        last = release;
      }
      long previous = added.stream().filter(a -> a.job().equals(job.job()) && a.at() < job.at())
          .mapToLong(JobAdded::at).max().orElse(0);
      long victimsGone = victimsReleased(job, previous);
      boolean preempted = victimsGone >= 0;
      if (preempted) {
        last = victimsGone;
      }
      if (last >= 0) {
        long dataReady = dataJobsDone.values().stream().filter(d -> d.job().equals(job.job()) && d.at() <= job.at())
            .mapToLong(DataJobDone::at).max().orElse(last);
        long possible = Math.max(last, dataReady);
        latencies.add(new Latency(job.job(), TimeUnit.NANOSECONDS.toMillis(job.at() - possible), job.at(),
            possible != last ? "its data" : preempted ? VICTIMS_RELEASE : "a GPU release"));
      }
    }
    return latencies;
  }

  /**
   * When the last pod of the attempts stopped for the job between its trainer Jobs {@code previous}
   * and {@code added} went, or -1 when none was (or none of their pods went before that Job).
   */
  private long victimsReleased(JobAdded added, long previous) {
    Map<String, Long> stopped = victims.getOrDefault(added.job(), Map.of());
    return pods.values().stream().filter(p -> p.ended != 0 && p.ended <= added.at())
        .filter(p -> {
          Long marked = stopped.get(p.job + "/" + p.attempt);
          return marked != null && marked > previous && marked <= added.at();
        })
        .mapToLong(p -> p.ended).max().orElse(-1);
  }

  /** GPU-seconds trainer pods held from binding to their end, of one queue's jobs (all when null). */
  private double gpuSeconds(String queue) {
    double seconds = 0;
    for (PodTimes p : pods.values()) {
      if (p.bound == 0 || p.ended == 0 || queue != null && !queue.equals(queueOf(Integer.parseInt(p.job.substring(3))))) {
        continue;
      }
      seconds += (p.ended - p.bound) / 1e9 * p.gpus;
    }
    return seconds;
  }
}
