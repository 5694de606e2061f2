package dev.kiln.trainer.synthetic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.image.Images;
import dev.kiln.data.text.SampleTokens;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.trainer.loop.TrainingRun;
import dev.kiln.model.Generator;
import dev.kiln.model.VisionLanguageModel;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Answer accuracy on held-out question-answer samples: the model answers by greedy decoding
 * after {@code <|im_start|>assistant\n}; chance is the mean of 1/(number of possible answers).
 * The blind baseline asks the same questions about a blank image: what the model gets from the
 * question alone (at best the most common answer), so accuracy above it comes from looking.
 */
public final class Evaluation {

  /**
   * Accuracy, accuracy with a blank image, chance, how many questions were asked, and the accuracy
   * on each kind of question (colour, shape, side, in {@link ShapesData#QUESTIONS} order).
   */
  public record Result(double accuracy, double blind, double chance, int questions, List<Double> byQuestion) {}

  static final int MAX_ANSWER_TOKENS = 3;

  private Evaluation() {}

  public static Result run(VisionLanguageModel model, TextTokenizer tokenizer, Path evalDir, int visualTokens)
      throws IOException {
    List<Path> shards;
    try (Stream<Path> files = Files.list(evalDir)) {
      shards = files.filter(p -> p.getFileName().toString().startsWith("eval-")).sorted().toList();
    }
    List<Sample> samples = new ShardReader(new Problems()).readAll(shards);
    ObjectMapper json = new ObjectMapper();
    byte[] blank = blankImage(model.dimensions().vision().imageSize());
    int correct = 0;
    int blindCorrect = 0;
    int[] asks = new int[ShapesData.QUESTIONS.size()];
    int[] rights = new int[ShapesData.QUESTIONS.size()];
    double chance = 0;
    for (Sample sample : samples) {
      JsonNode node = json.readTree(sample.members().get("json"));
      int question = node.get("question").asInt();
      String truth = node.get("conversations").get(1).get("value").asText();
      String asked = node.get("conversations").get(0).get("value").asText().replace(SampleTokens.IMAGE_MARKER + "\n", "");
      byte[] jpeg = Images.encodeJpeg(Images.resizeSquare(Images.decode(sample.members().get("png")),
          model.dimensions().vision().imageSize()), 0.9f);
      String answer = answer(model, tokenizer, jpeg, asked, visualTokens);
      asks[question]++;
      if (answer.equals(truth)) {
        correct++;
        rights[question]++;
      }
      if (answer(model, tokenizer, blank, asked, visualTokens).equals(truth)) {
        blindCorrect++;
      }
      chance += 1.0 / switch (question) {
        case 0 -> ShapesData.COLORS.size();
        case 1 -> ShapesData.SHAPES.size();
        default -> ShapesData.SIDES.size();
      };
    }
    List<Double> byQuestion = new ArrayList<>();
    for (int q = 0; q < asks.length; q++) {
      byQuestion.add(asks[q] == 0 ? Double.NaN : (double) rights[q] / asks[q]);
    }
    return new Result((double) correct / samples.size(), (double) blindCorrect / samples.size(), chance / samples.size(),
        samples.size(), byQuestion);
  }

  /** A uniform image in the shapes' background grey: the same size and encoding, nothing to see. */
  static byte[] blankImage(int size) {
    BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setColor(new Color(ShapesData.MEAN_SHADE, ShapesData.MEAN_SHADE, ShapesData.MEAN_SHADE));
    g.fillRect(0, 0, size, size);
    g.dispose();
    return Images.encodeJpeg(image, 0.9f);
  }

  /** Greedy answer to one question about one image. */
  public static String answer(VisionLanguageModel model, TextTokenizer tokenizer, byte[] jpeg, String question,
      int visualTokens) {
    return new Generator(model, TrainingRun.PAD_TOKEN).answer(tokenizer, jpeg, question, visualTokens, MAX_ANSWER_TOKENS);
  }
}
