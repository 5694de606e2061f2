package dev.kiln.trainer.synthetic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.image.Images;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.trainer.loop.TrainingRun;
import dev.kiln.model.Generator;
import dev.kiln.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Answer accuracy on held-out question-answer samples: the model answers by greedy decoding
 * after {@code <|im_start|>assistant\n}; chance is the mean of 1/(number of possible answers).
 */
public final class Evaluation {

  /** Accuracy, chance, and how many questions were asked. */
  public record Result(double accuracy, double chance, int questions) {}

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
    int correct = 0;
    double chance = 0;
    for (Sample sample : samples) {
      JsonNode node = json.readTree(sample.members().get("json"));
      int question = node.get("question").asInt();
      String truth = node.get("conversations").get(1).get("value").asText();
      String asked = node.get("conversations").get(0).get("value").asText().replace(TextTokenizer.IMAGE + "\n", "");
      byte[] jpeg = Images.encodeJpeg(Images.resizeSquare(Images.decode(sample.members().get("png")),
          model.dimensions().vision().imageSize()), 0.9f);
      String answer = answer(model, tokenizer, jpeg, asked, visualTokens);
      if (answer.equals(truth)) {
        correct++;
      }
      chance += 1.0 / switch (question) {
        case 0 -> ShapesData.COLORS.size();
        case 1 -> ShapesData.SHAPES.size();
        default -> ShapesData.SIDES.size();
      };
    }
    return new Result((double) correct / samples.size(), chance / samples.size(), samples.size());
  }

  /** Greedy answer to one question about one image. */
  public static String answer(VisionLanguageModel model, TextTokenizer tokenizer, byte[] jpeg, String question,
      int visualTokens) {
    return new Generator(model, TrainingRun.PAD_TOKEN).answer(tokenizer, jpeg, question, visualTokens, MAX_ANSWER_TOKENS);
  }
}
