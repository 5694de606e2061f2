package dev.kiln.data.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {

  @TempDir
  Path dir;

  TextTokenizer tokenizer;

  @BeforeEach
  void load() {
    Path file = dir.resolve("tokenizer.json");
    WordLevelTokenizerFile.write(file, List.of("a", "red", "circle", "blue", "square", "what", "color", "is", "the",
        "shape", "?", "user", "assistant", "word"));
    tokenizer = TextTokenizer.load(file);
  }

  @Test
  void specialTokensHaveTheirFixedIds() {
    assertThat(new int[] {tokenizer.bos(), tokenizer.image(), tokenizer.eos(), tokenizer.turnStart()})
        .containsExactly(2, 3, 4, 5);
  }

  @Test
  void neverTruncates() {
    int[] ids = tokenizer.encode("word ".repeat(2000));

    assertThat(ids).hasSize(2000);
  }

  @Test
  void captionIsBosImageNewlineCaptionEos() {
    SampleTokens sample = SampleTokens.caption(tokenizer, "A red circle");

    assertThat(sample.tokens()).containsExactly(2, 3, tokenizer.encode("a")[0], tokenizer.encode("red")[0],
        tokenizer.encode("circle")[0], 4);
    assertThat(sample.imagePosition()).isEqualTo(1);
    assertThat(sample.length(144)).isEqualTo(6 - 1 + 144);
    assertThat(sample.lossSpans()).singleElement().satisfies(s -> assertThat(s).containsExactly(2, 6));
  }

  @Test
  void conversationPutsTheImageInTheFirstUserTurnAndLossOnTheAssistant() {
    SampleTokens sample = SampleTokens.conversation(tokenizer, List.of(
        new SampleTokens.Turn("human", "<image>\nWhat color is the shape?"),
        new SampleTokens.Turn("gpt", "Red")), true);

    int[] t = sample.tokens();
    assertThat(t[0]).isEqualTo(tokenizer.bos());
    assertThat(t[sample.imagePosition()]).isEqualTo(tokenizer.image());
    assertThat(sample.lossSpans()).singleElement().satisfies(span -> {
      assertThat(java.util.Arrays.copyOfRange(t, span[0], span[1]))
          .containsExactly(tokenizer.encode("red")[0], tokenizer.eos());
    });
  }

  @Test
  void aTokenizerWithoutTheSpecialTokensIsRejectedByName() throws Exception {
    Path file = dir.resolve("plain.json");
    Files.writeString(file, Files.readString(dir.resolve("tokenizer.json")).replace("<|im_end|>", "<eos>"));

    assertThatThrownBy(() -> TextTokenizer.load(file)).hasMessageContaining("plain.json")
        .hasMessageContaining("<|im_end|>");
  }
}
