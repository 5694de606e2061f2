package dev.kiln.model.mlm;

import ai.djl.ndarray.NDManager;
import dev.kiln.data.image.Images;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.model.Generator;
import dev.kiln.model.weights.ModelFolder;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An MLM-Filter score from a vision-language model of Kiln's own architecture (a
 * {@link ModelFolder} with its tokenizer.json): the model is asked one metric's question (Semantic
 * Understanding, Image-Text Matching, Object Detail Fulfillment or Caption Text Quality) about an
 * image and its caption and answers greedily; the score is the integer that starts the first line
 * of the answer, as MLM-Filter reads it.
 */
public final class MlmScorer implements AutoCloseable {

  /**
   * The Semantic Understanding question, after MLM-Filter's (1-100 scale, the integer alone on
   * the first line). Its exact upstream wording is not reproduced here; a scoring model fine-tuned
   * on another wording is given that one with {@link #load(Path, String)}.
   */
  public static final String SU_PROMPT = "Text Caption: %s\nPlease evaluate if the image contains the visual content"
      + " and semantic details the text caption describes. Give a Semantic Understanding score from 1 to 100,"
      + " as an integer on the first line, not rounded to a multiple of 10.";
  /** Image-Text Matching: whether the caption represents the image's main features and objects. */
  public static final String ITM_PROMPT = "Text Caption: %s\nPlease evaluate if the text caption accurately represents"
      + " the main features and objects of the image. Give an Image-Text Matching score from 1 to 100, as an integer"
      + " on the first line, not rounded to a multiple of 10.";
  /** Object Detail Fulfillment: whether the caption describes the objects' details (colour, size, count, place). */
  public static final String ODF_PROMPT = "Text Caption: %s\nPlease evaluate if the text caption accurately and"
      + " sufficiently describes the details of the objects in the image, such as their color, size, number and"
      + " position. Give an Object Detail Fulfillment score from 1 to 100, as an integer on the first line, not"
      + " rounded to a multiple of 10.";
  /** Caption Text Quality: the caption's own grammar, fluency and readability. */
  public static final String CTQ_PROMPT = "Text Caption: %s\nPlease evaluate the text quality of the caption itself:"
      + " its grammar, fluency and readability. Give a Caption Text Quality score from 1 to 100, as an integer on the"
      + " first line, not rounded to a multiple of 10.";

  /** MLM-Filter's four metrics by their names in a filter spec, each with its own question. */
  public static final Map<String, String> PROMPTS = Map.of(
      "semantic_understanding", SU_PROMPT,
      "image_text_matching", ITM_PROMPT,
      "object_detail_fulfillment", ODF_PROMPT,
      "caption_text_quality", CTQ_PROMPT);

  static final int MAX_NEW_TOKENS = 8;
  static final Pattern LEADING_INTEGER = Pattern.compile("^\\s*(\\d{1,3})(?!\\d)");

  private final NDManager manager;
  private final ModelFolder.Loaded loaded;
  private final TextTokenizer tokenizer;
  private final Generator generator;
  private final String prompt;

  private MlmScorer(NDManager manager, ModelFolder.Loaded loaded, TextTokenizer tokenizer, String prompt) {
    this.manager = manager;
    this.loaded = loaded;
    this.tokenizer = tokenizer;
    this.prompt = prompt;
    // A prompt fills its sequence exactly, so the pad id is never used.
    this.generator = new Generator(loaded.model(), tokenizer.endOfText());
  }

  public static MlmScorer load(Path dir) throws IOException {
    return load(dir, SU_PROMPT);
  }

  /** A scorer asking {@code promptTemplate} ({@code %s} stands for the caption). */
  public static MlmScorer load(Path dir, String promptTemplate) throws IOException {
    return load(dir, promptTemplate, dev.kiln.model.ComputeDevice.cpu());
  }

  /** As {@link #load(Path, String)}, the weights and every forward pass on {@code device}. */
  public static MlmScorer load(Path dir, String promptTemplate, dev.kiln.model.ComputeDevice device) throws IOException {
    NDManager manager = NDManager.newBaseManager(device.device());
    try {
      ModelFolder.Loaded loaded = ModelFolder.read(dir, manager);
      return new MlmScorer(manager, loaded, TextTokenizer.load(dir.resolve(ModelFolder.TOKENIZER)), promptTemplate);
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** The model's answers about several images and their captions, decoded side by side as one batch. */
  public List<String> answers(List<BufferedImage> images, List<String> captions) {
    int size = loaded.model().dimensions().vision().imageSize();
    List<byte[]> jpegs = images.stream().map(image -> Images.encodeJpeg(Images.resizeSquare(image, size), 0.9f)).toList();
    List<String> questions = captions.stream().map(caption -> String.format(prompt, caption)).toList();
    return generator.answers(tokenizer, jpegs, questions, loaded.visualTokens(), MAX_NEW_TOKENS);
  }

  /** The integer starting the answer's first line (0-999), or empty when there is none. */
  public static OptionalInt score(String answer) {
    String firstLine = answer.strip().lines().findFirst().orElse("");
    Matcher m = LEADING_INTEGER.matcher(firstLine);
    return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
  }

  @Override
  public void close() {
    loaded.model().close();
    tokenizer.close();
    manager.close();
  }
}
