package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.trainer.TrainerMain;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.trainer.checkpoint.Failpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer process killed at 22 moments chosen by step, not by the clock: dying at every named
 * place inside a checkpoint write ({@link Failpoint#NAMES}), the write failing as on a full disk at
 * two of them, and SIGKILL after a seeded step. After every kill the stage's checkpoints are all
 * complete and verify, every restart resumes, and every loss any attempt logged equals the
 * uninterrupted run's, bit for bit. Every wait on a process is bounded.
 */
class TrainerCrashTest {

  static final long STEPS = 90;
  static final int INTERVAL = 3;
  /** How long one trainer process may take here: 90 tiny steps take seconds. */
  static final Duration PROCESS_TIMEOUT = Duration.ofMinutes(3);

  @TempDir
  Path root;

  @Test
  void killedAtEveryFailpointAndSeededStepsItResumesEveryTimeAndRepeatsTheLossesBitForBit() throws Exception {
    RunConfig config = TrainingRunTest.config(STEPS, INTERVAL);
    Path reference = TrainingRunTest.newRun(root, "reference");
    assertThat(exit(start(reference, config, null))).isZero();
    Map<Long, Double> expected = losses(reference);
    assertThat(expected).hasSize((int) STEPS);

    Path run = TrainingRunTest.newRun(root, "killed");
    CheckpointStore store = new CheckpointStore(run.resolve("kiln/workspace/checkpoints/pretrain"), 3);
    List<String> plan = plan(new Random(20261201));
    List<String> moments = new ArrayList<>();
    for (String kill : plan) {
      long resumable = store.checkpoints().isEmpty() ? 0 : CheckpointStore.load(store.checkpoints().getFirst()).state().step();
      assertThat(resumable).as("the plan ends before the run does (after %s)", moments).isLessThan(STEPS);
      if (kill.startsWith("sigkill-after:")) {
        long step = resumable + Long.parseLong(kill.substring("sigkill-after:".length()));
        int linesBefore = metricLines(run).size();
        Process trainer = start(run, config, null);
        awaitLogged(run, linesBefore, step, trainer);
        trainer.destroyForcibly();
        exit(trainer);
        moments.add("SIGKILL after step " + step);
      } else {
        long step = Math.min(STEPS, (resumable / INTERVAL + 1) * INTERVAL);
        String failpoint = kill + "@" + step;
        Process trainer = start(run, config, failpoint);
        int status = exit(trainer);
        if (kill.startsWith(Failpoint.DISK_FULL)) {
          assertThat(status).as("a full disk at %s", failpoint).isNotIn(0, Failpoint.EXIT);
          assertThat(Files.readString(run.resolve("kiln/termination-log"))).as(failpoint).contains("no space left on the disk");
        } else {
          assertThat(status).as("died at %s", failpoint).isEqualTo(Failpoint.EXIT);
        }
        moments.add(failpoint);
      }
      // Whatever the moment, what a restart can see is only complete, verifying checkpoints.
      for (Path checkpoint : store.checkpoints()) {
        CheckpointStore.load(checkpoint);
      }
    }
    assertThat(exit(start(run, config, null))).isZero();
    System.out.println("trainer killed at: " + moments);

    Map<Long, List<Double>> logged = loggedLosses(run);
    assertThat(logged.keySet()).as("every step was trained").hasSize((int) STEPS);
    logged.forEach((step, values) -> assertThat(values).as("losses logged for step %d", step)
        .allMatch(value -> value.equals(expected.get(step))));
    assertThat(CheckpointStore.load(store.checkpoints().getFirst()).state().step()).isEqualTo(STEPS);
    assertThat(moments).hasSize(22);
  }

  /**
   * Every failpoint once, in the order a write passes them (pruning last, when there are enough
   * checkpoints to prune), a full disk after the optimizer's and the manifest's write, and
   * SIGKILLs 1 to 4 steps past the latest checkpoint between them.
   */
  private static List<String> plan(Random random) {
    List<String> failpoints = new ArrayList<>(Failpoint.NAMES);
    failpoints.add(2, Failpoint.DISK_FULL + "optimizer-written");
    failpoints.add(6, Failpoint.DISK_FULL + "manifest-written");
    List<String> plan = new ArrayList<>();
    for (String failpoint : failpoints) {
      plan.add("sigkill-after:" + (1 + random.nextInt(4)));
      plan.add(failpoint);
    }
    return plan;
  }

  /** Waits until this attempt (the lines after {@code linesBefore}) has logged {@code step}. */
  private static void awaitLogged(Path run, int linesBefore, long step, Process trainer) throws Exception {
    long deadline = System.nanoTime() + PROCESS_TIMEOUT.toNanos();
    while (!metricLines(run).stream().skip(linesBefore).anyMatch(line -> line.contains("\"step\":" + step + ","))) {
      assertThat(trainer.isAlive()).as("the trainer still runs before step %d", step).isTrue();
      assertThat(System.nanoTime()).as("step %d within %s", step, PROCESS_TIMEOUT).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** The process's exit status, once it ends within {@link #PROCESS_TIMEOUT} (killed and failed otherwise). */
  static int exit(Process process) throws InterruptedException {
    if (!process.waitFor(PROCESS_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError("the trainer did not end within " + PROCESS_TIMEOUT);
    }
    return process.exitValue();
  }

  @Test
  void sigtermCheckpointsTheStepItIsOnSoTheNextAttemptRepeatsNothing() throws Exception {
    // No periodic checkpoint before the end: all a stopped attempt leaves is what SIGTERM wrote.
    RunConfig config = TrainingRunTest.config(STEPS, 1000);
    Path reference = TrainingRunTest.newRun(root, "reference");
    assertThat(exit(start(reference, config, null))).isZero();
    Map<Long, Double> expected = losses(reference);

    Path run = TrainingRunTest.newRun(root, "stopped");
    Process trainer = start(run, config, null);
    Path metrics = run.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while ((!Files.exists(metrics) || Files.readAllLines(metrics).size() < 5) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    trainer.destroy();  // SIGTERM, as the kubelet sends it
    assertThat(trainer.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(trainer.exitValue()).isEqualTo(ExitCodes.STOPPED);
    long stoppedAt = loggedLosses(run).keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
    assertThat(stoppedAt).isBetween(5L, STEPS - 1);
    CheckpointStore store = new CheckpointStore(run.resolve("kiln/workspace/checkpoints/pretrain"), 3);
    assertThat(CheckpointStore.load(store.checkpoints().getFirst()).state().step()).isEqualTo(stoppedAt);
    assertThat(Files.readString(run.resolve("kiln/termination-log"))).startsWith("stopped by SIGTERM at step " + stoppedAt);

    assertThat(exit(start(run, config, null))).isZero();
    Map<Long, List<Double>> logged = loggedLosses(run);
    assertThat(logged.keySet()).hasSize((int) STEPS);
    logged.forEach((step, values) -> assertThat(values).as("step %d trained once, with the uninterrupted loss", step)
        .containsExactly(expected.get(step)));
  }

  /** The trainer as a pod starts it, on this run's folder; {@code jvmOptions} go before the main class. */
  static Process start(Path runRoot, RunConfig config, String failpoint, String... jvmOptions) throws IOException {
    Path file = runRoot.resolve("kiln/config/run.json");
    Files.createDirectories(file.getParent());
    Files.writeString(file, new ObjectMapper().writeValueAsString(config));
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED"));
    command.addAll(List.of(jvmOptions));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), TrainerMain.class.getName(),
        "train", "--config", "/kiln/config/run.json", "--termination-log", "/kiln/termination-log"));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(runRoot.resolve("trainer.log").toFile()));
    builder.environment().put(PodRoot.ENV, runRoot.toString());
    builder.environment().put("KILN_DEVICE", "cpu");
    if (failpoint != null) {
      builder.environment().put(Failpoint.ENV, failpoint);
    }
    return builder.start();
  }

  private static Map<Long, Double> losses(Path runRoot) throws IOException {
    Map<Long, Double> losses = new TreeMap<>();
    loggedLosses(runRoot).forEach((step, values) -> losses.put(step, values.getFirst()));
    return losses;
  }

  private static List<String> metricLines(Path run) throws IOException {
    Path metrics = run.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl");
    return Files.exists(metrics) ? Files.readAllLines(metrics) : List.of();
  }

  /** Each step's losses in every attempt's log; a line cut short by a kill is not a step. */
  private static Map<Long, List<Double>> loggedLosses(Path runRoot) throws IOException {
    Map<Long, List<Double>> losses = new TreeMap<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(runRoot.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl"))) {
      JsonNode node;
      try {
        node = json.readTree(line);
      } catch (IOException e) {
        continue;
      }
      losses.computeIfAbsent(node.get("step").asLong(), s -> new ArrayList<>()).add(node.get("loss").asDouble());
    }
    return losses;
  }
}
