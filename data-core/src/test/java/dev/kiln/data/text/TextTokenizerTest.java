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
  void specialTokensAreFoundByTheirUsualNamesWithoutAConfig() {
    assertThat(tokenizer.bos()).hasValue(2);
    assertThat(tokenizer.endOfText()).isEqualTo(4);
    assertThat(tokenizer.chatMarkers()).isEqualTo(new TextTokenizer.ChatMarkers(5, 4));
    assertThat(tokenizer.conventions()).isEqualTo(new TextTokenizer.Conventions(6 + 14, "<s>", "<|im_end|>", true));
  }

  @Test
  void aConfigBesideTheFileNamesTheBosAndEosTokens() throws Exception {
    Files.writeString(dir.resolve(TextTokenizer.CONFIG_FILE), """
        {"bos_token": null, "eos_token": {"content": "<|im_start|>", "special": true}}""");

    try (TextTokenizer configured = TextTokenizer.load(dir.resolve("tokenizer.json"))) {
      assertThat(configured.bos()).isEmpty();
      assertThat(configured.endOfText()).isEqualTo(5);
      assertThat(SampleTokens.caption(configured, "red").tokens())
          .containsExactly(SampleTokens.IMAGE_PLACEHOLDER, configured.encode("red")[0], 5);
    }
  }

  @Test
  void aConfigNamingATokenTheVocabularyLacksIsRejectedByName() throws Exception {
    Files.writeString(dir.resolve(TextTokenizer.CONFIG_FILE), """
        {"eos_token": "</s>"}""");

    assertThatThrownBy(() -> TextTokenizer.load(dir.resolve("tokenizer.json")))
        .hasMessageContaining(TextTokenizer.CONFIG_FILE).hasMessageContaining("eos_token </s>");
  }

  @Test
  void neverTruncates() {
    int[] ids = tokenizer.encode("word ".repeat(2000));

    assertThat(ids).hasSize(2000);
  }

  @Test
  void captionIsBosImageNewlineCaptionEos() {
    SampleTokens sample = SampleTokens.caption(tokenizer, "A red circle");

    assertThat(sample.tokens()).containsExactly(2, SampleTokens.IMAGE_PLACEHOLDER, tokenizer.encode("a")[0],
        tokenizer.encode("red")[0], tokenizer.encode("circle")[0], 4);
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
    assertThat(t[0]).isEqualTo(2);
    assertThat(t[sample.imagePosition()]).isEqualTo(SampleTokens.IMAGE_PLACEHOLDER);
    assertThat(sample.lossSpans()).singleElement().satisfies(span -> {
      assertThat(java.util.Arrays.copyOfRange(t, span[0], span[1])).containsExactly(tokenizer.encode("red")[0], 4);
    });
  }

  @Test
  void aTokenizerWithoutAnEndOfTextTokenIsRejectedByName() throws Exception {
    Path file = dir.resolve("plain.json");
    Files.writeString(file, Files.readString(dir.resolve("tokenizer.json")).replace("<|im_end|>", "<|turn_end|>"));

    assertThatThrownBy(() -> TextTokenizer.load(file)).hasMessageContaining("plain.json")
        .hasMessageContaining("end-of-text");
  }

  @Test
  void aTokenizerWithoutChatMarkersLaysOutCaptionsButNotConversations() throws Exception {
    Path file = dir.resolve("plain.json");
    Files.writeString(file, Files.readString(dir.resolve("tokenizer.json")).replace("<|im_start|>", "<|turn|>"));

    try (TextTokenizer plain = TextTokenizer.load(file)) {
      assertThat(plain.chat()).isEmpty();
      assertThat(SampleTokens.caption(plain, "red").tokens()).hasSize(4);
      assertThatThrownBy(() -> SampleTokens.conversation(plain, List.of(new SampleTokens.Turn("gpt", "red")), false))
          .hasMessageContaining("plain.json").hasMessageContaining("ChatML");
    }
  }
}
