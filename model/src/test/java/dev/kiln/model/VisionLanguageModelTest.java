package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.kiln.api.sizing.MemoryModel;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.model.TinySequences;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class VisionLanguageModelTest {

  NDManager manager;
  VisionLanguageModel model;

  @BeforeEach
  void build() {
    manager = NDManager.newBaseManager();
    model = new VisionLanguageModel(ModelPreset.TINY.dimensions(), manager, 7);
  }

  @AfterEach
  void close() {
    model.close();
    manager.close();
  }

  PackedSequence twoCaptions(int... secondWords) {
    return TinySequences.sequence(64, 16, 32, List.of(
        TinySequences.caption("a", 0, 10, 11, 12),
        TinySequences.caption("b", 1, secondWords)));
  }

  @Test
  void hiddenStatesHaveOneRowPerPosition() {
    try (NDManager step = manager.newSubManager()) {
      PackedBatch batch = PackedBatch.of(List.of(twoCaptions(20, 21)), 64, PackedAttention.PER_SAMPLE, 1);
      NDArray hidden = model.hidden(batch, step);

      assertThat(hidden.getShape().getShape()).containsExactly(1, 64, 64);
      assertThat(batch.usedPositions()).isEqualTo((6 - 1 + 16) + (5 - 1 + 16));
    }
  }

  @Test
  void initialLossIsNearUniformOverTheVocabulary() {
    try (NDManager step = manager.newSubManager()) {
      PackedBatch batch = PackedBatch.of(List.of(twoCaptions(20, 21)), 64, PackedAttention.PER_SAMPLE, 1);
      float loss = model.loss(batch, step).getFloat();

      assertThat((double) loss).isCloseTo(Math.log(512), within(0.3));
      assertThat(batch.targets()).containsExactly(10, 11, 12, 4, 20, 21, 4);
    }
  }

  @Test
  void aTokenNeverSeesAnotherSample() {
    try (NDManager step = manager.newSubManager()) {
      float[] before = model.logits(PackedBatch.of(List.of(twoCaptions(20, 21)), 64, PackedAttention.PER_SAMPLE, 1), step)
          .get("0, :20").toFloatArray();
      float[] after = model.logits(PackedBatch.of(List.of(twoCaptions(30, 31)), 64, PackedAttention.PER_SAMPLE, 1), step)
          .get("0, :20").toFloatArray();

      assertThat(after).containsExactly(before, within(0f));
    }
  }

  @Test
  void inContinuousModeLaterSamplesSeeEarlierOnes() {
    try (NDManager step = manager.newSubManager()) {
      PackedSequence one = TinySequences.sequence(64, 16, 32, List.of(TinySequences.caption("a", 0, 10, 11, 12),
          TinySequences.caption("b", 1, 20)));
      PackedSequence other = TinySequences.sequence(64, 16, 32, List.of(TinySequences.caption("a", 0, 13, 14, 15),
          TinySequences.caption("b", 1, 20)));
      float[] first = model.logits(PackedBatch.of(List.of(one), 64, PackedAttention.CONTINUOUS, 1), step)
          .get("0, 38").toFloatArray();
      float[] second = model.logits(PackedBatch.of(List.of(other), 64, PackedAttention.CONTINUOUS, 1), step)
          .get("0, 38").toFloatArray();
      float[] isolatedFirst = model.logits(PackedBatch.of(List.of(one), 64, PackedAttention.PER_SAMPLE, 1), step)
          .get("0, 38").toFloatArray();
      float[] isolatedSecond = model.logits(PackedBatch.of(List.of(other), 64, PackedAttention.PER_SAMPLE, 1), step)
          .get("0, 38").toFloatArray();

      assertThat(first).isNotEqualTo(second);
      assertThat(isolatedFirst).containsExactly(isolatedSecond, within(0f));
    }
  }

  @Test
  void aSampleHasTheSameLogitsPackedWithOthersAsAlone() {
    // 128 positions of 21-position samples attend block-locally; a row of 40 attends densely.
    PackedSequence.Segment third = TinySequences.caption("c", 2, 40, 41, 42);
    PackedSequence packed = TinySequences.sequence(128, 16, 32, List.of(TinySequences.caption("a", 0, 10, 11, 12),
        TinySequences.caption("b", 1, 20, 21, 22), third, TinySequences.caption("d", 3, 30, 31, 32)));
    PackedSequence alone = new PackedSequence("s", 40, 16, 32, List.of(new PackedSequence.Segment("c", "test",
        third.tokens(), 1, 0, third.loss())), List.of(packed.images().get(2)));
    try (NDManager step = manager.newSubManager()) {
      PackedBatch packedBatch = PackedBatch.of(List.of(packed), 128, PackedAttention.PER_SAMPLE, 1);
      PackedBatch aloneBatch = PackedBatch.of(List.of(alone), 40, PackedAttention.PER_SAMPLE, 1);
      assertThat(packedBatch.attentionMask(step).local()).isTrue();
      assertThat(aloneBatch.attentionMask(step).local()).isFalse();

      float[] inPack = model.logits(packedBatch, step).get("0, 42:63").toFloatArray();
      float[] byItself = model.logits(aloneBatch, step).get("0, :21").toFloatArray();

      assertThat(inPack).containsExactly(byItself, within(1e-4f));
    }
  }

  @Test
  void gradientsReachEveryTrainablePart() {
    try (NDManager step = manager.newSubManager();
        GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      PackedBatch batch = PackedBatch.of(List.of(twoCaptions(20, 21)), 64, PackedAttention.PER_SAMPLE, 1);
      collector.backward(model.loss(batch, step));
    }
    for (String name : List.of("vision_model.embeddings.patch_embedding.weight", "projector.fc1.weight",
        "model.layers.1.mlp.down_proj.weight", "model.embed_tokens.weight")) {
      try (NDArray grad = model.parameters().get(name).getGradient()) {
        assertThat(grad.abs().sum().getFloat()).as(name).isPositive();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(PackedAttention.class)
  void recomputingTheDecoderBlocksGivesTheSameLossAndGradients(PackedAttention attention) {
    PackedBatch first = PackedBatch.of(List.of(twoCaptions(20, 21), twoCaptions(22)), 64, attention, 1);
    PackedBatch second = PackedBatch.of(List.of(twoCaptions(23, 24, 25), twoCaptions(26)), 64, attention, 1);
    Map<String, float[]> kept = new HashMap<>();
    Map<String, float[]> recomputed = new HashMap<>();
    float[] keptLosses = lossesAndGradients(model, false, kept, first, second);
    try (NDManager other = NDManager.newBaseManager();
        VisionLanguageModel twin = new VisionLanguageModel(ModelPreset.TINY.dimensions(), other, 7)) {
      float[] recomputedLosses = lossesAndGradients(twin, true, recomputed, first, second);

      assertThat(recomputedLosses).containsExactly(keptLosses);
    }
    assertThat(recomputed.keySet()).isEqualTo(kept.keySet()).contains("model.layers.0.self_attn.q_proj.weight",
        "vision_model.embeddings.patch_embedding.weight", "projector.fc1.weight", "model.embed_tokens.weight");
    kept.forEach((name, expected) -> {
      float[] actual = recomputed.get(name);
      for (int i = 0; i < expected.length; i++) {
        // Two micro-batches: a parameter's gradient is the same sum, in another order only where
        // one backward adds two contributions (the tied embeddings), so equal to rounding.
        assertThat(actual[i]).as("%s[%d]", name, i).isCloseTo(expected[i], within(1e-6f + 1e-5f * Math.abs(expected[i])));
      }
    });
  }

  @Test
  void scoringTheTargetsAChunkAtATimeGivesTheSameLossAndGradients() {
    PackedBatch batch = PackedBatch.of(List.of(twoCaptions(20, 21), twoCaptions(22, 23, 24)), 64, PackedAttention.PER_SAMPLE, 1);
    Map<String, float[]> whole = new HashMap<>();
    Map<String, float[]> chunked = new HashMap<>();
    float wholeLoss = lossAndGradients(model, whole, batch, VisionLanguageModel.HEAD_CHUNK);
    float chunkedLoss;
    try (NDManager other = NDManager.newBaseManager();
        VisionLanguageModel twin = new VisionLanguageModel(ModelPreset.TINY.dimensions(), other, 7)) {
      // Three targets' logits at a time, of the batch's 15.
      chunkedLoss = lossAndGradients(twin, chunked, batch, 3L * ModelPreset.TINY.dimensions().languageModel().vocabSize());
    }
    assertThat(batch.targets().length).isGreaterThan(6);
    assertThat(VisionLanguageModel.HEAD_CHUNK).as("what the memory model assumes").isEqualTo(MemoryModel.HEAD_CHUNK);
    assertThat(chunkedLoss).isCloseTo(wholeLoss, within(1e-6f * wholeLoss));
    assertThat(chunked.keySet()).isEqualTo(whole.keySet());
    whole.forEach((name, expected) -> {
      float[] actual = chunked.get(name);
      // The hidden states' gradient is summed chunk by chunk, so every gradient upstream of the head
      // is the same sum in another order: equal to rounding, which the CPU's kernels (AVX2, AVX-512)
      // block differently, and which cancellation inside a sum leaves relative to the tensor's
      // largest entry, not to the entry's own size. A chunk scored wrongly or twice would be off by
      // the size of the gradient itself.
      float largest = 0;
      for (float value : expected) {
        largest = Math.max(largest, Math.abs(value));
      }
      for (int i = 0; i < expected.length; i++) {
        assertThat(actual[i]).as("%s[%d]", name, i).isCloseTo(expected[i], within(1e-6f + 1e-4f * largest));
      }
    });
  }

  private static float lossAndGradients(VisionLanguageModel model, Map<String, float[]> gradients, PackedBatch batch,
      long headChunk) {
    float loss;
    try (GradientCollector collector = Engine.getInstance().newGradientCollector();
        NDManager step = model.parameters().manager().newSubManager()) {
      loss = model.lossAndGradients(batch, step, 1, 1, false, headChunk);
    }
    model.parameters().trainable().forEach((name, p) -> {
      try (NDArray grad = p.getGradient()) {
        gradients.put(name, grad.toFloatArray());
      }
    });
    return loss;
  }

  /** Two micro-batches' losses, and every parameter's accumulated gradient by name into {@code gradients}. */
  private static float[] lossesAndGradients(VisionLanguageModel model, boolean recompute, Map<String, float[]> gradients,
      PackedBatch... batches) {
    float[] losses = new float[batches.length];
    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      for (int i = 0; i < batches.length; i++) {
        try (NDManager step = model.parameters().manager().newSubManager()) {
          losses[i] = model.lossAndGradients(batches[i], step, 1, batches.length, recompute);
        }
      }
    }
    model.parameters().trainable().forEach((name, p) -> {
      try (NDArray grad = p.getGradient()) {
        gradients.put(name, grad.toFloatArray());
      }
    });
    return losses;
  }

  @Test
  void greedyGenerationFollowsTheArgmaxOfTheLastPosition() {
    int[] prompt = {2, 5, 3, 20, 21, 4, 5};
    byte[] jpeg = TinySequences.image(3, 32);
    int[] generated = new Generator(model, 1).greedy(List.of(new Generator.Prompt(prompt, 2, jpeg)), 16, 3, -1).getFirst();

    assertThat(generated).hasSize(3);
    try (NDManager step = manager.newSubManager()) {
      int length = prompt.length - 1 + 16;
      PackedSequence.Segment segment = new PackedSequence.Segment("p", "t", prompt, 2, 0, List.of());
      PackedSequence sequence = new PackedSequence("p", length, 16, 32, List.of(segment), List.of(jpeg));
      NDArray logits = model.logits(PackedBatch.of(List.of(sequence), length, PackedAttention.PER_SAMPLE, 1), step);
      assertThat(generated[0]).isEqualTo((int) logits.get("0, " + (length - 1)).argMax().getLong());
    }
    assertThat(new Generator(model, 1).greedy(List.of(new Generator.Prompt(prompt, 2, jpeg)), 16, 3, generated[0])
        .getFirst()).isEmpty();
  }

  @Test
  void promptsDecodedSideBySideGetTheAnswersEachGetsAlone() {
    Generator generator = new Generator(model, 1);
    List<Generator.Prompt> prompts = List.of(
        new Generator.Prompt(new int[] {2, 5, 3, 20, 21, 4, 5}, 2, TinySequences.image(3, 32)),
        new Generator.Prompt(new int[] {2, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 1, TinySequences.image(4, 32)),
        new Generator.Prompt(new int[] {2, 30, 31}, -1, null),
        new Generator.Prompt(new int[] {2, 40, 3, 41, 42}, 2, TinySequences.image(5, 32)));
    List<int[]> alone = prompts.stream().map(p -> generator.greedy(List.of(p), 16, 6, -1).getFirst())
        .toList();
    assertThat(alone).as("positive control: the prompts' answers differ").extracting(java.util.Arrays::toString)
        .doesNotHaveDuplicates();

    List<int[]> together = generator.greedy(prompts, 16, 6, -1);

    for (int i = 0; i < prompts.size(); i++) {
      assertThat(together.get(i)).as("prompt " + i).isEqualTo(alone.get(i));
    }
    int stop = alone.get(1)[2];
    List<int[]> stopped = generator.greedy(prompts, 16, 6, stop);
    assertThat(stopped.get(1)).as("a row leaves the batch at its stop token").hasSizeLessThanOrEqualTo(2);
  }
}
