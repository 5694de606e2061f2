package dev.kiln.trainer.synthetic;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.image.Images;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShapesDataTest {

  @TempDir
  Path root;

  List<Sample> read(String prefix) throws Exception {
    try (Stream<Path> files = Files.list(root.resolve("shapes"))) {
      return new ShardReader(new Problems()).readAll(
          files.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList());
    }
  }

  @Test
  void writesCaptionsWithScoredMismatchesConversationsAndAVocabulary() throws Exception {
    ShapesData.generate(root, 400, 60, 20, 7);

    List<Sample> captions = read("captions-");
    assertThat(captions).hasSize(400);
    ObjectMapper json = new ObjectMapper();
    long low = 0;
    for (Sample s : captions) {
      double score = json.readTree(s.members().get("json")).get("match_score").asDouble();
      low += score < 0.5 ? 1 : 0;
      assertThat(Images.decode(s.members().get("png")).getWidth()).isEqualTo(ShapesData.IMAGE_SIZE);
      assertThat(s.text("txt").orElseThrow()).matches("a (red|green|blue|yellow) (circle|square|triangle) on the (left|right)");
    }
    assertThat((double) low / captions.size()).isBetween(0.08, 0.22);
    assertThat(read("qa-")).hasSize(60);
    assertThat(read("eval-")).hasSize(20);
    try (TextTokenizer tokenizer = TextTokenizer.load(root.resolve("shapes/tokenizer.json"))) {
      assertThat(tokenizer.encode("a yellow triangle on the right")).doesNotContain(0);
    }
  }

  @Test
  void sameSeedSameBytes() throws Exception {
    ShapesData.generate(root.resolve("a"), 50, 10, 5, 3);
    ShapesData.generate(root.resolve("b"), 50, 10, 5, 3);

    assertThat(Files.readAllBytes(root.resolve("a/shapes/captions-000000.tar")))
        .isEqualTo(Files.readAllBytes(root.resolve("b/shapes/captions-000000.tar")));
  }
}
