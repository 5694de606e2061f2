package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.v1alpha1.BatchSpec;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Float16Mixed on the CPU: the same code path as on a GPU, slower. */
class MixedPrecisionTrainingTest {

  @TempDir
  Path root;

  static RunConfig mixed(long steps, int interval) {
    return TrainingRunTest.config(steps, interval, new RunConfig.World(1, 0, 1, ShardingStrategy.NO_SHARD, 29500),
        new BatchSpec(4, 2), Precision.FLOAT16_MIXED);
  }

  static int skippedAtStart(List<JsonNode> metrics) {
    int skipped = 0;
    while (skipped < metrics.size() && !Double.isFinite(metrics.get(skipped).get("gradNorm").asDouble())) {
      skipped++;
    }
    return skipped;
  }

  @Test
  void lossFallsAfterTheScaleSettles() throws IOException {
    Path full = TrainingRunTest.newRun(root, "fp32");
    new TrainingRun(TrainingRunTest.config(20, 20), new PodRoot(full), 0, 1).run();
    Path half = TrainingRunTest.newRun(root, "fp16");
    new TrainingRun(mixed(20, 20), new PodRoot(half), 0, 1).run();

    List<JsonNode> reference = TrainingRunTest.metrics(full);
    List<JsonNode> m = TrainingRunTest.metrics(half);
    double firstLoss = reference.get(0).get("loss").asDouble();
    // Same weights, same batch: only float16 rounding apart.
    assertThat(m.get(0).get("loss").asDouble()).isNotEqualTo(firstLoss).isCloseTo(firstLoss, within(2e-3 * firstLoss));
    assertThat(m.get(0).get("lossScale").asDouble()).isEqualTo(65536);
    assertThat(reference.get(0).has("lossScale")).isFalse();
    assertThat(skippedAtStart(m)).isBetween(1, 6);
    assertThat(m.get(19).get("loss").asDouble()).isLessThan(firstLoss * 0.8);
  }

  @Test
  void overflowingStepsAreSkippedAndHalveTheScale() throws IOException {
    Path run = TrainingRunTest.newRun(root, "overflow");

    new TrainingRun(mixed(8, 1), new PodRoot(run), 0, 1).run();

    List<JsonNode> m = TrainingRunTest.metrics(run);
    int skipped = skippedAtStart(m);
    assertThat(skipped).isBetween(2, 6);
    for (int i = 0; i < 8; i++) {
      double expectedScale = 65536.0 / (1 << Math.min(i, skipped));
      assertThat(m.get(i).get("lossScale").asDouble()).as("step %d", i + 1).isEqualTo(expectedScale);
      assertThat(Double.isFinite(m.get(i).get("gradNorm").asDouble())).as("step %d", i + 1).isEqualTo(i >= skipped);
    }
    Path checkpoints = run.resolve("kiln/workspace/checkpoints/pretrain");
    assertThat(Files.readAllBytes(checkpoints.resolve("step-00000007/model.safetensors")))
        .as("a finite step updates the weights")
        .isNotEqualTo(Files.readAllBytes(checkpoints.resolve("step-00000008/model.safetensors")));
  }

  @Test
  void aSkippedStepLeavesWeightsAndOptimizerAlone() throws IOException {
    Path run = TrainingRunTest.newRun(root, "untouched");

    new TrainingRun(mixed(2, 1), new PodRoot(run), 0, 1).run();

    List<JsonNode> m = TrainingRunTest.metrics(run);
    assertThat(skippedAtStart(m)).as("the first two steps overflow at 2^16 and 2^15").isGreaterThanOrEqualTo(2);
    Path checkpoints = run.resolve("kiln/workspace/checkpoints/pretrain");
    for (String file : List.of("model.safetensors", "optimizer.safetensors")) {
      assertThat(Files.readAllBytes(checkpoints.resolve("step-00000001").resolve(file))).as(file)
          .isEqualTo(Files.readAllBytes(checkpoints.resolve("step-00000002").resolve(file)));
    }
  }

  @Test
  void stoppingAndResumingGivesBitIdenticalLossesAndScales() throws IOException {
    Path straight = TrainingRunTest.newRun(root, "straight");
    new TrainingRun(mixed(8, 2), new PodRoot(straight), 0, 1).run();
    Path interrupted = TrainingRunTest.newRun(root, "interrupted");
    new TrainingRun(mixed(8, 2), new PodRoot(interrupted), 0, 1).stopAfter(4).run();
    new TrainingRun(mixed(8, 2), new PodRoot(interrupted), 0, 1).run();

    List<JsonNode> reference = TrainingRunTest.metrics(straight);
    List<JsonNode> resumed = TrainingRunTest.metrics(interrupted);
    assertThat(resumed).hasSize(8);
    for (int i = 0; i < 8; i++) {
      assertThat(resumed.get(i).get("loss").asDouble()).as("step %d", i + 1)
          .isEqualTo(reference.get(i).get("loss").asDouble());
      assertThat(resumed.get(i).get("lossScale").asDouble()).isEqualTo(reference.get(i).get("lossScale").asDouble());
    }
  }
}
