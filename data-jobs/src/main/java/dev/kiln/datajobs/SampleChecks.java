package dev.kiln.datajobs;

import dev.kiln.data.webdataset.Sample;
import java.nio.charset.CharacterCodingException;
import java.util.Optional;

/** What every image-text sample must have before any filter or packer looks at it. */
public final class SampleChecks {

  public static final String MISSING_IMAGE = "missing_image";
  public static final String MISSING_TEXT = "missing_text";
  public static final String EMPTY_TEXT = "empty_text";
  public static final String TEXT_NOT_UTF8 = "text_not_utf8";

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
}
