package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.HashMap;
import java.util.Map;

/**
 * The recipe's AvgPoolProjector: adaptive average pooling of the G x G patch grid to q visual
 * tokens (144 in pre-training, 729 = identity in SFT: same weights), then Linear, GELU, Linear
 * into the decoder's width.
 */
final class Projector {

  static final String PREFIX = "projector.";

  private final Parameters p;
  private final int grid;
  private final Map<Integer, NDArray> pooling = new HashMap<>();

  Projector(int visionWidth, int hidden, int decoderWidth, int grid, Parameters p) {
    this.p = p;
    this.grid = grid;
    p.normal(PREFIX + "fc1.weight", 0.02, hidden, visionWidth);
    p.zeros(PREFIX + "fc1.bias", hidden);
    p.normal(PREFIX + "fc2.weight", 0.02, decoderWidth, hidden);
    p.zeros(PREFIX + "fc2.bias", decoderWidth);
  }

  /** Features (N, G*G, w) to visual tokens (N, q, d). */
  NDArray forward(NDArray features, int visualTokens) {
    int side = (int) Math.round(Math.sqrt(visualTokens));
    NDArray x = features;
    if (side != grid) {
      NDArray pool = pooling.computeIfAbsent(side, s -> poolingMatrix(p.manager(), s));
      x = Ops.linear(features.transpose(0, 2, 1), pool, null)          // (N, w, q)
          .transpose(0, 2, 1);                                          // (N, q, w)
    }
    NDArray h = Ops.gelu(Ops.linear(x, p.get(PREFIX + "fc1.weight"), p.get(PREFIX + "fc1.bias"))); // (N, q, hidden)
    return Ops.linear(h, p.get(PREFIX + "fc2.weight"), p.get(PREFIX + "fc2.bias"));                // (N, q, d)
  }

  private NDArray poolingMatrix(NDManager manager, int side) {
    return Parameters.owned(manager.create(AdaptivePooling.matrix(grid, side), new Shape((long) side * side, (long) grid * grid)));
  }
}
