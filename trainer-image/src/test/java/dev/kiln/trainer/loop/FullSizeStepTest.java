package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.model.PackedBatch;
import dev.kiln.model.TinySequences;
import dev.kiln.model.VisionLanguageModel;
import dev.kiln.model.weights.InitialWeights;
import dev.kiln.model.weights.PublishedCheckpoints;
import dev.kiln.model.weights.WeightsCheck;
import dev.kiln.trainer.optim.AdamW;
import dev.kiln.trainer.optim.Gradients;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recipe's own model at full size, on CPU: Qwen2.5-1.5B-Instruct's and SigLIP-so400m-patch14-384's
 * published layouts (written as sparse files by {@code scripts/published-checkpoints.py}: zeros,
 * but norms of one and a patterned token embedding, so that gradients flow) pass the weights
 * check, load bf16 into float32, and the {@code open-qwen2vl-2b} preset trains one projector-only
 * step on two 384 px images: the loss is finite and only the projector changes. Minutes and
 * ~20 GB: {@code ./build test-full-size}, not part of {@code ./build test}.
 */
@Tag("full-size")
@Timeout(value = 40, unit = TimeUnit.MINUTES)
class FullSizeStepTest {

  @TempDir
  Path dir;

  @Test
  void publishedFoldersLoadAndTheRecipesModelTrainsAProjectorStep() throws IOException {
    ModelDimensions dims = ModelPreset.OPEN_QWEN2VL_2B.dimensions();
    long started = System.nanoTime();
    Path lm = PublishedCheckpoints.qwen2(dir.resolve("Qwen2.5-1.5B-Instruct"), dims, 2, "norms");
    Path vision = PublishedCheckpoints.siglip(dir.resolve("siglip-so400m-patch14-384"), dims, "norms");
    report("written", started);

    WeightsCheck.Report check = WeightsCheck.check(dims, lm, vision);
    System.out.println(check.describe());
    assertThat(check.problems()).isEmpty();
    report("checked", started);

    try (NDManager manager = NDManager.newBaseManager(); VisionLanguageModel model = new VisionLanguageModel(dims, manager, 7)) {
      report("model built", started);
      InitialWeights.loadChecked(model, lm, vision);
      report("loaded", started);
      model.setTrainable(List.of(TrainablePart.PROJECTOR));
      Map<String, float[]> frozen = new LinkedHashMap<>();
      for (String name : List.of("model.norm.weight", "model.layers.27.mlp.down_proj.weight",
          "vision_model.encoder.layers.25.layer_norm2.weight", "vision_model.embeddings.patch_embedding.weight")) {
        frozen.put(name, model.parameters().get(name).toFloatArray());
      }
      Map<String, float[]> projector = new LinkedHashMap<>();
      model.parameters().trainable().forEach((name, array) -> projector.put(name, array.toFloatArray()));
      assertThat(projector.keySet()).allMatch(name -> name.startsWith("projector."));

      PackedBatch batch = PackedBatch.of(List.of(TinySequences.sequence(400, 144, 384, List.of(
          TinySequences.caption("a", 0, 10, 11, 12, 13, 14, 15),
          TinySequences.caption("b", 1, 20, 21, 22, 23)))), 400, PackedAttention.PER_SAMPLE, 0);
      AdamW optimizer = new AdamW(new OptimizerSpec(1e-3, 0.0, 0.0, null, null, null, null, null, null), manager);
      Gradients gradients = new Gradients();
      float loss;
      try (NDManager step = manager.newSubManager();
          GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray value = model.loss(batch, step);
        loss = value.getFloat();
        report("forward", started);
        collector.backward(value);
        report("backward", started);
      }
      optimizer.step(model.parameters().trainable(), gradients, 1e-3, 1.0);
      report("one step (loss " + loss + ")", started);

      assertThat(Float.isFinite(loss)).as("loss %s", loss).isTrue();
      // Arrays.equals: an assertion on 14M boxed floats would take longer than the step.
      frozen.forEach((name, values) -> assertThat(Arrays.equals(model.parameters().get(name).toFloatArray(), values))
          .as("%s unchanged", name).isTrue());
      assertThat(projector.entrySet()).as("the projector trained")
          .anyMatch(e -> !Arrays.equals(model.parameters().get(e.getKey()).toFloatArray(), e.getValue()));
    }
  }

  /** Seconds since {@code started} and the process's peak resident memory so far. */
  private static void report(String what, long started) throws IOException {
    String peak = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM:"))
        .findFirst().orElse("VmHWM: ?").replaceAll("\\s+", " ");
    System.out.printf("full size: %s after %.1f s, peak RSS %s%n", what, (System.nanoTime() - started) / 1e9, peak);
  }
}
