package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.data.image.Images;
import dev.kiln.data.packed.PackedSequence;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Packed sequences as the model's inputs, laid out in Java: per position either a token id or a
 * slot of an image's visual tokens; segment ids for the block-diagonal causal mask; positions
 * that restart per sample (or run on, in the recipe's continuous mode); and the positions whose
 * next token is a target.
 */
public record PackedBatch(int batch, int length, int visualTokens, int[] tokens, int[] imageSlot, float[] pixels,
    int images, int imageSize, int[] segment, int[] positions, int[] targetPositions, int[] targets) {

  /** Block sizes tried for block-local attention, largest first: a tie keeps the larger (fewer, bigger matmuls). */
  private static final int[] LOCAL_BLOCKS = {256, 128, 64, 32};

  /** Builds a batch of {@code length} positions per row from packed sequences (all of the same visual tokens). */
  public static PackedBatch of(List<PackedSequence> sequences, int length, PackedAttention attention, int padToken) {
    int rows = sequences.size();
    int q = sequences.getFirst().visualTokens();
    int size = sequences.getFirst().imageSize();
    int[] tokens = new int[rows * length];
    int[] imageSlot = new int[rows * length];
    int[] segment = new int[rows * length];
    int[] positions = new int[rows * length];
    List<Integer> targetPositions = new ArrayList<>();
    List<Integer> targets = new ArrayList<>();
    List<byte[]> jpegs = new ArrayList<>();
    java.util.Arrays.fill(imageSlot, -1);
    java.util.Arrays.fill(tokens, padToken);
    for (int r = 0; r < rows; r++) {
      PackedSequence sequence = sequences.get(r);
      int at = r * length;
      int segmentId = 0;
      for (PackedSequence.Segment s : sequence.segments()) {
        int start = at;
        boolean[] lossTarget = new boolean[s.tokens().length];
        for (int[] span : s.loss()) {
          for (int i = span[0]; i < span[1]; i++) {
            lossTarget[i] = true;
          }
        }
        int imageBase = -1;
        if (s.imagePosition() >= 0) {
          imageBase = jpegs.size() * q;
          jpegs.add(sequence.images().get(s.image()));
        }
        for (int i = 0; i < s.tokens().length; i++) {
          if (i == s.imagePosition()) {
            for (int j = 0; j < q; j++) {
              imageSlot[at] = imageBase + j;
              segment[at] = segmentId;
              positions[at] = attention == PackedAttention.PER_SAMPLE ? at - start : at - r * length;
              at++;
            }
            continue;
          }
          if (lossTarget[i] && at > start) {
            // The position before a target token predicts it (image slots included).
            targetPositions.add(at - 1);
            targets.add(s.tokens()[i]);
          }
          tokens[at] = s.tokens()[i];
          segment[at] = segmentId;
          positions[at] = attention == PackedAttention.PER_SAMPLE ? at - start : at - r * length;
          at++;
        }
        if (attention == PackedAttention.PER_SAMPLE) {
          segmentId++;
        }
      }
      for (int pad = at; pad < (r + 1) * length; pad++) {
        segment[pad] = -1 - pad;  // each padding position only sees itself: no empty softmax rows
        positions[pad] = 0;
      }
    }
    float[] pixels = new float[jpegs.size() * 3 * size * size];
    for (int i = 0; i < jpegs.size(); i++) {
      BufferedImage image = Images.decode(jpegs.get(i));
      if (image.getWidth() != size || image.getHeight() != size) {
        image = Images.resizeSquare(image, size);
      }
      fill(image, pixels, i * 3 * size * size, size);
    }
    return new PackedBatch(rows, length, q, tokens, imageSlot, pixels, jpegs.size(), size, segment, positions,
        targetPositions.stream().mapToInt(Integer::intValue).toArray(), targets.stream().mapToInt(Integer::intValue).toArray());
  }

  /** RGB in [0, 255] to CHW in [-1, 1] (SigLIP's mean = std = 0.5). */
  static void fill(BufferedImage image, float[] out, int offset, int size) {
    int plane = size * size;
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        int rgb = image.getRGB(x, y);
        int at = offset + y * size + x;
        out[at] = ((rgb >> 16 & 0xff) / 255f - 0.5f) / 0.5f;
        out[at + plane] = ((rgb >> 8 & 0xff) / 255f - 0.5f) / 0.5f;
        out[at + 2 * plane] = ((rgb & 0xff) / 255f - 0.5f) / 0.5f;
      }
    }
  }

  /** Text tokens counted for throughput: positions holding a token or a visual token. */
  public long usedPositions() {
    long used = 0;
    for (int s : segment) {
      if (s >= 0) {
        used++;
      }
    }
    return used;
  }

  /** The additive attention mask (B, 1, T, T): 0 where query t may see key s, -1e9 elsewhere. */
  NDArray mask(NDManager manager) {
    // Dense is the block-local layout with a single block of T and a window of one block.
    return Parameters.owned(manager.create(additive(length, 1), new Shape(batch, 1, length, length)));
  }

  /**
   * The mask in its cheapest exact layout: block-local with the block size (of {@link #LOCAL_BLOCKS},
   * dividing T) whose window spans the fewest keys, when that span is at most half of T; dense otherwise
   * (long samples, or the recipe's continuous mode, where the last query sees the whole row).
   */
  AttentionMask attentionMask(NDManager manager) {
    int[] earliest = earliestVisibleKeys();
    int bestBlock = 0;
    int bestWindow = 0;
    for (int block : LOCAL_BLOCKS) {
      if (length % block != 0) {
        continue;
      }
      int window = window(earliest, block);
      long span = (long) window * block;
      if (2 * span <= length && (bestBlock == 0 || span < (long) bestWindow * bestBlock)) {
        bestBlock = block;
        bestWindow = window;
      }
    }
    return bestBlock == 0 ? AttentionMask.dense(mask(manager))
        : new AttentionMask(localMask(manager, bestBlock, bestWindow), bestBlock, bestWindow);
  }

  /** The additive mask (B, 1, T/block, block, window*block) of {@link Ops#localAttention}. */
  private NDArray localMask(NDManager manager, int block, int window) {
    return Parameters.owned(manager.create(additive(block, window),
        new Shape(batch, 1, length / block, block, (long) window * block)));
  }

  /** Per query, 0 for each key of its window that it may see, -1e9 elsewhere (keys before the row included). */
  private float[] additive(int block, int window) {
    int span = window * block;
    float[] mask = new float[batch * length * span];
    for (int r = 0; r < batch; r++) {
      for (int t = 0; t < length; t++) {
        int first = (t / block - window + 1) * block;   // key position of the window's first column
        int row = (r * length + t) * span;
        for (int c = 0; c < span; c++) {
          int s = first + c;
          mask[row + c] = s >= 0 && visible(r, t, s) ? 0f : -1e9f;
        }
      }
    }
    return mask;
  }

  /** Blocks of keys each query block needs, its own included: the most over all rows and blocks. */
  private int window(int[] earliest, int block) {
    int window = 1;
    for (int r = 0; r < batch; r++) {
      for (int t = 0; t < length; t++) {
        window = Math.max(window, t / block - earliest[r * length + t] / block + 1);
      }
    }
    return window;
  }

  /** Per position, the first position of its row that it may attend to. */
  private int[] earliestVisibleKeys() {
    int[] earliest = new int[batch * length];
    for (int r = 0; r < batch; r++) {
      Map<Integer, Integer> first = new HashMap<>();
      for (int t = 0; t < length; t++) {
        Integer seen = first.putIfAbsent(segment[r * length + t], t);
        earliest[r * length + t] = seen == null ? t : seen;
      }
    }
    return earliest;
  }

  /** (query, key) pairs that may attend, over the batch's used positions: the work of exact attention. */
  public long visiblePairs() {
    long pairs = 0;
    for (int r = 0; r < batch; r++) {
      Map<Integer, Integer> seen = new HashMap<>();
      for (int t = 0; t < length; t++) {
        int seg = segment[r * length + t];
        if (seg >= 0) {
          pairs += seen.merge(seg, 1, Integer::sum);
        }
      }
    }
    return pairs;
  }

  private boolean visible(int row, int t, int s) {
    return s <= t && segment[row * length + s] == segment[row * length + t];
  }

  /** cos and signed sin tables (B, 1, T, hd) for rotary embeddings at these positions (see {@link Ops#rope}). */
  NDArray[] rotary(NDManager manager, int headDim, double theta) {
    int half = headDim / 2;
    float[] cos = new float[batch * length * headDim];
    float[] sin = new float[batch * length * headDim];
    for (int i = 0; i < batch * length; i++) {
      for (int j = 0; j < half; j++) {
        double invFreq = Math.pow(theta, -2.0 * j / headDim);
        double angle = positions[i] * invFreq;
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[i * headDim + j] = c;
        cos[i * headDim + j + half] = c;
        sin[i * headDim + j] = -s;
        sin[i * headDim + j + half] = s;
      }
    }
    Shape shape = new Shape(batch, 1, length, headDim);
    return new NDArray[] {Parameters.owned(manager.create(cos, shape)), Parameters.owned(manager.create(sin, shape))};
  }

  NDArray tokenArray(NDManager manager) {
    return Parameters.owned(manager.create(tokens, new Shape(batch, length)));
  }

  NDArray pixelArray(NDManager manager) {
    return Parameters.owned(manager.create(pixels, new Shape(images, 3, imageSize, imageSize)));
  }

  /** Row of each position in [text embeddings (B*T rows); image embeddings (images*q rows)]. */
  NDArray gatherIndex(NDManager manager) {
    long[] index = new long[batch * length];
    for (int i = 0; i < index.length; i++) {
      index[i] = imageSlot[i] >= 0 ? (long) batch * length + imageSlot[i] : i;
    }
    return Parameters.owned(manager.create(index, new Shape(index.length)));
  }
}
