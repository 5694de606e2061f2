package dev.kiln.trainer.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GradientsTest {

  NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
    manager.getEngine().setRandomSeed(3);
  }

  @AfterEach
  void close() {
    manager.close();
  }

  /** Parameters whose gradients are {@code targets} (d/dp sum(p * t) = t); one spans several chunks. */
  private Map<String, NDArray> withGradients(NDArray... targets) {
    Map<String, NDArray> parameters = new LinkedHashMap<>();
    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      NDArray loss = null;
      for (int i = 0; i < targets.length; i++) {
        NDArray p = manager.randomNormal(targets[i].getShape());
        p.setRequiresGradient(true);
        parameters.put("p" + i + ".weight", p);
        NDArray term = p.mul(targets[i]).sum();
        loss = loss == null ? term : loss.add(term);
      }
      collector.backward(loss);
    }
    return parameters;
  }

  @Test
  void theGlobalNormMatchesTheTensorNormAcrossChunks() {
    NDArray big = manager.randomNormal(new Shape(3 * FloatChunks.CHUNK + 17));
    NDArray small = manager.randomNormal(new Shape(5, 7));
    Map<String, NDArray> parameters = withGradients(big, small);
    double expected = Math.sqrt(big.square().sum().getFloat() + small.square().sum().getFloat());

    double norm = new Gradients().norm(List.copyOf(parameters.values()));

    assertThat(norm).isCloseTo(expected, within(expected * 1e-5));
  }

  @Test
  void clippingInsideTheStepEqualsSteppingOnClippedGradients() {
    NDArray target = manager.randomNormal(new Shape(2 * FloatChunks.CHUNK + 3));
    OptimizerSpec spec = new OptimizerSpec(1e-3, 0.1, 0.0, null, 0.0, 0.0, 0.9, 0.95, 1e-8);
    Map<String, NDArray> folded = withGradients(target);
    Map<String, NDArray> clippedFirst = withGradients(target.mul(0.25f));
    clippedFirst.values().iterator().next().set(folded.values().iterator().next().toFloatArray());
    Gradients gradients = new Gradients();

    new AdamW(spec, manager).step(folded, gradients, 1e-3, 0.25);
    new AdamW(spec, manager).step(clippedFirst, gradients, 1e-3, 1);

    assertThat(folded.values().iterator().next().toFloatArray())
        .containsExactly(clippedFirst.values().iterator().next().toFloatArray());
    assertThat(gradients.of(folded.values().iterator().next()).toFloatArray()).containsOnly(0f);
  }

  @Test
  void theClipCoefficientOnlyEverShrinks() {
    assertThat(Gradients.clipCoefficient(4, 1)).isCloseTo(0.25, within(1e-6));
    assertThat(Gradients.clipCoefficient(0.5, 1)).isEqualTo(1);
    assertThat(Gradients.clipCoefficient(4, 0)).isEqualTo(1);
  }
}
