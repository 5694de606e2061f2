package dev.kiln.data.text;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recipe's tokenizer as published (Qwen2.5-Instruct's {@code tokenizer.json} and
 * {@code tokenizer_config.json}, 151,665 ids). The expected ids below were produced by an
 * independent implementation of the same files (transformers.js) for the same text.
 */
class QwenTokenizerTest {

  static final Path FILES = Path.of(System.getProperty("kiln.root", "../"), "testdata", "qwen2.5-tokenizer");
  static final int END_OF_TEXT = 151643;
  static final int IM_START = 151644;
  static final int IM_END = 151645;
  static final int IMAGE = SampleTokens.IMAGE_PLACEHOLDER;

  /** {@code <|im_start|>user\nWhat colour is the circle?<|im_end|>\n<|im_start|>assistant\nThe circle is red.<|im_end|>\n}. */
  static final int[] CONVERSATION = {IM_START, 872, 198, 3838, 12463, 374, 279, 12671, 30, IM_END, 198,
      IM_START, 77091, 198, 785, 12671, 374, 2518, 13, IM_END, 198};
  /** {@code "\nA red circle on the left, next to a blue square."}. */
  static final int[] CAPTION = {198, 32, 2518, 12671, 389, 279, 2115, 11, 1790, 311, 264, 6303, 9334, 13};

  static TextTokenizer qwen;

  @TempDir
  Path dir;

  @BeforeAll
  static void load() {
    qwen = TextTokenizer.load(FILES.resolve("tokenizer.json"));
  }

  @AfterAll
  static void close() {
    qwen.close();
  }

  @Test
  void theConfigSaysNoBosAndImEndAsTheModelsAuthorsSetThem() {
    assertThat(qwen.vocabularySize()).isEqualTo(151_665);
    assertThat(qwen.bos()).isEmpty();
    assertThat(qwen.endOfText()).isEqualTo(IM_END);
    assertThat(qwen.chatMarkers()).isEqualTo(new TextTokenizer.ChatMarkers(IM_START, IM_END));
  }

  @Test
  void withoutTheConfigItsOwnEndOfTextIsUsedAndAnOrdinaryBpeEntryIsNoBos() throws Exception {
    Files.copy(FILES.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));

    try (TextTokenizer alone = TextTokenizer.load(dir.resolve("tokenizer.json"))) {
      assertThat(alone.endOfText()).isEqualTo(END_OF_TEXT);
      assertThat(alone.bos()).as("<s> is BPE entry 128245 of Qwen's vocabulary, not a special token").isEmpty();
    }
  }

  @Test
  void plainTextGetsThePublishedIdsAndIsNeverTruncated() {
    assertThat(qwen.encode("Hello, world")).containsExactly(9707, 11, 1879);
    assertThat(qwen.encode("word ".repeat(1999) + "word")).hasSize(2000);
  }

  @Test
  void aConversationIsTheChatMlTheTokenizerItselfProducesForTheWholeText() {
    SampleTokens sample = SampleTokens.conversation(qwen, List.of(
        new SampleTokens.Turn("human", "What colour is the circle?"),
        new SampleTokens.Turn("gpt", "The circle is red.")), false);

    assertThat(sample.tokens()).containsExactly(CONVERSATION);
    assertThat(sample.tokens()).containsExactly(qwen.encode("<|im_start|>user\nWhat colour is the circle?<|im_end|>\n"
        + "<|im_start|>assistant\nThe circle is red.<|im_end|>\n"));
    assertThat(sample.imagePosition()).isEqualTo(-1);
    assertThat(sample.lossSpans()).singleElement().satisfies(span -> assertThat(Arrays.copyOfRange(sample.tokens(),
        span[0], span[1])).containsExactly(785, 12671, 374, 2518, 13, IM_END));
  }

  @Test
  void theImagePlaceholderTakesTheMarkersPlaceAndIsNoTokenOfTheVocabulary() {
    SampleTokens sample = SampleTokens.conversation(qwen, List.of(
        new SampleTokens.Turn("human", "<image>\nWhat colour is the circle?"),
        new SampleTokens.Turn("gpt", "The circle is red.")), true);

    int[] expected = IntStream.concat(IntStream.concat(Arrays.stream(CONVERSATION, 0, 3), IntStream.of(IMAGE)),
        Arrays.stream(CONVERSATION, 3, CONVERSATION.length)).toArray();
    assertThat(sample.tokens()).containsExactly(expected);
    assertThat(sample.imagePosition()).isEqualTo(3);
    assertThat(sample.length(144)).isEqualTo(CONVERSATION.length + 144);
  }

  @Test
  void aCaptionIsImageNewlineCaptionAndTheModelsEos() {
    SampleTokens sample = SampleTokens.caption(qwen, "A red circle on the left, next to a blue square.");

    int[] expected = IntStream.concat(IntStream.concat(IntStream.of(IMAGE), Arrays.stream(CAPTION)),
        IntStream.of(IM_END)).toArray();
    assertThat(sample.tokens()).containsExactly(expected);
    assertThat(sample.lossSpans()).singleElement().satisfies(span -> assertThat(span).containsExactly(1, expected.length));
  }

  @Test
  void aPromptEndsWhereTheAssistantBeginsAndAnAnswerDecodes() {
    SampleTokens prompt = SampleTokens.prompt(qwen, "What colour is the circle?", false);

    assertThat(prompt.tokens()).containsExactly(Arrays.copyOfRange(CONVERSATION, 0, 14));
    assertThat(qwen.decode(Arrays.copyOfRange(CONVERSATION, 14, 20))).isEqualTo("The circle is red.");
  }
}
