package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The vision encoder on images whose size is not a multiple of the patch, as SigLIP-so400m/14 at 384 px. */
@Timeout(60)
class VisionEncoderTest {

  @Test
  void eachBlockFreesItsIntermediatesAndATrainedEncoderStillGetsItsGradients() {
    VisionEncoderSpec spec = new VisionEncoderSpec(12, 4, 8, 3, 2, 16);
    try (NDManager manager = NDManager.newBaseManager(); Parameters parameters = new Parameters(manager, 5)) {
      VisionEncoder encoder = new VisionEncoder(spec, parameters);
      NDArray images = manager.randomUniform(-1, 1, new Shape(2, 3, 12, 12));
      float[] trained;
      int keptTrained;
      try (NDManager step = manager.newSubManager();
          GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray input = images.duplicate();
        input.attach(step);
        NDArray features = encoder.forward(input);
        trained = features.toFloatArray();
        keptTrained = step.getManagedArrays().size();
        collector.backward(features.square().sum());
      }
      try (NDArray grad = parameters.get(VisionEncoder.layer(0) + "mlp.fc1.weight").getGradient()) {
        assertThat(grad.abs().sum().getFloat()).as("the first block's gradient, through freed handles").isPositive();
      }
      parameters.setTrainable(name -> true, false);
      try (NDManager step = manager.newSubManager()) {
        NDArray input = images.duplicate();
        input.attach(step);
        NDArray features = encoder.forward(input);
        assertThat(features.toFloatArray()).containsExactly(trained);
        assertThat(features.getManager()).isSameAs(step);
        int keptFrozen = step.getManagedArrays().size();
        // The input, the patch embedding's few arrays and each block's output: no block's intermediates.
        assertThat(keptFrozen).isEqualTo(keptTrained).isLessThan(12);
      }
    }
  }

  @Test
  void theRowsAndColumnsAStridedConvolutionNeverReachAreIgnored() {
    // 11 px at 3 px patches: 3 x 3 patches cover 9 px, as 27 patches of 14 cover 378 of 384.
    VisionEncoderSpec spec = new VisionEncoderSpec(11, 3, 8, 2, 2, 16);
    try (NDManager manager = NDManager.newBaseManager(); Parameters parameters = new Parameters(manager, 5)) {
      VisionEncoder encoder = new VisionEncoder(spec, parameters);
      NDArray images = manager.randomUniform(-1, 1, new Shape(2, 3, 11, 11));
      NDArray edgesChanged = images.duplicate();
      edgesChanged.set(new ai.djl.ndarray.index.NDIndex(":, :, 9:, :"), 0.5f);
      edgesChanged.set(new ai.djl.ndarray.index.NDIndex(":, :, :, 9:"), -0.5f);

      NDArray features = encoder.forward(images);

      assertThat(features.getShape()).isEqualTo(new Shape(2, 9, 8));
      assertThat(encoder.forward(edgesChanged).toFloatArray()).containsExactly(features.toFloatArray());
      NDArray insideChanged = images.duplicate();
      insideChanged.set(new ai.djl.ndarray.index.NDIndex(":, :, 8, 8"), 0.9f);
      assertThat(encoder.forward(insideChanged).toFloatArray()).as("positive control: a covered pixel counts")
          .isNotEqualTo(features.toFloatArray());
    }
  }
}
