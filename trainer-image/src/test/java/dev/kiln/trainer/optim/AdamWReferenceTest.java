package dev.kiln.trainer.optim;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.model.Reference;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** AdamW against torch.optim.AdamW (values from the model's reference/make_reference.py). */
class AdamWReferenceTest {

  static JsonNode reference;
  NDManager manager;

  @BeforeAll
  static void load() throws IOException {
    reference = Reference.load();
  }

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  @Test
  void twoAdamWStepsMatchTorchOptimAdamW() {
    JsonNode r = reference.get("adamw");
    NDArray p = Reference.array(manager, r.get("p"), 3, 4);
    p.setRequiresGradient(true);
    Gradients gradients = new Gradients();
    AdamW adamw = new AdamW(new OptimizerSpec(r.get("lr").asDouble(), r.get("weight_decay").asDouble(), 0.0, null, 0.0,
        0.0, r.get("beta1").asDouble(), r.get("beta2").asDouble(), r.get("eps").asDouble()), manager);
    for (String g : new String[] {"g1", "g2"}) {
      // d/dp sum(p * g) = g: the gradient torch was given, produced by autograd here.
      try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        collector.backward(p.mul(Reference.array(manager, r.get(g), 3, 4)).sum());
      }
      adamw.step(Map.of("w.weight", p), gradients, r.get("lr").asDouble(), 1);
      assertThat(gradients.of(p).toFloatArray()).as("consumed").containsOnly(0f);
    }
    Reference.assertClose(p, r.get("after"), 1e-6f);
  }
}
