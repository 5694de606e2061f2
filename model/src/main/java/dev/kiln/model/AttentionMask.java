package dev.kiln.model;

import ai.djl.ndarray.NDArray;

/**
 * Which keys each query of a packed batch may see, laid out for the cheapest exact attention:
 * dense, an additive (B, 1, T, T) mask; or block-local, when every sample fits in a few blocks of
 * positions, an additive (B, 1, T/block, block, window*block) mask over each block's window.
 */
record AttentionMask(NDArray additive, int block, int window) {

  static AttentionMask dense(NDArray additive) {
    return new AttentionMask(additive, 0, 0);
  }

  boolean local() {
    return block > 0;
  }

  /** q (B, H, T, hd), k and v (B, Hkv, T, hd) to (B, H, T, hd). */
  NDArray attend(NDArray q, NDArray k, NDArray v) {
    return local() ? Ops.localAttention(q, k, v, additive, block, window) : Ops.attention(q, k, v, additive);
  }
}
