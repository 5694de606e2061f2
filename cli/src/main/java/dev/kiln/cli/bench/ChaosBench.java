package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.cli.run.StageMetrics;
import dev.kiln.local.ApiFaults;
import dev.kiln.local.LocalCluster;
import dev.kiln.local.OperatorProcess;
import dev.kiln.trainer.loop.StepMetrics;
import dev.kiln.trainer.synthetic.ShapesData;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Several small two-stage jobs through the local cluster while the operator is killed, its
 * watches are ended (410 Expired), trainer and data pods are killed and the API server fails a
 * share of the operator's requests, all at moments a seeded random schedule picks; then every job is deleted, the operator killed once more
 * meanwhile. One more job, its twin, runs beside them untouched by kills: a job survived the
 * chaos when its packed data and its loss at every step equal the twin's, bit for bit.
 */
@Command(name = "chaos", mixinStandardHelpOptions = true,
    description = "Jobs through the local cluster under operator, pod and API faults; counts what went wrong.")
public final class ChaosBench implements Callable<Integer> {

  @Option(names = "--seed", defaultValue = "1", description = "Seed of the fault schedule (default ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--jobs", defaultValue = "2", description = "Jobs under chaos, besides their twin (default ${DEFAULT-VALUE})")
  int jobs;

  @Option(names = "--chaos-seconds", defaultValue = "120",
      description = "How long faults are injected (default ${DEFAULT-VALUE}); the jobs then finish in peace")
  int chaosSeconds;

  @Option(names = "--api-fault-rate", defaultValue = "0.05",
      description = "Share of the operator's requests the API server fails (default ${DEFAULT-VALUE})")
  double apiFaultRate;

  @Option(names = "--timeout-minutes", defaultValue = "20", description = "Give up if the jobs have not finished by then")
  int timeoutMinutes;

  @Option(names = "--keep", description = "Keep the cluster's folder (logs, workspaces) after the run")
  boolean keep;

  @Spec
  CommandSpec spec;

  static final String DATA_CLAIM = "chaos-data";
  /** A local pod's root folder at the start of a JSON string: what the pod itself sees as {@code /}. */
  private static final java.util.regex.Pattern POD_ROOT = java.util.regex.Pattern.compile("\"[^\"]*/pods/[^/\"]+/[^/\"]+/root/");
  static final String TWIN = "twin";
  /** The operator's client gives up on an answer after 2 s (+2 s grace); a slow answer comes later than that. */
  static final Map<String, String> OPERATOR_TIMEOUTS = Map.of("KUBERNETES_REQUEST_TIMEOUT", "2000",
      "QUARKUS_KUBERNETES_CLIENT_REQUEST_TIMEOUT", "2S");
  static final Duration SLOW_BY = Duration.ofSeconds(6);
  /** Kills of one job's pods at most: its stages allow 10 restarts, its data Jobs a backoff limit of 3. */
  static final int TRAINER_KILLS_PER_JOB = 3;
  static final int DATA_KILLS_PER_JOB = 1;

  private final Map<String, Long> kills = new LinkedHashMap<>();

  {
    for (String fault : List.of("operator", "operator_exited", "trainer_pod", "data_pod")) {
      kills.put(fault, 0L);
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    Path folder = Files.createTempDirectory("kiln-bench-chaos");
    LocalCluster.Options options = LocalCluster.Options.in(folder.resolve("cluster")).withCpuNodes(jobs + 1)
        .withGpuNodes(0).withOperatorSettings(OPERATOR_TIMEOUTS);
    Map<String, Object> result = new LinkedHashMap<>();
    long started = System.nanoTime();
    try (LocalCluster cluster = LocalCluster.start(options)) {
      KubernetesClient client = cluster.client();
      ShapesData.generate(folder.resolve("data"), 200, 200, 10, 3);
      cluster.volumes().provide(LocalCluster.NAMESPACE, DATA_CLAIM, folder.resolve("data"));
      client.persistentVolumeClaims().inNamespace(LocalCluster.NAMESPACE).resource(new PersistentVolumeClaimBuilder()
          .withNewMetadata().withName(DATA_CLAIM).endMetadata()
          .withNewSpec().withAccessModes("ReadWriteMany").withNewResources()
            .addToRequests("storage", new Quantity("1Gi")).endResources().endSpec().build()).create();

      List<String> names = new ArrayList<>(List.of(TWIN));
      for (int i = 1; i <= jobs; i++) {
        names.add("chaos-" + i);
      }
      ChildCreations creations = new ChildCreations();
      StatusHistory history = new StatusHistory();
      List<Watch> watches = List.of(
          client.batch().v1().jobs().inNamespace(LocalCluster.NAMESPACE).watch(creations),
          client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE).watch(history));

      Random random = new Random(seed);
      ApiFaults faults = cluster.injectFaults(ApiFaults.Schedule.everyKind(seed, OperatorProcess.USER_AGENT, apiFaultRate,
          SLOW_BY));
      for (String name : names) {
        client.resource(job(name)).create();
      }
      long chaosEnds = System.nanoTime() + Duration.ofSeconds(chaosSeconds).toNanos();
      Map<String, Integer> trainerKills = new java.util.HashMap<>();
      Map<String, Integer> dataKills = new java.util.HashMap<>();
      // The schedule opens with a data-prep pod killed as soon as one runs, so that every run
      // checks packing survives it; then a fault at each random moment.
      killOnceOneRuns(cluster, null, dataKills, DATA_KILLS_PER_JOB, "data_pod", random, Duration.ofSeconds(60),
          () -> false);
      while (System.nanoTime() < chaosEnds && !allFinished(client, names)) {
        Thread.sleep(1000 + random.nextInt(5000));  // the schedule's next moment, not a wait for anything
        restartIfCrashed(cluster);
        // One of the faults that has a target now: the operator always, pods while some run.
        List<Pod> trainers = victims(cluster, LocalCluster.TRAINER, trainerKills, TRAINER_KILLS_PER_JOB);
        List<Pod> dataPods = victims(cluster, null, dataKills, DATA_KILLS_PER_JOB);
        // Pods are picked twice as often as the operator or its watches: they run for a shorter time.
        List<String> choices = new ArrayList<>(List.of("operator", "watches"));
        if (!trainers.isEmpty()) {
          choices.addAll(List.of("trainer_pod", "trainer_pod"));
        }
        if (!dataPods.isEmpty()) {
          choices.addAll(List.of("data_pod", "data_pod"));
        }
        switch (choices.get(random.nextInt(choices.size()))) {
          case "operator" -> {
            cluster.operator().stop(true);
            cluster.operator().start();
            kills.merge("operator", 1L, Long::sum);
          }
          case "watches" -> faults.expireWatches();
          case "trainer_pod" -> kill(cluster, trainers.get(random.nextInt(trainers.size())), trainerKills, "trainer_pod");
          default -> kill(cluster, dataPods.get(random.nextInt(dataPods.size())), dataKills, "data_pod");
        }
      }
      // A slow machine may spend the whole window before training: then the schedule closes with a
      // trainer pod killed as soon as one runs, so that every run checks training survives it.
      killOnceOneRuns(cluster, LocalCluster.TRAINER, trainerKills, TRAINER_KILLS_PER_JOB, "trainer_pod", random,
          Duration.ofMinutes(timeoutMinutes), () -> restartIfCrashed(cluster) && allFinished(client, names));
      faults.close();
      OperatorBench.await(() -> restartIfCrashed(cluster) && allFinished(client, names), timeoutMinutes * 60L,
          "every job to finish");

      long succeeded = names.subList(1, names.size()).stream().filter(n -> phase(client, n) == JobPhase.Succeeded)
          .count();
      int identical = 0;
      for (String name : names.subList(1, names.size())) {
        identical += sameRun(cluster, name, err) ? 1 : 0;
      }
      long duplicates = creations.duplicates(err) + extraAttempts(client, names, err);

      // Deletion with the operator down: children go by their owner references, the rest when it is back.
      cluster.operator().stop(true);
      kills.merge("operator", 1L, Long::sum);
      names.forEach(n -> client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE).withName(n)
          .delete());
      cluster.operator().start();
      OperatorBench.await(() -> restartIfCrashed(cluster) && client.resources(MultimodalPretrainJob.class)
          .inNamespace(LocalCluster.NAMESPACE).list().getItems().isEmpty(), 120, "the deleted jobs to be gone");
      try {
        OperatorBench.await(() -> orphans(client, names).isEmpty(), 60, "the deleted jobs' children to be gone");
      } catch (IllegalStateException e) {
        err.println("kiln bench chaos: left behind: " + orphans(client, names));
      }
      watches.forEach(Watch::close);

      Map<String, Long> faultCounts = new LinkedHashMap<>(kills);
      faults.injected().forEach((kind, count) -> faultCounts.put(kind.name().toLowerCase(java.util.Locale.ROOT), count));
      result.put("bench", "chaos");
      result.put("seed", seed);
      result.put("faults", faultCounts);
      result.put("relists", faults.relists());
      result.put("jobs", jobs);
      result.put("succeeded", succeeded);
      result.put("duplicates", duplicates);
      result.put("orphans", orphans(client, names).size());
      result.put("backwards", history.backwards(err));
      result.put("identical", identical);
      result.put("seconds", Math.round((System.nanoTime() - started) / 1e8) / 10.0);
    } catch (RuntimeException | InterruptedException e) {
      err.println("kiln bench chaos: " + e.getMessage() + "; the cluster's folder is kept: " + folder);
      err.flush();
      return 1;
    }
    if (keep) {
      err.println("kiln bench chaos: the cluster's folder is kept: " + folder);
    } else {
      OperatorBench.deleteTree(folder);
    }
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }

  /**
   * Starts the operator again if it exited by itself, as the kubelet restarts a Deployment's
   * container (an operator whose informers cannot list at start exits); counted. Always true.
   */
  private boolean restartIfCrashed(LocalCluster cluster) {
    if (!cluster.operator().alive()) {
      cluster.operator().start();
      kills.merge("operator_exited", 1L, Long::sum);
    }
    return true;
  }

  /** The chaos bench's job, named {@code name}: the end-to-end suite's small two-stage job with room for restarts. */
  static MultimodalPretrainJob job(String name) throws IOException {
    try (InputStream in = ChaosBench.class.getResourceAsStream("chaos-job.yaml")) {
      String yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("name: chaos", "name: " + name);
      MultimodalPretrainJob job = io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
          new java.io.ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), MultimodalPretrainJob.class);
      job.getMetadata().setNamespace(LocalCluster.NAMESPACE);
      return job;
    }
  }

  /**
   * Running pods of the jobs under chaos (never the twin's) that may still be killed: trainer pods,
   * or with {@code component} null data-prep pods; at most {@code limit} per job.
   */
  private static List<Pod> victims(LocalCluster cluster, String component, Map<String, Integer> killed, int limit) {
    return cluster.client().pods().inNamespace(LocalCluster.NAMESPACE).list().getItems().stream()
        .filter(p -> p.getStatus() != null && "Running".equals(p.getStatus().getPhase())
            && p.getMetadata().getDeletionTimestamp() == null)
        .filter(p -> {
          Map<String, String> labels = p.getMetadata().getLabels();
          String job = labels.getOrDefault(LocalCluster.JOB_LABEL, TWIN);
          String kind = labels.getOrDefault(LocalCluster.COMPONENT_LABEL, "");
          boolean wanted = component != null ? component.equals(kind) : kind.equals("filter") || kind.equals("pack");
          return wanted && !job.equals(TWIN) && killed.getOrDefault(job, 0) < limit;
        })
        .sorted(java.util.Comparator.comparing(p -> p.getMetadata().getName()))
        .toList();
  }

  /**
   * Kills a pod of {@code component} (data preparation when null) as soon as one runs, unless one
   * of that kind was already killed, {@code within} passes, or {@code pointless} says there is no
   * more reason to wait.
   */
  private void killOnceOneRuns(LocalCluster cluster, String component, Map<String, Integer> killed, int limit,
      String counter, Random random, Duration within, java.util.function.BooleanSupplier pointless)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (killed.isEmpty() && System.nanoTime() < deadline && !pointless.getAsBoolean()) {
      List<Pod> running = victims(cluster, component, killed, limit);
      if (!running.isEmpty()) {
        kill(cluster, running.get(random.nextInt(running.size())), killed, counter);
      } else {
        Thread.sleep(100);  // polling for such a pod to start
      }
    }
  }

  private void kill(LocalCluster cluster, Pod victim, Map<String, Integer> killed, String counter) {
    if (cluster.node().kill(LocalCluster.NAMESPACE, victim.getMetadata().getName())) {
      killed.merge(victim.getMetadata().getLabels().get(LocalCluster.JOB_LABEL), 1, Integer::sum);
      kills.merge(counter, 1L, Long::sum);
    }
  }

  private static boolean allFinished(KubernetesClient client, List<String> names) {
    return names.stream().allMatch(n -> {
      JobPhase phase = phase(client, n);
      return phase != null && phase.isFinished();
    });
  }

  private static JobPhase phase(KubernetesClient client, String name) {
    MultimodalPretrainJob job = client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE)
        .withName(name).get();
    return job == null || job.getStatus() == null ? null : job.getStatus().getPhase();
  }

  /** Whether the job packed the same bytes as its twin and trained to the same loss at every step of every stage. */
  private static boolean sameRun(LocalCluster cluster, String name, PrintWriter err) throws IOException {
    Path twin = cluster.volumes().folder(LocalCluster.NAMESPACE, TWIN + "-work");
    Path workspace = cluster.volumes().folder(LocalCluster.NAMESPACE, name + "-work");
    Map<String, String> twinData = digests(twin.resolve("data/packed"));
    Map<String, String> data = digests(workspace.resolve("data/packed"));
    if (twinData.isEmpty() || !twinData.equals(data)) {
      err.println("kiln bench chaos: " + name + "'s packed data differs from its twin's");
      return false;
    }
    for (String stage : List.of("pretrain", "sft")) {
      Map<Long, Long> twinLosses = finalCurve(twin, stage);
      Map<Long, Long> losses = finalCurve(workspace, stage);
      if (twinLosses.isEmpty() || !twinLosses.equals(losses)) {
        err.println("kiln bench chaos: " + name + "'s " + stage + " losses differ from its twin's (" + losses.size()
            + " steps against " + twinLosses.size() + ")");
        return false;
      }
    }
    return true;
  }

  /** Each step's loss bits as the last attempt that ran the step logged it. */
  private static Map<Long, Long> finalCurve(Path workspace, String stage) {
    Map<Long, Long> curve = new TreeMap<>();
    for (StepMetrics line : StageMetrics.lines(workspace.resolve("metrics").resolve(stage).resolve("metrics.jsonl"))) {
      curve.put(line.step(), Double.doubleToLongBits(line.loss()));
    }
    return curve;
  }

  /**
   * Every file under a folder, by relative path, with its SHA-256. A manifest names its inputs by
   * path, and a local pod sees {@code /kiln/...} under its own folder: paths are compared as the
   * pod saw them.
   */
  private static Map<String, String> digests(Path folder) throws IOException {
    Map<String, String> digests = new TreeMap<>();
    if (!Files.isDirectory(folder)) {
      return digests;
    }
    try (Stream<Path> files = Files.walk(folder)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        byte[] bytes = Files.readAllBytes(file);
        if (file.getFileName().toString().endsWith(".json")) {
          bytes = POD_ROOT.matcher(new String(bytes, StandardCharsets.UTF_8)).replaceAll("\"/").getBytes(StandardCharsets.UTF_8);
        }
        digests.put(folder.relativize(file).toString(), dev.kiln.api.Canonical.sha256(bytes));
      }
    }
    return digests;
  }

  /** Attempt Jobs beyond the attempts a stage's status counts: an attempt started twice. */
  private static long extraAttempts(KubernetesClient client, List<String> names, PrintWriter err) {
    long extra = 0;
    for (String name : names) {
      MultimodalPretrainJob job = client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE)
          .withName(name).get();
      for (var stage : job.getStatus().getStages()) {
        long jobs = client.batch().v1().jobs().inNamespace(LocalCluster.NAMESPACE).withLabel(LocalCluster.JOB_LABEL, name)
            .withLabel("kiln.dev/stage", stage.getName()).withLabel(LocalCluster.COMPONENT_LABEL, LocalCluster.TRAINER)
            .list().getItems().size();
        if (jobs > 1) {
          err.println("kiln bench chaos: " + name + "'s stage " + stage.getName() + " has " + jobs + " attempt Jobs");
          extra += jobs - 1;
        }
      }
    }
    return extra;
  }

  /** Children of the named jobs still in the API server: Jobs, pods, ConfigMaps, Services and claims. */
  private static List<String> orphans(KubernetesClient client, List<String> names) {
    List<String> left = new ArrayList<>();
    for (String name : names) {
      Stream.of(client.batch().v1().jobs(), client.pods(), client.configMaps(), client.services(),
              client.persistentVolumeClaims())
          .flatMap(kind -> kind.inNamespace(LocalCluster.NAMESPACE).withLabel(LocalCluster.JOB_LABEL, name).list()
              .getItems().stream().map(o -> ((HasMetadata) o).getKind() + "/" + ((HasMetadata) o).getMetadata().getName()))
          .forEach(left::add);
    }
    return left;
  }

  /** Every Job the watch saw added, by name with the uids it had: a name created twice is a duplicate child. */
  private static final class ChildCreations implements Watcher<Job> {
    private final Map<String, Set<String>> uids = new ConcurrentHashMap<>();

    @Override
    public void eventReceived(Action action, Job job) {
      if (action == Action.ADDED) {
        uids.computeIfAbsent(job.getMetadata().getName(), n -> ConcurrentHashMap.newKeySet()).add(job.getMetadata().getUid());
      }
    }

    @Override
    public void onClose(WatcherException cause) {}

    long duplicates(PrintWriter err) {
      long duplicates = 0;
      for (var entry : uids.entrySet()) {
        if (entry.getValue().size() > 1) {
          err.println("kiln bench chaos: Job " + entry.getKey() + " was created " + entry.getValue().size() + " times");
          duplicates += entry.getValue().size() - 1;
        }
      }
      return duplicates;
    }
  }
}
