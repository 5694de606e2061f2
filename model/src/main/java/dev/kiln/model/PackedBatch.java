package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.data.image.Images;
import dev.kiln.data.packed.PackedSequence;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Packed sequences as the model's inputs, laid out in Java: per position either a token id or a
 * slot of an image's visual tokens; segment ids for the block-diagonal causal mask; positions
 * that restart per sample (or run on, in the recipe's continuous mode); and the positions whose
 * next token is a target.
 */
public record PackedBatch(int batch, int length, int visualTokens, int[] tokens, int[] imageSlot, float[] pixels,
    int images, int imageSize, int[] segment, int[] positions, int[] targetPositions, int[] targets) {

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
    float[] mask = new float[batch * length * length];
    for (int r = 0; r < batch; r++) {
      for (int t = 0; t < length; t++) {
        int row = (r * length + t) * length;
        int segT = segment[r * length + t];
        for (int s = 0; s < length; s++) {
          boolean visible = s <= t && segment[r * length + s] == segT;
          mask[row + s] = visible ? 0f : -1e9f;
        }
      }
    }
    return Parameters.owned(manager.create(mask, new Shape(batch, 1, length, length)));
  }

  /** cos and sin tables (B, 1, T, hd) for rotary embeddings at these positions. */
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
        sin[i * headDim + j] = s;
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
