package dev.kiln.model;

import dev.kiln.data.image.Images;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.text.SampleTokens;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Hand-made packed sequences for model tests: captions with images, known token ids. */
public final class TinySequences {

  private TinySequences() {}

  public static byte[] image(int seed, int size) {
    Random random = new Random(seed);
    BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setColor(new Color(random.nextInt(0xffffff)));
    g.fillRect(0, 0, size, size);
    g.dispose();
    return Images.encodeJpeg(image, 0.95f);
  }

  /** A caption segment: BOS(2), the image placeholder, words..., EOS(4); loss after the image. */
  public static PackedSequence.Segment caption(String key, int image, int... words) {
    int[] tokens = new int[words.length + 3];
    tokens[0] = 2;
    tokens[1] = SampleTokens.IMAGE_PLACEHOLDER;
    System.arraycopy(words, 0, tokens, 2, words.length);
    tokens[tokens.length - 1] = 4;
    return new PackedSequence.Segment(key, "test", tokens, 1, image, List.of(new int[] {2, tokens.length}));
  }

  /** One sequence holding the given segments, each with its own image. */
  public static PackedSequence sequence(int length, int visualTokens, int imageSize, List<PackedSequence.Segment> segments) {
    List<byte[]> images = new ArrayList<>();
    for (int i = 0; i < segments.size(); i++) {
      images.add(image(i * 31 + segments.get(i).tokens().length, imageSize));
    }
    return new PackedSequence("s", length, visualTokens, imageSize, segments, images);
  }
}
