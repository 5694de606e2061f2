package dev.kiln.model;

import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;

/**
 * Model FLOPs of training, the way MFU is counted: 6 per parameter per position for what is
 * trained (forward and backward), 2 for what only runs forward (a frozen encoder), and the causal
 * attention term. Used by the trainer benchmark and by {@code kiln estimate}.
 */
public final class TrainingFlops {

  private TrainingFlops() {}

  /**
   * Decoder FLOPs per sequence position for planning: every position a target and dense causal
   * attention over {@code sequenceLength} (the recipe's continuous mode; per-sample attention needs less).
   */
  public static double decoderPerPosition(ModelDimensions dims, int sequenceLength) {
    return decoder(dims, 1, 1, sequenceLength / 2.0);
  }

  /**
   * Decoder FLOPs of a batch, counting only the work the model needs: 6 x non-embedding
   * parameters per position, 6 x d x vocab per target position (the output head runs only where
   * there is a loss) and 12 x L x d per (query, key) pair that may attend (QK^T and AV, forward
   * and backward).
   */
  public static double decoder(ModelDimensions dims, long positions, long targetPositions, double visiblePairs) {
    LanguageModelSpec lm = dims.languageModel();
    long d = lm.hiddenSize();
    long kv = d / lm.heads() * lm.kvHeads();
    long perLayer = d * d * 2 + d * kv * 2 + 3L * d * lm.intermediateSize();
    return 6.0 * lm.layers() * perLayer * positions + 6.0 * d * lm.vocabSize() * targetPositions
        + 12.0 * lm.layers() * d * visiblePairs;
  }

  /** Encoder (all blocks but the last, whose output is not used) and projector FLOPs per image. */
  public static double perImage(ModelDimensions dims, int visualTokens, boolean visionTrained) {
    VisionEncoderSpec v = dims.vision();
    long patches = (long) v.gridSize() * v.gridSize();
    long w = v.width();
    double visionForward = 2.0 * (v.depth() - 1) * patches * (4.0 * w * w + 2.0 * w * v.mlpDim())
        + 2.0 * patches * w * 3 * v.patchSize() * v.patchSize();
    double projector = 6.0 * visualTokens * (w * dims.projectorHidden() + (double) dims.projectorHidden()
        * dims.languageModel().hiddenSize());
    return (visionTrained ? 3 : 1) * visionForward + projector;
  }
}
