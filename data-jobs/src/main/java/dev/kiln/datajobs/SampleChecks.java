package dev.kiln.datajobs;

import dev.kiln.data.image.Images;
import dev.kiln.data.webdataset.Sample;
import java.awt.image.BufferedImage;
import java.nio.charset.CharacterCodingException;
import java.util.Optional;

/** What every image-text sample must have before any filter or packer looks at it. */
public final class SampleChecks {

  public static final String MISSING_IMAGE = "missing_image";
  public static final String MISSING_TEXT = "missing_text";
  public static final String EMPTY_TEXT = "empty_text";
  public static final String TEXT_NOT_UTF8 = "text_not_utf8";
  public static final String UNDECODABLE_IMAGE = "undecodable_image";

  /** A captioned sample decoded for a scoring model: the image and caption, or why it cannot be scored. */
  public record Captioned(BufferedImage image, String caption, String problem) {}

  private SampleChecks() {}

  /** The reason the sample is unusable, or empty when it has an image and a UTF-8 caption or conversation. */
  public static Optional<String> problem(Sample sample) {
    if (sample.image().isEmpty()) {
      return Optional.of(MISSING_IMAGE);
    }
    String ext = sample.members().containsKey("txt") ? "txt" : sample.members().containsKey("json") ? "json" : null;
    if (ext == null) {
      return Optional.of(MISSING_TEXT);
    }
    try {
      if (sample.text(ext).orElse("").isBlank()) {
        return Optional.of(EMPTY_TEXT);
      }
    } catch (CharacterCodingException e) {
      return Optional.of(TEXT_NOT_UTF8);
    }
    return Optional.empty();
  }

  /** The decoded image and the {@code txt} caption, or the problem (undecodable image, no caption). */
  public static Captioned captioned(Sample sample) {
    BufferedImage image = sample.image().map(e -> Images.decode(e.getValue())).orElse(null);
    if (image == null) {
      return new Captioned(null, null, UNDECODABLE_IMAGE);
    }
    try {
      String caption = sample.text("txt").orElse("");
      return caption.isBlank() ? new Captioned(image, null, EMPTY_TEXT) : new Captioned(image, caption, null);
    } catch (CharacterCodingException e) {
      return new Captioned(image, null, TEXT_NOT_UTF8);
    }
  }
}
