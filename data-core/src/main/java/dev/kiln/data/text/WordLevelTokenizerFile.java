package dev.kiln.data.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a word-level HuggingFace {@code tokenizer.json} (lower-casing, whitespace and
 * punctuation split) for synthetic data: the quickstart's vocabulary is a few hundred words.
 * Special tokens come first, with fixed ids: {@code <unk>} 0, {@code <pad>} 1, then BOS, an
 * {@code <image>} token (unused since the image placeholder is no token; kept so that the words'
 * ids, and so the quickstart's numbers, stay as they were), {@code <|im_end|>} (end of text and of
 * a turn) and {@code <|im_start|>}.
 */
public final class WordLevelTokenizerFile {

  public static final List<String> SPECIAL = List.of("<unk>", "<pad>", "<s>", "<image>",
      TextTokenizer.TURN_END, TextTokenizer.TURN_START);

  private WordLevelTokenizerFile() {}

  public static void write(Path file, List<String> words) {
    ObjectMapper json = new ObjectMapper();
    Set<String> vocabulary = new LinkedHashSet<>(SPECIAL);
    words.forEach(w -> vocabulary.add(w.toLowerCase(java.util.Locale.ROOT)));
    ObjectNode root = json.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    int id = 0;
    for (String special : SPECIAL) {
      ObjectNode token = added.addObject();
      token.put("id", id++);
      token.put("content", special);
      token.put("single_word", false);
      token.put("lstrip", false);
      token.put("rstrip", false);
      token.put("normalized", false);
      token.put("special", true);
    }
    root.putObject("normalizer").put("type", "Lowercase");
    root.putObject("pre_tokenizer").put("type", "Whitespace");
    root.putNull("post_processor");
    root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "WordLevel");
    ObjectNode vocab = model.putObject("vocab");
    int index = 0;
    for (String word : vocabulary) {
      vocab.put(word, index++);
    }
    model.put("unk_token", "<unk>");
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }
}
