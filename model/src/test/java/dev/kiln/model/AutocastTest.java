package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.PackedAttention;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AutocastTest {

  NDManager manager;
  VisionLanguageModel model;

  @BeforeEach
  void build() {
    manager = NDManager.newBaseManager();
    model = new VisionLanguageModel(ModelPreset.TINY.dimensions(), manager, 7);
    model.parameters().setTrainable(name -> true, true);
  }

  @AfterEach
  void close() {
    model.close();
    manager.close();
  }

  @Test
  void matrixProductsRunInFloat16AndReductionsInFloat32() {
    try (NDManager step = manager.newSubManager(); Autocast fp16 = Autocast.fp16()) {
      NDArray x = step.randomNormal(new Shape(2, 8));
      NDArray w = step.randomNormal(new Shape(4, 8));

      NDArray y = Ops.linear(x, w, null);
      NDArray normed = Ops.rmsNorm(y, step.ones(new Shape(4)), 1e-6);

      assertThat(y.getDataType()).isEqualTo(DataType.FLOAT16);
      assertThat(normed.getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(Ops.logSoftmax(y).getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(w.getDataType()).isEqualTo(DataType.FLOAT32);
    }
    assertThat(Autocast.active()).isFalse();
  }

  @Test
  void lossAndGradientsStayCloseToFloat32AndGradientsReachFloat32Weights() {
    PackedBatch batch = PackedBatch.of(List.of(TinySequences.sequence(64, 16, 32, List.of(
        TinySequences.caption("a", 0, 10, 11, 12), TinySequences.caption("b", 1, 20, 21)))), 64,
        PackedAttention.PER_SAMPLE, 1);
    Map<String, float[]> full = new LinkedHashMap<>();
    double fullLoss = lossAndGradients(batch, false, full);
    Map<String, float[]> mixed = new LinkedHashMap<>();
    double mixedLoss = lossAndGradients(batch, true, mixed);

    assertThat(mixedLoss).isNotEqualTo(fullLoss).isCloseTo(fullLoss, within(2e-3 * fullLoss));
    assertThat(mixed.keySet()).containsExactlyElementsOf(full.keySet());
    // float16 keeps about 3 decimal digits: the whole gradient, and each parameter's that is not
    // zero in exact arithmetic (key biases do not change a softmax), point the same way as in float32.
    assertThat(cosine(concat(full), concat(mixed))).isGreaterThan(0.9999);
    double largest = full.values().stream().mapToDouble(AutocastTest::norm).max().orElseThrow();
    full.forEach((name, g) -> {
      if (norm(g) > 1e-3 * largest) {
        assertThat(cosine(g, mixed.get(name))).as(name).isGreaterThan(0.999);
      }
    });
  }

  @Test
  void outsideAScopeNothingChanges() {
    PackedBatch batch = PackedBatch.of(List.of(TinySequences.sequence(64, 16, 32, List.of(
        TinySequences.caption("a", 0, 10, 11, 12)))), 64, PackedAttention.PER_SAMPLE, 1);
    double before = lossAndGradients(batch, false, new LinkedHashMap<>());
    try (Autocast fp16 = Autocast.fp16()) {
      assertThat(Autocast.active()).isTrue();
    }

    assertThat(lossAndGradients(batch, false, new LinkedHashMap<>())).isEqualTo(before);
  }

  private double lossAndGradients(PackedBatch batch, boolean mixed, Map<String, float[]> gradients) {
    double loss;
    try (NDManager step = manager.newSubManager();
        GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      NDArray value;
      try (Autocast fp16 = mixed ? Autocast.fp16() : null) {
        value = model.loss(batch, step);
      }
      assertThat(value.getDataType()).isEqualTo(DataType.FLOAT32);
      loss = value.getFloat();
      collector.backward(value);
    }
    model.parameters().trainable().forEach((name, p) -> {
      NDArray g = p.getGradient();
      assertThat(g.getDataType()).as(name).isEqualTo(DataType.FLOAT32);
      gradients.put(name, g.toFloatArray());
      g.muli(0);
    });
    return loss;
  }

  private static float[] concat(Map<String, float[]> gradients) {
    float[] all = new float[gradients.values().stream().mapToInt(g -> g.length).sum()];
    int at = 0;
    for (float[] g : gradients.values()) {
      System.arraycopy(g, 0, all, at, g.length);
      at += g.length;
    }
    return all;
  }

  private static double norm(float[] a) {
    double squares = 0;
    for (float v : a) {
      squares += (double) v * v;
    }
    return Math.sqrt(squares);
  }

  private static double cosine(float[] a, float[] b) {
    double dot = 0;
    double aa = 0;
    double bb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      aa += (double) a[i] * a[i];
      bb += (double) b[i] * b[i];
    }
    return aa == 0 && bb == 0 ? 1 : dot / Math.sqrt(aa * bb);
  }
}
