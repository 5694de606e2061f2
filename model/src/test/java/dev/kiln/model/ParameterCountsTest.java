package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.kiln.api.sizing.ParameterCounts;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.TrainablePart;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParameterCountsTest {

  @Test
  void countsFromDimensionsMatchTheBuiltModelPartByPart() {
    ModelDimensions dims = ModelPreset.TINY.dimensions();
    try (NDManager manager = NDManager.newBaseManager();
        VisionLanguageModel model = new VisionLanguageModel(dims, manager, 1)) {
      Parameters built = model.parameters();
      // Norms and biases are left out of the counts: a few % of a tiny model, under 0.1% of a real one.
      assertThat((double) ParameterCounts.vision(dims.vision()))
          .isCloseTo(built.count(n -> n.startsWith(VisionEncoder.PREFIX)), within(0.1 * built.count(n -> n.startsWith(VisionEncoder.PREFIX))));
      assertThat((double) ParameterCounts.projector(dims))
          .isCloseTo(built.count(n -> n.startsWith(Projector.PREFIX)), within(0.1 * built.count(n -> n.startsWith(Projector.PREFIX))));
      assertThat((double) ParameterCounts.total(dims)).isCloseTo(built.count(n -> true), within(0.1 * built.count(n -> true)));
      assertThat(ParameterCounts.trained(dims, List.of(TrainablePart.PROJECTOR)))
          .isEqualTo(ParameterCounts.projector(dims));
    }
  }

  @Test
  void theRecipesModelHasAboutTwoBillionParameters() {
    ModelDimensions dims = ModelPreset.OPEN_QWEN2VL_2B.dimensions();

    assertThat(ParameterCounts.languageModel(dims.languageModel()) / 1e9).isCloseTo(1.54, within(0.01));
    assertThat(ParameterCounts.vision(dims.vision()) / 1e9).as("SigLIP-so400m without its last block").isCloseTo(0.40, within(0.01));
  }
}
