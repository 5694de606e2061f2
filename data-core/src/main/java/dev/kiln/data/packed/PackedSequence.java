package dev.kiln.data.packed;

import java.util.List;

/**
 * One packed training sequence: samples placed back to back, each with its tokens, its image
 * (re-encoded at the encoder's resolution) and its loss spans. Attention and positions restart
 * per segment unless the trainer runs in the recipe's continuous mode.
 */
public record PackedSequence(String key, int sequenceLength, int visualTokens, int imageSize, List<Segment> segments,
    List<byte[]> images) {

  /** One sample inside a packed sequence. {@code image} indexes {@link #images()}, -1 for none. */
  public record Segment(String key, String source, int[] tokens, int imagePosition, int image, List<int[]> loss) {

    /** Positions taken, counting the image placeholder as {@code visualTokens}. */
    public int length(int visualTokens) {
      return imagePosition < 0 ? tokens.length : tokens.length - 1 + visualTokens;
    }
  }

  /** Positions used by all segments. */
  public int length() {
    return segments.stream().mapToInt(s -> s.length(visualTokens)).sum();
  }
}
