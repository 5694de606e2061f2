package dev.kiln.data.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A HuggingFace {@code tokenizer.json} through DJL's tokenizers, with the tokenizer's own special
 * tokens: its beginning-of-sequence token if it has one, its end-of-text token and, for
 * conversations, ChatML's turn markers. A {@code tokenizer_config.json} beside the file names the
 * first two as the model's authors set them ({@code bos_token}, {@code eos_token}: Qwen2.5-Instruct
 * has no BOS and ends with {@code <|im_end|>}); without one they are found by their usual names.
 * Never truncates (DJL's default cuts at 512 tokens) and adds no special tokens on its own.
 */
public final class TextTokenizer implements AutoCloseable {

  public static final String TURN_START = "<|im_start|>";
  public static final String TURN_END = "<|im_end|>";
  public static final String CONFIG_FILE = "tokenizer_config.json";

  /** Names a tokenizer without a config uses for its first token, most common first. */
  static final List<String> BOS_NAMES = List.of("<s>", "<|begin_of_text|>", "<bos>");
  /** ... and for its end-of-text token. */
  static final List<String> END_OF_TEXT_NAMES = List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", TURN_END);

  /** ChatML's turn markers as ids of this tokenizer. */
  public record ChatMarkers(int turnStart, int turnEnd) {}

  /** What a packed dataset records of the tokenizer it was made with; {@code bos} is null when it has none. */
  public record Conventions(int vocabularySize, String bos, String endOfText, boolean chatMl) {}

  private final HuggingFaceTokenizer tokenizer;
  private final Path file;
  private final int vocabularySize;
  private final OptionalInt bos;
  private final int endOfText;
  private final Optional<ChatMarkers> chat;
  private final Conventions conventions;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, Path file, JsonNode json, JsonNode config) {
    this.tokenizer = tokenizer;
    this.file = file;
    Map<String, Integer> special = addedTokens(json);
    this.vocabularySize = vocabularySize(json, special);
    Optional<String> bosName = config != null ? configured(config, "bos_token", special, file)
        : BOS_NAMES.stream().filter(special::containsKey).findFirst();
    String endName = config != null
        ? configured(config, "eos_token", special, file).orElseThrow(() -> missing(file, "eos_token in " + CONFIG_FILE))
        : END_OF_TEXT_NAMES.stream().filter(special::containsKey).findFirst()
            .orElseThrow(() -> missing(file, "an end-of-text token (one of " + END_OF_TEXT_NAMES + ")"));
    this.bos = bosName.map(name -> OptionalInt.of(special.get(name))).orElse(OptionalInt.empty());
    this.endOfText = special.get(endName);
    this.chat = special.containsKey(TURN_START) && special.containsKey(TURN_END)
        ? Optional.of(new ChatMarkers(special.get(TURN_START), special.get(TURN_END))) : Optional.empty();
    this.conventions = new Conventions(vocabularySize, bosName.orElse(null), endName, chat.isPresent());
  }

  /**
   * Loads {@code tokenizer.json} (and the {@code tokenizer_config.json} beside it, if any); fails
   * naming the file when it cannot be read or has no end-of-text token.
   */
  public static TextTokenizer load(Path tokenizerJson) {
    ObjectMapper mapper = new ObjectMapper();
    JsonNode json;
    JsonNode config = null;
    try {
      json = mapper.readTree(tokenizerJson.toFile());
      Path configFile = tokenizerJson.resolveSibling(CONFIG_FILE);
      if (Files.isRegularFile(configFile)) {
        config = mapper.readTree(configFile.toFile());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(tokenizerJson + ": cannot read tokenizer: " + e.getMessage(), e);
    }
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer = HuggingFaceTokenizer.newInstance(tokenizerJson,
          Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"));
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
    }
    try {
      return new TextTokenizer(tokenizer, tokenizerJson, json, config);
    } catch (RuntimeException e) {
      tokenizer.close();
      throw e;
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

  /** Text of the given ids, special tokens left out. */
  public String decode(int[] ids) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      longs[i] = ids[i];
    }
    return tokenizer.decode(longs, true);
  }

  /** The token a sequence starts with, if this tokenizer has one (Qwen's has not). */
  public OptionalInt bos() {
    return bos;
  }

  /** The token that ends a caption: the model's {@code eos_token}. */
  public int endOfText() {
    return endOfText;
  }

  /** ChatML's markers, or empty when the vocabulary has none (then it cannot lay out conversations). */
  public Optional<ChatMarkers> chat() {
    return chat;
  }

  /** The markers, or an error naming this file: conversations need them. */
  public ChatMarkers chatMarkers() {
    return chat.orElseThrow(() -> new IllegalArgumentException(file + ": conversations are laid out in ChatML, and this"
        + " tokenizer has no " + TURN_START + " and " + TURN_END + " tokens"));
  }

  /** One more than the largest id this tokenizer produces: the least vocabulary a model needs for it. */
  public int vocabularySize() {
    return vocabularySize;
  }

  public Conventions conventions() {
    return conventions;
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  /**
   * The added tokens by text. Only these count as special: a byte-level BPE vocabulary has
   * ordinary entries spelled like special tokens (Qwen's has {@code <s>} and {@code </s>}).
   */
  private static Map<String, Integer> addedTokens(JsonNode json) {
    Map<String, Integer> ids = new HashMap<>();
    for (JsonNode added : json.path("added_tokens")) {
      ids.put(added.path("content").asText(), added.path("id").asInt());
    }
    return ids;
  }

  private static int vocabularySize(JsonNode json, Map<String, Integer> added) {
    int largest = added.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
    JsonNode vocab = json.path("model").path("vocab");
    if (vocab.isObject()) {
      for (JsonNode id : vocab) {
        largest = Math.max(largest, id.asInt());
      }
    } else if (vocab.isArray()) {
      largest = Math.max(largest, vocab.size() - 1);  // Unigram: a list of [piece, score], ids are positions
    }
    return largest + 1;
  }

  /** A token {@code tokenizer_config.json} names (a string or {@code {"content": ...}}), or empty for null. */
  private static Optional<String> configured(JsonNode config, String field, Map<String, Integer> ids, Path file) {
    JsonNode value = config.path(field);
    if (value.isMissingNode() || value.isNull()) {
      return Optional.empty();
    }
    String name = value.isObject() ? value.path("content").asText() : value.asText();
    if (!ids.containsKey(name)) {
      throw new IllegalArgumentException(file.resolveSibling(CONFIG_FILE) + ": " + field + " " + name
          + " is not a token of " + file.getFileName());
    }
    return Optional.of(name);
  }

  private static IllegalArgumentException missing(Path file, String what) {
    return new IllegalArgumentException(file + ": the tokenizer has no " + what);
  }
}
