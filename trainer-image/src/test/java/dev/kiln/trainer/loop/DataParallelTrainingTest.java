package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.v1alpha1.BatchSpec;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.model.weights.SafeTensors;
import dev.kiln.trainer.TrainerMain;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data parallel training with real trainer processes on loopback: world 2 takes the same steps
 * as world 1 at the same global batch, a checkpoint written at world 2 resumes at world 1, and a
 * rank that dies stops the others quickly with a retryable exit code.
 */
class DataParallelTrainingTest {

  /** float32 sums in another order: the ring adds the two ranks' gradients, world 1 accumulates them. */
  static final double TOLERANCE = 2e-5;

  @TempDir
  Path root;

  @Test
  void worldTwoTakesTheSameStepsAsWorldOne() throws Exception {
    assertSameStepsAtWorldTwo(TrainingRunTest.config(6, 6, 2, ShardingStrategy.NO_SHARD));
  }

  @Test
  void worldFourTakesTheSameStepsAsWorldOne() throws Exception {
    BatchSpec eight = new BatchSpec(8, 2);
    Path single = TrainingRunTest.newRun(root, "four-world1");
    new TrainingRun(TrainingRunTest.config(4, 4, new RunConfig.World(1, 0, 1, ShardingStrategy.NO_SHARD, 29500), eight),
        new PodRoot(single), 0, 1).run();
    Path four = TrainingRunTest.newRun(root, "four-world4");
    List<Process> ranks = startRanks(four,
        TrainingRunTest.config(4, 4, new RunConfig.World(4, 0, 4, ShardingStrategy.SHARD_GRAD_OP, 29500), eight));
    for (Process rank : ranks) {
      assertThat(rank.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(rank.exitValue()).as(log(four, ranks.indexOf(rank))).isZero();
    }
    assertLossesClose(TrainingRunTest.metrics(single), TrainingRunTest.metrics(four));
    assertThat(largestDifference(finalModel(single), finalModel(four))).isLessThan(TOLERANCE);
  }

  @Test
  void aCheckpointWrittenAtWorldOneResumesAtWorldTwo() throws Exception {
    Path straight = TrainingRunTest.newRun(root, "straight-1");
    new TrainingRun(TrainingRunTest.config(8, 4), new PodRoot(straight), 0, 1).run();
    Path switched = TrainingRunTest.newRun(root, "switched-1-2");
    new TrainingRun(TrainingRunTest.config(8, 4), new PodRoot(switched), 0, 1).stopAfter(4).run();
    List<Process> ranks = startRanks(switched, TrainingRunTest.config(8, 4, 2, ShardingStrategy.SHARD_GRAD_OP));
    for (Process rank : ranks) {
      assertThat(rank.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(rank.exitValue()).as(log(switched, ranks.indexOf(rank))).isZero();
    }
    assertLossesClose(TrainingRunTest.metrics(straight), TrainingRunTest.metrics(switched));
  }

  @Test
  void aPodWithTwoGpusRunsOneRankPerGpu() throws Exception {
    // One pod of two GPUs: its process starts two local ranks (on the CPU here, with no GPU to give).
    Path pod = assertSameStepsAtWorldTwo(TrainingRunTest.config(6, 6,
        new RunConfig.World(1, 2, 2, ShardingStrategy.NO_SHARD, 29500)));
    assertThat(log(pod, 0)).contains("rank 0 of 2 joined the ring").contains("rank 1 of 2 joined the ring");
  }

  @Test
  void shardGradOpAtWorldTwoTakesTheSameStepsWithHalfTheOptimizerStatePerRank() throws Exception {
    Path pair = assertSameStepsAtWorldTwo(TrainingRunTest.config(6, 6, 2, ShardingStrategy.SHARD_GRAD_OP));
    // Every part is trained in these runs, so every parameter has optimizer state.
    long trainable = finalModel(pair).values().stream().mapToLong(t -> t.data().length).sum();
    for (int rank = 0; rank < 2; rank++) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("rank " + rank + " of 2 holds (\\d+) floats")
          .matcher(log(pair, rank));
      assertThat(m.find()).as(log(pair, rank)).isTrue();
      // Two moments of half the parameters (rounded up to a whole slice), against two of all at world 1.
      assertThat(Long.parseLong(m.group(1))).isEqualTo(2 * ((trainable + 1) / 2));
    }
  }

  /** Runs {@code config} (world 2) and checks it against world 1; returns the world-2 run's root. */
  Path assertSameStepsAtWorldTwo(RunConfig config) throws Exception {
    String run = config.world().sharding() + "-" + config.world().gpusPerNode();
    Path single = TrainingRunTest.newRun(root, "world1-" + run);
    new TrainingRun(TrainingRunTest.config(6, 6), new PodRoot(single), 0, 1).run();
    Path pair = TrainingRunTest.newRun(root, "world2-" + run);
    List<Process> ranks = startRanks(pair, config);
    for (Process rank : ranks) {
      assertThat(rank.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(rank.exitValue()).as(log(pair, ranks.indexOf(rank))).isZero();
    }

    assertLossesClose(TrainingRunTest.metrics(single), TrainingRunTest.metrics(pair));
    Map<String, SafeTensors.Tensor> a = finalModel(single);
    Map<String, SafeTensors.Tensor> b = finalModel(pair);
    assertThat(largestDifference(a, b)).as("largest parameter difference after 6 steps").isLessThan(TOLERANCE);
    return pair;
  }

  static double largestDifference(Map<String, SafeTensors.Tensor> a, Map<String, SafeTensors.Tensor> b) {
    assertThat(b.keySet()).isEqualTo(a.keySet());
    double worst = 0;
    for (String name : a.keySet()) {
      float[] x = a.get(name).data();
      float[] y = b.get(name).data();
      for (int i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(x[i] - y[i]));
      }
    }
    return worst;
  }

  @Test
  void aShardedCheckpointWrittenAtWorldTwoResumesAtWorldOne() throws Exception {
    Path straight = TrainingRunTest.newRun(root, "straight");
    new TrainingRun(TrainingRunTest.config(8, 4), new PodRoot(straight), 0, 1).run();
    Path switched = TrainingRunTest.newRun(root, "switched");
    List<Process> ranks = startRanks(switched, TrainingRunTest.config(8, 4, 2, ShardingStrategy.SHARD_GRAD_OP));
    for (Process rank : ranks) {
      assertThat(rank.waitFor(120, TimeUnit.SECONDS)).isTrue();
    }
    // Go on at world 1 from world 2's checkpoint at step 4: the one at step 8 has a torn slice.
    Path checkpoints = switched.resolve("kiln/workspace/checkpoints/pretrain");
    // Each rank wrote its own slice of the optimizer state; nothing was gathered on rank 0.
    try (var files = Files.list(checkpoints.resolve(CheckpointStore.name(4)))) {
      assertThat(files.map(f -> f.getFileName().toString()).sorted()).containsExactly("manifest.json",
          "model.safetensors", "optimizer-layout.json", "optimizer-rank-00000-of-00002.safetensors",
          "optimizer-rank-00001-of-00002.safetensors", "state.json");
    }
    Path slice = checkpoints.resolve(CheckpointStore.name(8)).resolve(CheckpointStore.optimizerShard(1, 2));
    Files.write(slice, java.util.Arrays.copyOf(Files.readAllBytes(slice), (int) Files.size(slice) / 2));
    assertThat(new CheckpointStore(checkpoints, 3).loadLatest().orElseThrow().state().step()).isEqualTo(4);
    new TrainingRun(TrainingRunTest.config(8, 4), new PodRoot(switched), 0, 1).run();

    List<JsonNode> expected = TrainingRunTest.metrics(straight);
    List<JsonNode> lines = TrainingRunTest.metrics(switched);
    assertThat(lines).extracting(m -> m.get("step").asLong())
        .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 5L, 6L, 7L, 8L);
    assertLossesClose(expected, lines.subList(0, 8));
    assertLossesClose(expected.subList(4, 8), lines.subList(8, 12));
  }

  @Test
  void aRankThatDiesStopsTheOthersWithARetryableExitCode() throws Exception {
    Path run = TrainingRunTest.newRun(root, "dies");
    List<Process> ranks = startRanks(run, TrainingRunTest.config(100_000, 1000, 2));
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!Files.exists(run.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl")) && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    ranks.get(1).destroyForcibly();
    long killed = System.nanoTime();

    assertThat(ranks.get(0).waitFor(60, TimeUnit.SECONDS)).as("rank 0 stops instead of hanging").isTrue();
    assertThat(ranks.get(0).exitValue()).isEqualTo(ExitCodes.FAILURE);
    assertThat(Duration.ofNanos(System.nanoTime() - killed)).isLessThan(Duration.ofSeconds(30));
    assertThat(log(run, 0)).contains("rank 0 of 2: ring:");
  }

  /** Starts one trainer process per pod, as an Indexed Job would; a pod with GPUs starts a rank per GPU itself. */
  static List<Process> startRanks(Path runRoot, RunConfig config) throws IOException {
    return startRanks(runRoot, config, List.of(), Map.of());
  }

  /** As {@link #startRanks(Path, RunConfig)}, with JVM options and environment added to every rank. */
  static List<Process> startRanks(Path runRoot, RunConfig config, List<String> jvmOptions, Map<String, String> env)
      throws IOException {
    Path file = runRoot.resolve("kiln/config/run.json");
    Files.createDirectories(file.getParent());
    Files.writeString(file, new ObjectMapper().writeValueAsString(config));
    int port;
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort();
    }
    List<Process> ranks = new ArrayList<>();
    for (int rank = 0; rank < config.world().nodes(); rank++) {
      List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "--enable-native-access=ALL-UNNAMED"));
      command.addAll(jvmOptions);
      command.addAll(List.of("-cp", System.getProperty("java.class.path"), TrainerMain.class.getName(),
          "train", "--config", "/kiln/config/run.json", "--termination-log", "/kiln/termination-" + rank));
      ProcessBuilder builder = new ProcessBuilder(command)
          .redirectErrorStream(true).redirectOutput(runRoot.resolve("rank-" + rank + ".log").toFile());
      builder.environment().putAll(Map.of(PodRoot.ENV, runRoot.toString(), "WORLD_SIZE",
          Integer.toString(config.world().worldSize()), "KILN_NODE_RANK", Integer.toString(rank), "MASTER_ADDR",
          "127.0.0.1", "MASTER_PORT", Integer.toString(port), "KILN_RANK_ADDRESS", "127.0.0.1",
          "KILN_RENDEZVOUS_TIMEOUT_SECONDS", "60", "KILN_DEVICE", "cpu"));
      builder.environment().putAll(env);
      ranks.add(builder.start());
    }
    return ranks;
  }

  static String log(Path runRoot, int rank) throws IOException {
    return Files.readString(runRoot.resolve("rank-" + rank + ".log"));
  }

  static Map<String, SafeTensors.Tensor> finalModel(Path runRoot) throws IOException {
    return CheckpointStore.load(runRoot.resolve("kiln/workspace/checkpoints/pretrain")).model();
  }

  static void assertLossesClose(List<JsonNode> expected, List<JsonNode> actual) {
    assertThat(actual).hasSameSizeAs(expected);
    for (int i = 0; i < expected.size(); i++) {
      assertThat(actual.get(i).get("loss").asDouble()).as("loss at step %d", i + 1)
          .isCloseTo(expected.get(i).get("loss").asDouble(), within(TOLERANCE * 10));
    }
  }
}
