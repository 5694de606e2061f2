package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.runconfig.TrainerSummary;
import dev.kiln.api.v1alpha1.BatchSpec;
import dev.kiln.api.v1alpha1.BudgetSpec;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.data.packed.PackedFormat;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.webdataset.ShardWriter;
import dev.kiln.model.TinySequences;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.trainer.data.PackedDataset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingRunTest {

  @TempDir
  Path root;

  /** Eight packed sequences of random captions, written as a pack job would. */
  static void writePackedData(Path dir) {
    Random random = new Random(3);
    try (ShardWriter writer = new ShardWriter(dir, "packed", 100, Long.MAX_VALUE)) {
      for (int s = 0; s < 8; s++) {
        List<PackedSequence.Segment> segments = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
          int[] words = random.ints(4, 10, 40).toArray();
          segments.add(TinySequences.caption("s" + s + k, k, words));
        }
        PackedSequence sequence = TinySequences.sequence(48, 16, 32, segments);
        writer.write(String.format("%08d", s), PackedFormat.toMembers(sequence));
      }
    }
  }

  static RunConfig config(long steps, int interval) {
    return config(steps, interval, 1);
  }

  static RunConfig config(long steps, int interval, int world) {
    return config(steps, interval, world, ShardingStrategy.NO_SHARD);
  }

  static RunConfig config(long steps, int interval, int world, ShardingStrategy sharding) {
    return config(steps, interval, new RunConfig.World(world, 0, world, sharding, 29500));
  }

  static RunConfig config(long steps, int interval, RunConfig.World layout) {
    return config(steps, interval, layout, new BatchSpec(4, 2));
  }

  static RunConfig config(long steps, int interval, RunConfig.World layout, BatchSpec batch) {
    return config(steps, interval, layout, batch, Precision.FLOAT32);
  }

  static RunConfig config(long steps, int interval, RunConfig.World layout, BatchSpec batch, Precision precision) {
    return new RunConfig(RunConfig.API_VERSION, "test", "ns", "pretrain", 0, 11, ModelPreset.TINY.dimensions(), null,
        new RunConfig.Data("/kiln/workspace/data/packed/pretrain", "/kiln/data/tokenizer.json", 48, 16, PackedAttention.PER_SAMPLE),
        List.of(TrainablePart.VISION, TrainablePart.PROJECTOR, TrainablePart.LANGUAGE_MODEL),
        new OptimizerSpec(3e-3, 0.01, 0.1, null, null, null, null, null, null),
        new BudgetSpec(null, steps, null), batch,
        layout, precision,
        new RunConfig.Checkpoints("/kiln/workspace/checkpoints/pretrain", interval, 3, null),
        "/kiln/workspace/metrics/pretrain", null);
  }

  static List<JsonNode> metrics(Path runRoot) throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(runRoot.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl"))) {
      lines.add(new ObjectMapper().readTree(line));
    }
    return lines;
  }

  Path newRun(String name) {
    return newRun(root, name);
  }

  static Path newRun(Path root, String name) {
    Path runRoot = root.resolve(name);
    writePackedData(runRoot.resolve("kiln/workspace/data/packed/pretrain"));
    return runRoot;
  }

  @Test
  void lossFallsOnTheTinyPreset() throws IOException {
    Path run = newRun("falls");

    TrainerSummary summary = new TrainingRun(config(40, 20), new PodRoot(run), 0, 1).run();

    List<JsonNode> m = metrics(run);
    assertThat(m).hasSize(40);
    double first = m.get(0).get("loss").asDouble();
    double last = m.get(39).get("loss").asDouble();
    assertThat(last).isLessThan(first * 0.6);
    assertThat(summary.step()).isEqualTo(40);
    assertThat(summary.checkpoint()).isEqualTo("/kiln/workspace/checkpoints/pretrain/step-00000040");
    assertThat(summary.manifestSha256()).hasSize(64);
    assertThat(m.get(0).get("lr").asDouble()).isZero();
    assertThat(m.get(5).get("dataWaitFraction").asDouble()).isBetween(0.0, 1.0);

    // TensorBoard sees the same steps, read without Kiln's writer.
    Path runDir = run.resolve("kiln/workspace/metrics/pretrain/attempt-1");
    List<Path> files;
    try (var listing = Files.list(runDir)) {
      files = listing.toList();
    }
    assertThat(files).singleElement().satisfies(f -> assertThat(f.getFileName().toString()).startsWith("events.out.tfevents."));
    List<EventFileReader.Event> events = EventFileReader.read(files.getFirst());
    assertThat(events).hasSize(41);
    for (int i = 0; i < 40; i++) {
      var scalars = events.get(i + 1).scalars();
      assertThat(events.get(i + 1).step()).isEqualTo(i + 1);
      assertThat(scalars.get("train/loss")).isEqualTo((float) m.get(i).get("loss").asDouble());
      assertThat(scalars.get("train/learning_rate")).isEqualTo((float) m.get(i).get("lr").asDouble());
      assertThat(scalars.get("train/grad_norm")).isEqualTo((float) m.get(i).get("gradNorm").asDouble());
      assertThat(scalars.get("train/model_tflops_per_second_per_rank")).isPositive();
      assertThat(scalars).doesNotContainKey("train/mfu");  // no GPU peak on a CPU
    }
  }

  @Test
  void initialWeightsThatDifferFromTheirPinStopTheRunBeforeItsFirstStep() throws IOException {
    Path run = newRun("pinned-weights");
    Path weights = run.resolve("kiln/weights/tiny");
    try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager();
        dev.kiln.model.VisionLanguageModel model = new dev.kiln.model.VisionLanguageModel(ModelPreset.TINY.dimensions(), manager, 5)) {
      java.util.Map<String, dev.kiln.model.weights.SafeTensors.Tensor> tensors = new java.util.LinkedHashMap<>();
      model.parameters().all().forEach((name, array) -> tensors.put(name,
          new dev.kiln.model.weights.SafeTensors.Tensor(array.getShape().getShape(), array.toFloatArray())));
      dev.kiln.model.weights.ModelFolder.write(weights, tensors, ModelPreset.TINY.dimensions(), 16, java.util.Map.of());
    }
    String found = dev.kiln.model.weights.InitialWeights.sha256(weights, weights);
    Path elsewhere = Files.createDirectories(root.resolve("elsewhere"));
    try (var files = Files.list(weights)) {
      for (Path file : files.toList()) {
        Files.copy(file, elsewhere.resolve(file.getFileName()));
      }
    }
    Files.createDirectories(elsewhere.resolve(".cache/huggingface")).resolve("model.safetensors.metadata");
    Files.writeString(elsewhere.resolve(".cache/huggingface/model.safetensors.metadata"), "downloaded at 1733300000");
    assertThat(dev.kiln.model.weights.InitialWeights.sha256(elsewhere, elsewhere))
        .as("where the folder is, and a downloader's hidden bookkeeping, do not count").isEqualTo(found);
    Files.writeString(elsewhere.resolve("config.json"), Files.readString(elsewhere.resolve("config.json")) + " ");
    assertThat(dev.kiln.model.weights.InitialWeights.sha256(elsewhere, elsewhere)).as("positive control: a file does")
        .isNotEqualTo(found);
    String pinned = "0".repeat(64);

    assertThatThrownBy(() -> new TrainingRun(withWeights(config(4, 2), pinned), new PodRoot(run), 0, 1).run())
        .isInstanceOf(TrainingRun.PinMismatchException.class)
        .hasMessageStartingWith("spec.reproduce.initialWeightsSha256: expected " + pinned + ", found " + found);
    assertThat(run.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl")).as("nothing trained").doesNotExist();

    TrainerSummary summary = new TrainingRun(withWeights(config(4, 2), found), new PodRoot(run), 0, 1).run();
    assertThat(summary.step()).as("positive control: the pinned weights train").isEqualTo(4);
    assertThat(summary.initialWeightsSha256()).isEqualTo(found);
  }

  private static RunConfig withWeights(RunConfig c, String pinnedSha256) {
    return new RunConfig(c.apiVersion(), c.job(), c.namespace(), c.stage(), c.stageIndex(), c.seed(), c.model(),
        new RunConfig.Weights("/kiln/weights/tiny", "/kiln/weights/tiny", pinnedSha256), c.data(), c.trainable(),
        c.optimizer(), c.budget(), c.batch(), c.world(), c.precision(), c.checkpoints(), c.metricsDir(),
        c.recomputeActivations());
  }

  @Test
  void stoppingAndResumingGivesBitIdenticalLosses() throws IOException {
    Path straight = newRun("straight");
    new TrainingRun(config(12, 4), new PodRoot(straight), 0, 1).run();

    Path interrupted = newRun("interrupted");
    new TrainingRun(config(12, 4), new PodRoot(interrupted), 0, 1).stopAfter(6).run();
    new TrainingRun(config(12, 4), new PodRoot(interrupted), 0, 1).run();

    List<JsonNode> reference = metrics(straight);
    List<JsonNode> resumed = metrics(interrupted);
    // 6 steps, a crash after step 6 (last checkpoint at 4), then steps 5..12 again from that checkpoint.
    assertThat(resumed).hasSize(6 + 8);
    for (int i = 0; i < 8; i++) {
      JsonNode expected = reference.get(4 + i);
      JsonNode actual = resumed.get(6 + i);
      assertThat(actual.get("step").asLong()).isEqualTo(expected.get("step").asLong());
      assertThat(actual.get("loss").asDouble()).as("step %d", expected.get("step").asLong())
          .isEqualTo(expected.get("loss").asDouble());
    }
  }

  @Test
  void aCorruptNewestCheckpointFallsBackToThePreviousOne() throws IOException {
    Path run = newRun("corrupt");
    new TrainingRun(config(8, 4), new PodRoot(run), 0, 1).run();
    Path checkpoints = run.resolve("kiln/workspace/checkpoints/pretrain");
    Path newest = checkpoints.resolve("step-00000008/model.safetensors");
    byte[] bytes = Files.readAllBytes(newest);
    bytes[bytes.length - 1] ^= 1;
    Files.write(newest, bytes);

    var loaded = new CheckpointStore(checkpoints, 3).loadLatest();

    assertThat(loaded).isPresent();
    assertThat(loaded.get().state().step()).isEqualTo(4);
  }

  @Test
  void whenNoCheckpointVerifiesTheStageFailsInsteadOfStartingOver() throws IOException {
    Path run = newRun("all-corrupt");
    new TrainingRun(config(4, 2), new PodRoot(run), 0, 1).run();
    Path checkpoints = run.resolve("kiln/workspace/checkpoints/pretrain");
    for (String step : List.of("step-00000002", "step-00000004")) {
      Path model = checkpoints.resolve(step + "/model.safetensors");
      byte[] bytes = Files.readAllBytes(model);
      bytes[bytes.length - 1] ^= 1;
      Files.write(model, bytes);
    }

    assertThatThrownBy(() -> new TrainingRun(config(8, 2), new PodRoot(run), 0, 1).run())
        .isInstanceOf(CheckpointStore.NoUsableCheckpointException.class)
        .hasMessageContaining("2 checkpoint(s) and none verifies")
        .hasMessageContaining("step-00000004: ")
        .hasMessageContaining("refusing to start over from step 0");
    assertThat(metrics(run)).hasSize(4);  // nothing trained from scratch after the refusal
  }

  @Test
  void dataPackedWithALargerVocabularyThanTheModelsIsRefusedBeforeTraining() throws IOException {
    Path run = root.resolve("qwen-ids");
    try (ShardWriter writer = new ShardWriter(run.resolve("kiln/workspace/data/packed/pretrain"), "packed", 100,
        Long.MAX_VALUE)) {
      // Qwen's <|im_end|> in data for the tiny preset's 512-entry vocabulary.
      PackedSequence sequence = TinySequences.sequence(48, 16, 32, List.of(TinySequences.caption("s", 0, 10, 151645)));
      writer.write("00000000", PackedFormat.toMembers(sequence));
    }

    assertThatThrownBy(() -> new TrainingRun(config(4, 2), new PodRoot(run), 0, 1).run())
        .isInstanceOf(PackedDataset.UnusableException.class)
        .hasMessageContaining("/kiln/workspace/data/packed/pretrain: the packed data holds token id 151645, and the"
            + " model's vocabulary has " + ModelPreset.TINY.dimensions().languageModel().vocabSize() + " entries");
    assertThat(run.resolve("kiln/workspace/metrics/pretrain/metrics.jsonl")).doesNotExist();
  }

  @Test
  void aCheckpointOfAnotherConfigurationIsRefused() throws IOException {
    Path run = newRun("other-config");
    new TrainingRun(config(4, 2), new PodRoot(run), 0, 1).run();
    RunConfig same = config(4, 2);
    RunConfig otherDecay = new RunConfig(same.apiVersion(), same.job(), same.namespace(), same.stage(), same.stageIndex(),
        same.seed(), same.model(), same.initialWeights(), same.data(), same.trainable(),
        new OptimizerSpec(same.optimizer().lr(), same.optimizer().weightDecay() + 0.1, same.optimizer().warmupRatio(),
            null, null, null, null, null, null),
        same.budget(), same.batch(), same.world(), same.precision(), same.checkpoints(), same.metricsDir(), null);
    RunConfig otherLr = new RunConfig(same.apiVersion(), same.job(), same.namespace(), same.stage(), same.stageIndex(),
        same.seed(), same.model(), same.initialWeights(), same.data(), same.trainable(),
        new OptimizerSpec(same.optimizer().lr() / 2, same.optimizer().weightDecay(), same.optimizer().warmupRatio(),
            null, null, null, null, null, null),
        same.budget(), same.batch(), same.world(), same.precision(), same.checkpoints(), same.metricsDir(), null);

    assertThatThrownBy(() -> new TrainingRun(otherDecay, new PodRoot(run), 0, 1).run())
        .isInstanceOf(TrainingRun.ConfigMismatchException.class)
        .hasMessageContaining("step-00000004 was trained under another configuration of stage pretrain");
    // Where the ranks run is not part of the recipe: another world and rendezvous port still resume.
    assertThat(same.trainingHash()).isEqualTo(config(4, 2, new RunConfig.World(2, 0, 2, ShardingStrategy.SHARD_GRAD_OP,
        29600)).trainingHash());
    assertThat(otherDecay.trainingHash()).isNotEqualTo(same.trainingHash());
    // A lower learning rate is how a diverged run continues: the same training, resumed.
    assertThat(otherLr.trainingHash()).isEqualTo(same.trainingHash());
  }

  @Test
  void aRunWhoseLossStopsBeingFiniteStopsWithoutApplyingOrSavingTheStep() throws IOException {
    Path run = newRun("diverges");
    RunConfig same = config(20, 1);
    RunConfig hugeLr = new RunConfig(same.apiVersion(), same.job(), same.namespace(), same.stage(), same.stageIndex(),
        same.seed(), same.model(), same.initialWeights(), same.data(), same.trainable(),
        new OptimizerSpec((double) Float.MAX_VALUE, 0.0, 0.0, null, null, null, null, null, null),
        same.budget(), same.batch(), same.world(), same.precision(), same.checkpoints(), same.metricsDir(), null);

    assertThatThrownBy(() -> new TrainingRun(hugeLr, new PodRoot(run), 0, 1).run())
        .isInstanceOf(TrainingRun.DivergedException.class)
        .hasMessageContaining("training diverged at step ")
        .hasMessageContaining("Lower optimizer.lr");
    List<JsonNode> m = metrics(run);
    long diverged = m.size() + 1;
    assertThat(diverged).as("an update of 3e38 destroys the weights at once").isLessThanOrEqualTo(3);
    assertThat(m).allSatisfy(line -> assertThat(Double.isFinite(line.get("loss").asDouble())).isTrue());
    try (var checkpoints = Files.list(run.resolve("kiln/workspace/checkpoints/pretrain"))) {
      assertThat(checkpoints.map(p -> p.getFileName().toString()).filter(name -> name.startsWith("step-")))
          .as("checkpoints of the steps before it only").allMatch(name -> Long.parseLong(name.substring(5)) < diverged);
    }
  }

  @Test
  void keepsOnlyTheNewestCheckpoints() throws IOException {
    Path run = newRun("retention");

    new TrainingRun(config(10, 2), new PodRoot(run), 0, 1).run();

    CheckpointStore store = new CheckpointStore(run.resolve("kiln/workspace/checkpoints/pretrain"), 3);
    assertThat(store.checkpoints()).extracting(p -> p.getFileName().toString())
        .containsExactly("step-00000010", "step-00000008", "step-00000006");
    assertThat(Files.readString(run.resolve("kiln/workspace/checkpoints/pretrain/latest")).strip()).isEqualTo("step-00000010");
  }
}
