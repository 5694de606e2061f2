package dev.kiln.api.sizing;

import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import java.util.Collection;

/**
 * Parameters of each part of the model, from its dimensions alone (matrices and embeddings; norms
 * and biases, under 0.1%, are left out): for sizing memory before a model is built.
 */
public final class ParameterCounts {

  private ParameterCounts() {}

  public static long total(ModelDimensions dims) {
    return vision(dims.vision()) + projector(dims) + languageModel(dims.languageModel());
  }

  /** Parameters of the parts a stage trains. */
  public static long trained(ModelDimensions dims, Collection<TrainablePart> parts) {
    long trained = 0;
    for (TrainablePart part : parts) {
      trained += switch (part) {
        case VISION -> vision(dims.vision());
        case PROJECTOR -> projector(dims);
        case LANGUAGE_MODEL -> languageModel(dims.languageModel());
      };
    }
    return trained;
  }

  /** The encoder as Kiln builds it: every block but the last, whose output the projector does not read. */
  public static long vision(VisionEncoderSpec v) {
    long w = v.width();
    long patches = (long) v.gridSize() * v.gridSize();
    return (v.depth() - 1) * (4 * w * w + 2 * w * v.mlpDim()) + 3L * v.patchSize() * v.patchSize() * w + patches * w;
  }

  /** The projector's two matrices. */
  public static long projector(ModelDimensions dims) {
    return (long) dims.vision().width() * dims.projectorHidden()
        + (long) dims.projectorHidden() * dims.languageModel().hiddenSize();
  }

  /** The decoder's blocks and its embeddings (twice when the output head is not tied to them). */
  public static long languageModel(LanguageModelSpec lm) {
    long d = lm.hiddenSize();
    long kv = d / lm.heads() * lm.kvHeads();
    long perLayer = 2 * d * d + 2 * d * kv + 3 * d * lm.intermediateSize();
    return lm.layers() * perLayer + (lm.tieEmbeddings() ? 1 : 2) * d * lm.vocabSize();
  }
}
