package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.sizing.ParameterCounts;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.trainer.checkpoint.Failpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints never hold the model or its optimizer state in the heap: a trainer whose heap is a
 * tenth of its weights and moments writes a checkpoint, dies, resumes from it, and ends where an
 * uninterrupted run would (same step, same checkpoint contents).
 */
class StreamingCheckpointTest {

  static final String HEAP = "-Xmx128m";
  static final long HEAP_BYTES = 128L << 20;

  @TempDir
  Path root;

  @Test
  @Timeout(value = 8, unit = TimeUnit.MINUTES)
  void aModelTenTimesTheHeapSavesAndResumes() throws Exception {
    // 98M parameters: 0.4 GB of weights and 0.8 GB of moments against 128 MiB of heap; its largest tensor is 11 MB.
    ModelDimensions dims = new ModelDimensions(ModelPreset.TINY.dimensions().vision(), 64,
        new LanguageModelSpec(1024, 8, 8, 2, 2816, 8192, null, null, null));
    long stateBytes = 12 * ParameterCounts.total(dims);
    assertThat(stateBytes).as("weights and moments against the heap").isGreaterThan(8 * HEAP_BYTES);
    RunConfig config = withModel(TrainingRunTest.config(4, 2), dims);

    Path run = TrainingRunTest.newRun(root, "resumed");
    assertThat(TrainerCrashTest.exit(TrainerCrashTest.start(run, config, "pointer-moved@2", HEAP)))
        .as("killed once its step-2 checkpoint was complete").isEqualTo(Failpoint.EXIT);
    CheckpointStore store = new CheckpointStore(run.resolve("kiln/workspace/checkpoints/pretrain"), 3);
    assertThat(CheckpointStore.load(store.checkpoints().getFirst()).state().step()).isEqualTo(2);
    assertThat(TrainerCrashTest.exit(TrainerCrashTest.start(run, config, null, HEAP))).as(() -> log(run)).isZero();
    assertThat(Files.readString(run.resolve("trainer.log"))).contains("resuming from").doesNotContain("OutOfMemoryError");

    Path straight = TrainingRunTest.newRun(root, "straight");
    assertThat(TrainerCrashTest.exit(TrainerCrashTest.start(straight, config, null, HEAP))).as(() -> log(straight)).isZero();
    var resumed = CheckpointStore.load(store.checkpoints().getFirst());
    var uninterrupted = CheckpointStore.load(new CheckpointStore(straight.resolve("kiln/workspace/checkpoints/pretrain"), 3)
        .checkpoints().getFirst());
    assertThat(resumed.state().step()).isEqualTo(4);
    assertThat(Files.mismatch(resumed.path().resolve(CheckpointStore.MODEL), uninterrupted.path().resolve(CheckpointStore.MODEL)))
        .as("the resumed run's weights, byte for byte").isEqualTo(-1);
    assertThat(Files.mismatch(resumed.path().resolve(CheckpointStore.OPTIMIZER),
        uninterrupted.path().resolve(CheckpointStore.OPTIMIZER))).as("and its moments").isEqualTo(-1);
  }

  /** The end of a run's trainer log, for a failed assertion's message. */
  static String log(Path run) {
    try {
      String log = Files.readString(run.resolve("trainer.log"));
      return log.substring(Math.max(0, log.length() - 4000));
    } catch (java.io.IOException e) {
      return "no trainer log: " + e;
    }
  }

  static RunConfig withModel(RunConfig c, ModelDimensions dims) {
    return new RunConfig(c.apiVersion(), c.job(), c.namespace(), c.stage(), c.stageIndex(), c.seed(), dims,
        c.initialWeights(), c.data(), c.trainable(), c.optimizer(), c.budget(), c.batch(), c.world(), c.precision(),
        c.checkpoints(), c.metricsDir(), c.recomputeActivations());
  }
}
