package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AttentionMaskTest {

  NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  /** Rows of {@code length} positions filled with samples of the given lengths, the rest padding. */
  static PackedBatch segments(int length, int[]... rows) {
    int[] segment = new int[rows.length * length];
    for (int r = 0; r < rows.length; r++) {
      int at = 0;
      for (int s = 0; s < rows[r].length; s++) {
        for (int i = 0; i < rows[r][s]; i++) {
          segment[r * length + at++] = s;
        }
      }
      for (; at < length; at++) {
        segment[r * length + at] = -1 - at;
      }
    }
    int n = rows.length * length;
    return new PackedBatch(rows.length, length, 0, new int[n], new int[n], new float[0], 0, 0, segment, new int[n],
        new int[0], new int[0]);
  }

  @Test
  void shortSamplesGetTheBlockWhoseWindowSpansTheFewestKeys() {
    // Samples of at most 20 positions: blocks of 32 need 2 of them (64 keys), blocks of 64 also 2 (128).
    PackedBatch batch = segments(256, new int[] {20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20}, new int[] {7, 19, 13});

    AttentionMask mask = batch.attentionMask(manager);

    assertThat(mask.local()).isTrue();
    assertThat(mask.block()).isEqualTo(32);
    assertThat(mask.window()).isEqualTo(2);
    assertThat(mask.additive().getShape()).isEqualTo(new Shape(2, 1, 8, 32, 64));
  }

  @Test
  void longSamplesAndContinuousRowsAttendDensely() {
    assertThat(segments(256, new int[] {200, 56}).attentionMask(manager).local()).isFalse();
    assertThat(segments(256, new int[] {256}).attentionMask(manager).local()).isFalse();
    assertThat(segments(100, new int[] {10, 10}).attentionMask(manager).local())
        .as("no block size divides 100").isFalse();
  }

  @Test
  void visiblePairsAreTheCausalPairsWithinEachSample() {
    assertThat(segments(64, new int[] {3, 10}, new int[] {5}).visiblePairs()).isEqualTo(6 + 55 + 15);
  }

  @Test
  void blockLocalAttentionEqualsDenseAttentionAndSoDoGradients() {
    Random random = new Random(5);
    int[] first = lengths(random, 256);
    int[] second = lengths(random, 200);
    PackedBatch batch = segments(256, first, second);
    AttentionMask local = batch.attentionMask(manager);
    assertThat(local.local()).isTrue();
    AttentionMask dense = AttentionMask.dense(batch.mask(manager));

    float[][] viaLocal = attentionAndQueryGradient(local);
    float[][] viaDense = attentionAndQueryGradient(dense);

    for (int i = 0; i < 2; i++) {
      float worst = 0;
      for (int j = 0; j < viaDense[i].length; j++) {
        worst = Math.max(worst, Math.abs(viaLocal[i][j] - viaDense[i][j]));
      }
      assertThat(worst).as(i == 0 ? "output" : "gradient of q").isLessThan(1e-5f);
    }
  }

  /** Sample lengths of 1 to 40 filling up to {@code total} positions. */
  private static int[] lengths(Random random, int total) {
    java.util.List<Integer> lengths = new java.util.ArrayList<>();
    int used = 0;
    while (true) {
      int next = 1 + random.nextInt(40);
      if (used + next > total) {
        break;
      }
      lengths.add(next);
      used += next;
    }
    return lengths.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Grouped-query attention (4 query heads, 2 key heads) of fixed random inputs, and d(sum(y * r))/dq. */
  private float[][] attentionAndQueryGradient(AttentionMask mask) {
    try (NDManager step = manager.newSubManager()) {
      step.getEngine().setRandomSeed(11);
      NDArray q = step.randomNormal(new Shape(2, 4, 256, 8));
      NDArray k = step.randomNormal(new Shape(2, 2, 256, 8));
      NDArray v = step.randomNormal(new Shape(2, 2, 256, 8));
      NDArray r = step.randomNormal(new Shape(2, 4, 256, 8));
      q.setRequiresGradient(true);
      try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray y = mask.attend(q, k, v);
        collector.backward(y.mul(r).sum());
        return new float[][] {y.toFloatArray(), q.getGradient().toFloatArray()};
      }
    }
  }
}
