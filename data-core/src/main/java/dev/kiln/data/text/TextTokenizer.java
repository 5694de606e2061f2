package dev.kiln.data.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A HuggingFace {@code tokenizer.json} through DJL's tokenizers, with the recipe's special tokens.
 * Never truncates (DJL's default cuts at 512 tokens) and adds no special tokens on its own: the
 * sample builders place BOS, the image placeholder and EOS where the recipe does.
 */
public final class TextTokenizer implements AutoCloseable {

  public static final String BOS = "<s>";
  public static final String IMAGE = "<image>";
  public static final String EOS = "<|im_end|>";
  public static final String TURN_START = "<|im_start|>";

  private final HuggingFaceTokenizer tokenizer;
  private final int bos;
  private final int image;
  private final int eos;
  private final int turnStart;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, Path file) {
    this.tokenizer = tokenizer;
    this.bos = special(BOS, file);
    this.image = special(IMAGE, file);
    this.eos = special(EOS, file);
    this.turnStart = special(TURN_START, file);
  }

  /** Loads {@code tokenizer.json}; fails naming the file when a special token is missing. */
  public static TextTokenizer load(Path tokenizerJson) {
    try {
      HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(tokenizerJson,
          Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"));
      return new TextTokenizer(tokenizer, tokenizerJson);
    } catch (IOException e) {
      throw new UncheckedIOException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
    }
  }

  /** Token ids of plain text, no special tokens added, never truncated. */
  public int[] encode(String text) {
    Encoding encoding = tokenizer.encode(text, false, false);
    long[] ids = encoding.getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  public String decode(int[] ids) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      longs[i] = ids[i];
    }
    return tokenizer.decode(longs, true);
  }

  public int bos() {
    return bos;
  }

  public int image() {
    return image;
  }

  public int eos() {
    return eos;
  }

  public int turnStart() {
    return turnStart;
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  private int special(String token, Path file) {
    long[] ids = tokenizer.encode(token, false, false).getIds();
    if (ids.length != 1) {
      throw new IllegalArgumentException(file + ": special token " + token + " must be a single token of the vocabulary"
          + " (add it to added_tokens), found " + ids.length + " ids");
    }
    return Math.toIntExact(ids[0]);
  }
}
