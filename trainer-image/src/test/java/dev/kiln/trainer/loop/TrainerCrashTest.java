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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer process killed at 20 seeded moments (SIGKILL at a random time, or dying at a named
 * place inside a checkpoint write): after every kill the stage's checkpoints are all complete and
 * verify, every restart resumes, and every loss any attempt logged equals the uninterrupted run's,
 * bit for bit.
 */
class TrainerCrashTest {

  static final long STEPS = 60;
  static final int INTERVAL = 3;
  static final int KILLS = 20;

  @TempDir
  Path root;

  @Test
  void killedAtTwentyMomentsItResumesEveryTimeAndRepeatsTheLossesBitForBit() throws Exception {
    RunConfig config = TrainingRunTest.config(STEPS, INTERVAL);
    Path reference = TrainingRunTest.newRun(root, "reference");
    assertThat(start(reference, config, null).waitFor()).isZero();
    Map<Long, Double> expected = losses(reference);
    assertThat(expected).hasSize((int) STEPS);

    Path run = TrainingRunTest.newRun(root, "killed");
    CheckpointStore store = new CheckpointStore(run.resolve("kiln/workspace/checkpoints/pretrain"), 3);
    Random random = new Random(20261201);
    List<String> moments = new ArrayList<>();
    for (int kill = 0; kill < KILLS; kill++) {
      long resumable = store.checkpoints().isEmpty() ? 0 : CheckpointStore.load(store.checkpoints().getFirst()).state().step();
      if (resumable == STEPS) {
        break;
      }
      Process trainer;
      if (random.nextBoolean()) {
        long step = Math.min(STEPS, resumable + INTERVAL * (1 + random.nextInt(3)));
        String failpoint = Failpoint.NAMES.get(random.nextInt(Failpoint.NAMES.size())) + "@" + step;
        trainer = start(run, config, failpoint);
        assertThat(trainer.waitFor()).as("died at %s", failpoint).isEqualTo(Failpoint.EXIT);
        moments.add(failpoint);
      } else {
        long millis = 500 + random.nextInt(4000);
        trainer = start(run, config, null);
        if (!trainer.waitFor(millis, TimeUnit.MILLISECONDS)) {
          trainer.destroyForcibly().waitFor();
        }
        moments.add("SIGKILL after " + millis + " ms (exit " + trainer.exitValue() + ")");
      }
      // Whatever the moment, what a restart can see is only complete, verifying checkpoints.
      for (Path checkpoint : store.checkpoints()) {
        CheckpointStore.load(checkpoint);
      }
    }
    assertThat(start(run, config, null).waitFor()).isZero();
    System.out.println("trainer killed at: " + moments);

    Map<Long, List<Double>> logged = loggedLosses(run);
    assertThat(logged.keySet()).as("every step was trained").hasSize((int) STEPS);
    logged.forEach((step, values) -> assertThat(values).as("losses logged for step %d", step)
        .allMatch(value -> value.equals(expected.get(step))));
    assertThat(CheckpointStore.load(store.checkpoints().getFirst()).state().step()).isEqualTo(STEPS);
    assertThat(moments.stream().filter(m -> !m.startsWith("SIGKILL")).count()).as("kills inside a checkpoint write")
        .isPositive();
    assertThat(moments).hasSizeGreaterThanOrEqualTo(KILLS / 2);
  }

  @Test
  void sigtermCheckpointsTheStepItIsOnSoTheNextAttemptRepeatsNothing() throws Exception {
    // No periodic checkpoint before the end: all a stopped attempt leaves is what SIGTERM wrote.
    RunConfig config = TrainingRunTest.config(STEPS, 1000);
    Path reference = TrainingRunTest.newRun(root, "reference");
    assertThat(start(reference, config, null).waitFor()).isZero();
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

    assertThat(start(run, config, null).waitFor()).isZero();
    Map<Long, List<Double>> logged = loggedLosses(run);
    assertThat(logged.keySet()).hasSize((int) STEPS);
    logged.forEach((step, values) -> assertThat(values).as("step %d trained once, with the uninterrupted loss", step)
        .containsExactly(expected.get(step)));
  }

  private static Process start(Path runRoot, RunConfig config, String failpoint) throws IOException {
    Path file = runRoot.resolve("kiln/config/run.json");
    Files.createDirectories(file.getParent());
    Files.writeString(file, new ObjectMapper().writeValueAsString(config));
    ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), TrainerMain.class.getName(),
        "train", "--config", "/kiln/config/run.json", "--termination-log", "/kiln/termination-log")
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
