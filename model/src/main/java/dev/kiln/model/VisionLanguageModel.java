package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Embedding;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.TrainablePart;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The whole model, read top-down: images through the vision encoder and the projector, their
 * visual tokens spliced in at the image positions of the packed text, the decoder over the
 * result, and cross-entropy on the target positions.
 */
public final class VisionLanguageModel implements AutoCloseable {

  private final ModelDimensions dims;
  private final Parameters parameters;
  private final VisionEncoder vision;
  private final Projector projector;
  private final Decoder decoder;

  public VisionLanguageModel(ModelDimensions dims, NDManager manager, long seed) {
    this.dims = dims;
    this.parameters = new Parameters(manager, seed);
    this.vision = new VisionEncoder(dims.vision(), parameters);
    this.projector = new Projector(dims.vision().width(), dims.projectorHidden(), dims.languageModel().hiddenSize(),
        dims.vision().gridSize(), parameters);
    this.decoder = new Decoder(dims.languageModel(), parameters);
  }

  /**
   * The tensors a model of these dimensions has, by HF-layout name with their shapes, computed
   * without allocating any: what initial weights and checkpoints must hold.
   */
  public static Map<String, Shape> layout(ModelDimensions dims) {
    Parameters declared = Parameters.layoutOnly();
    new VisionEncoder(dims.vision(), declared);
    new Projector(dims.vision().width(), dims.projectorHidden(), dims.languageModel().hiddenSize(),
        dims.vision().gridSize(), declared);
    new Decoder(dims.languageModel(), declared);
    return declared.shapes();
  }

  public ModelDimensions dimensions() {
    return dims;
  }

  public Parameters parameters() {
    return parameters;
  }

  /** Trains exactly these parts; the rest is frozen (no gradients, no optimizer state). */
  public void setTrainable(List<TrainablePart> parts) {
    parameters.setTrainable(name -> true, false);
    for (TrainablePart part : parts) {
      String prefix = switch (part) {
        case VISION -> VisionEncoder.PREFIX;
        case PROJECTOR -> Projector.PREFIX;
        case LANGUAGE_MODEL -> Decoder.PREFIX;
      };
      parameters.setTrainable(name -> name.startsWith(prefix) || (part == TrainablePart.LANGUAGE_MODEL
          && name.equals("lm_head.weight")), true);
    }
  }

  /** Final hidden states (B, T, d) of a packed batch. */
  public NDArray hidden(PackedBatch batch, NDManager step) {
    DecoderInput in = decoderInput(batch, step);
    return decoder.forward(in.x(), in.cos(), in.signedSin(), in.mask());              // (B, T, d)
  }

  /** Mean cross-entropy over the batch's target positions (a scalar). */
  public NDArray loss(PackedBatch batch, NDManager step) {
    return loss(batch, step, hidden(batch, step));
  }

  /**
   * The loss of a packed batch, with the gradients of loss x {@code lossScale} / {@code accumulation}
   * added to the trainable parameters' (the caller holds a gradient collector).
   *
   * <p>With {@code recompute}, the decoder's blocks first run forward keeping nothing for backward
   * but each block's input (B x T x d floats a block); then backward runs block by block from the
   * last, each block run forward again from its input just before its own backward. One block's
   * activations are alive at a time, for a second forward pass of the decoder.
   */
  public float lossAndGradients(PackedBatch batch, NDManager step, double lossScale, int accumulation,
      boolean recompute) {
    return lossAndGradients(batch, step, lossScale, accumulation, recompute, HEAD_CHUNK);
  }

  /**
   * Logits of at most this many (target, vocabulary entry) pairs exist at a time in training: 0.5
   * GB in float32. 151,936 columns at a few thousand targets (SFT answers) would be gigabytes.
   */
  public static final long HEAD_CHUNK = 1L << 27;

  float lossAndGradients(PackedBatch batch, NDManager step, double lossScale, int accumulation, boolean recompute,
      long headChunk) {
    if (!recompute) {
      return headLossAndBackward(batch, step, hidden(batch, step), lossScale, accumulation, headChunk);
    }
    DecoderInput in = decoderInput(batch, step);
    int layers = dims.languageModel().layers();
    List<NDArray> blockInputs = new ArrayList<>(layers);
    NDArray x = in.x().stopGradient();                                                  // (B, T, d), a leaf
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      for (int i = 0; i < layers; i++) {
        blockInputs.add(x);
        x = decoder.block(i, x, in.cos(), in.signedSin(), in.mask());                   // (B, T, d), no graph
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    x.setRequiresGradient(true);
    float loss = headLossAndBackward(batch, step, decoder.norm(x), lossScale, accumulation, headChunk);
    NDArray upstream = x.getGradient();                                                 // (B, T, d)
    for (int i = layers - 1; i >= 0; i--) {
      NDArray input = blockInputs.get(i);
      input.setRequiresGradient(true);
      NDArray output = decoder.block(i, input, in.cos(), in.signedSin(), in.mask());   // (B, T, d)
      backward(output, upstream);
      output.close();
      upstream.close();
      upstream = input.getGradient();                                                   // (B, T, d)
    }
    boolean imagesTrained = batch.images() > 0
        && (parameters.anyTrainable(Projector.PREFIX) || parameters.anyTrainable(VisionEncoder.PREFIX));
    if (imagesTrained || parameters.anyTrainable(Decoder.PREFIX + "embed_tokens.")) {   // else nothing before the blocks learns
      backward(in.x(), upstream);
    }
    return loss;
  }

  /**
   * The loss from the final hidden states (B, T, d), and its backward into them. When the targets'
   * logits would exceed {@code chunk} values they never exist whole: a chunk of targets at a time
   * is projected onto the vocabulary, scored and backpropagated into the targets' hidden states,
   * then freed before the next chunk.
   */
  private float headLossAndBackward(PackedBatch batch, NDManager step, NDArray hidden, double lossScale, int accumulation,
      long chunk) {
    int targets = batch.targets().length;
    long vocab = dims.languageModel().vocabSize();
    if ((long) targets * vocab <= chunk) {
      NDArray loss = loss(batch, step, hidden);
      backward(scaled(loss, lossScale, accumulation), null);
      return loss.getFloat();
    }
    NDArray selected = selected(batch, step, hidden);                                   // (M, d)
    NDArray leaf = selected.stopGradient();                                             // (M, d), a leaf
    leaf.setRequiresGradient(true);
    int rows = (int) Math.max(1, chunk / vocab);
    double logProbabilities = 0;
    for (int from = 0; from < targets; from += rows) {
      int to = Math.min(targets, from + rows);
      try (NDManager part = step.newSubManager()) {
        NDArray slice = leaf.get(new NDIndex("{}:{}", from, to));                       // (m, d)
        slice.attach(part);
        NDArray logProbs = Ops.logSoftmax(decoder.logits(slice));                      // (m, V)
        NDArray wanted = Parameters.owned(part.create(Arrays.copyOfRange(batch.targets(), from, to),
            new Shape(to - from, 1))).toType(ai.djl.ndarray.types.DataType.INT64, false); // (m, 1)
        NDArray picked = logProbs.gather(wanted, 1).sum();                             // ()
        logProbabilities += picked.getFloat();
        // d(loss x scale / accumulation) / d(picked): a scalar of this batch, engine-owned for the backward pass.
        NDArray weight = Parameters.owned(part.create((float) (-lossScale / accumulation / targets)));
        backward(picked.mul(weight), null);
      }
    }
    backward(selected, leaf.getGradient());
    return (float) (-logProbabilities / targets);
  }

  /** The decoder's input: embeddings with the visual tokens spliced in, rotary tables and the attention mask. */
  private record DecoderInput(NDArray x, NDArray cos, NDArray signedSin, AttentionMask mask) {}

  private DecoderInput decoderInput(PackedBatch batch, NDManager step) {
    NDArray text = decoder.embed(batch.tokenArray(step))                               // (B, T, d)
        .reshape((long) batch.batch() * batch.length(), dims.languageModel().hiddenSize()); // (B*T, d)
    NDArray table = text;
    if (batch.images() > 0) {
      NDArray features = vision.forward(batch.pixelArray(step));                       // (N, G*G, w)
      NDArray visual = projector.forward(features, batch.visualTokens())               // (N, q, d)
          .reshape((long) batch.images() * batch.visualTokens(), dims.languageModel().hiddenSize()); // (N*q, d)
      table = text.concat(visual, 0);                                                  // (B*T + N*q, d)
    }
    NDArray x = Embedding.embedding(batch.gatherIndex(step), table, ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow() // (B*T, d)
        .reshape(batch.batch(), batch.length(), dims.languageModel().hiddenSize());   // (B, T, d)
    int headDim = dims.languageModel().hiddenSize() / dims.languageModel().heads();
    NDArray[] rotary = batch.rotary(step, headDim, dims.languageModel().ropeTheta());  // 2 x (B, 1, T, hd)
    return new DecoderInput(x, rotary[0], rotary[1], batch.attentionMask(step));
  }

  /** The final hidden states (B, T, d) at the batch's target positions: (M, d). */
  private NDArray selected(PackedBatch batch, NDManager step, NDArray hidden) {
    NDArray flat = hidden.reshape((long) batch.batch() * batch.length(), dims.languageModel().hiddenSize()); // (B*T, d)
    NDArray at = Parameters.owned(step.create(batch.targetPositions(), new Shape(batch.targetPositions().length)));
    return Embedding.embedding(at, flat, ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow(); // (M, d)
  }

  private NDArray loss(PackedBatch batch, NDManager step, NDArray hidden) {
    NDArray selected = selected(batch, step, hidden);                                  // (M, d)
    NDArray logProbs = Ops.logSoftmax(decoder.logits(selected));                     // (M, V)
    NDArray targets = Parameters.owned(step.create(batch.targets(), new Shape(batch.targets().length, 1)))
        .toType(ai.djl.ndarray.types.DataType.INT64, false);                            // (M, 1)
    return logProbs.gather(targets, 1).mean().neg();                                   // ()
  }

  private static NDArray scaled(NDArray loss, double lossScale, int accumulation) {
    return loss.mul(Constants.of(lossScale)).div(Constants.of(accumulation));
  }

  /** Backpropagates from {@code output} with upstream gradient {@code gradient} (ones when null), freeing the graph. */
  private static void backward(NDArray output, NDArray gradient) {
    NDArray upstream = gradient != null ? gradient : output.onesLike();
    JniUtils.backward((PtNDArray) output, (PtNDArray) upstream, false, false);
    if (gradient == null) {
      upstream.close();
    }
  }

  /** Logits (B, T, V) of every position, for evaluation and generation. */
  public NDArray logits(PackedBatch batch, NDManager step) {
    return decoder.logits(hidden(batch, step));
  }

  /** Logits (B, V) at one position of each row, {@code positions[b]}: what greedy decoding reads. */
  public NDArray logitsAt(PackedBatch batch, int[] positions, NDManager step) {
    NDArray hidden = hidden(batch, step);                                        // (B, T, d)
    long t = hidden.getShape().get(1);
    long[] rows = new long[positions.length];
    for (int b = 0; b < positions.length; b++) {
      rows[b] = b * t + positions[b];
    }
    NDArray last = hidden.reshape(-1, hidden.getShape().get(2)).get(step.create(rows));   // (B, d)
    return decoder.logits(last);                                                 // (B, V)
  }

  @Override
  public void close() {
    parameters.close();
  }
}
