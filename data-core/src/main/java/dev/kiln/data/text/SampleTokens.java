package dev.kiln.data.text;

import java.util.ArrayList;
import java.util.List;

/**
 * A sample's token ids as the recipe lays them out, with the spans the loss is computed on.
 * {@code imagePosition} is the index of the single image placeholder (-1 without an image); in
 * the model it stands for {@code visualTokens} embeddings, so a sample occupies
 * {@code tokens.length - 1 + visualTokens} positions. The placeholder is not a token of any
 * vocabulary ({@link #IMAGE_PLACEHOLDER}, as in the recipe): the position says where the image goes.
 */
public record SampleTokens(int[] tokens, int imagePosition, List<int[]> lossSpans) {

  /** The id at an image's position: no token (the recipe's -200); the model puts the image there. */
  public static final int IMAGE_PLACEHOLDER = -200;
  /** Where a conversation's text puts its image (LLaVA's convention). */
  public static final String IMAGE_MARKER = "<image>";

  /** Positions this sample takes in a packed sequence. */
  public int length(int visualTokens) {
    return imagePosition < 0 ? tokens.length : tokens.length - 1 + visualTokens;
  }

  /**
   * Pre-training: {@code [BOS] <image> "\n" caption EOS}, loss on everything after the image. BOS
   * only where the tokenizer has one; EOS is its end-of-text token.
   */
  public static SampleTokens caption(TextTokenizer tokenizer, String caption) {
    Builder b = new Builder(tokenizer);
    b.image();
    int start = b.size();
    b.text("\n" + caption.strip());
    b.token(tokenizer.endOfText());
    return b.build(List.of(new int[] {start, b.size()}));
  }

  /** One turn of an instruction conversation. */
  public record Turn(String role, String text) {

    /** Whether a turn of this role is the model's: ChatML's {@code assistant} or LLaVA's {@code gpt}. */
    public static boolean isAssistant(String role) {
      return role.equals("assistant") || role.equals("gpt");
    }

    public boolean assistant() {
      return isAssistant(role);
    }

    /** ChatML's role: LLaVA's {@code human}/{@code gpt} become {@code user}/{@code assistant}. */
    String chatRole() {
      return assistant() ? "assistant" : role.equals("system") ? "system" : "user";
    }
  }

  /**
   * SFT in ChatML, as Qwen's chat template writes it: {@code [BOS]}, then per turn
   * {@code <|im_start|>role\n text <|im_end|>\n}; the image placeholder replaces {@code <image>}
   * in the first user turn (or opens it). Loss on the assistant's words and its
   * {@code <|im_end|>} only. Fails naming the tokenizer when it has no ChatML markers.
   */
  public static SampleTokens conversation(TextTokenizer tokenizer, List<Turn> turns, boolean hasImage) {
    Builder b = new Builder(tokenizer);
    List<int[]> loss = new ArrayList<>();
    boolean imagePlaced = !hasImage;
    for (Turn turn : turns) {
      String text = turn.text();
      b.turnStart(turn.chatRole());
      if (!turn.assistant() && !imagePlaced) {
        int at = text.indexOf(IMAGE_MARKER);
        b.text(at < 0 ? "" : text.substring(0, at));
        b.image();
        text = at < 0 ? text : text.substring(at + IMAGE_MARKER.length());
        imagePlaced = true;
      } else {
        text = text.replace(IMAGE_MARKER, "");
      }
      int start = b.size();
      b.text(text.strip());
      b.turnEnd();
      if (turn.assistant()) {
        loss.add(new int[] {start, b.size()});
      }
      b.text("\n");
    }
    return b.build(List.copyOf(loss));
  }

  /**
   * A question to answer, laid out as {@link #conversation} lays out a user's turn, then the
   * assistant's opening {@code <|im_start|>assistant\n}: what generation continues from.
   */
  public static SampleTokens prompt(TextTokenizer tokenizer, String question, boolean hasImage) {
    SampleTokens asked = conversation(tokenizer, List.of(new Turn("user", question)), hasImage);
    Builder b = new Builder(tokenizer, asked);
    b.turnStart("assistant");
    return b.build(List.of());
  }

  /** Appends ids in order; knows where the image went. */
  private static final class Builder {
    private final TextTokenizer tokenizer;
    private final List<Integer> ids = new ArrayList<>();
    private int imagePosition = -1;

    Builder(TextTokenizer tokenizer) {
      this.tokenizer = tokenizer;
      tokenizer.bos().ifPresent(ids::add);
    }

    Builder(TextTokenizer tokenizer, SampleTokens start) {
      this.tokenizer = tokenizer;
      for (int id : start.tokens()) {
        ids.add(id);
      }
      imagePosition = start.imagePosition();
    }

    int size() {
      return ids.size();
    }

    void token(int id) {
      ids.add(id);
    }

    void text(String text) {
      for (int id : tokenizer.encode(text)) {
        ids.add(id);
      }
    }

    void image() {
      imagePosition = ids.size();
      ids.add(IMAGE_PLACEHOLDER);
    }

    void turnStart(String role) {
      ids.add(tokenizer.chatMarkers().turnStart());
      text(role + "\n");
    }

    void turnEnd() {
      ids.add(tokenizer.chatMarkers().turnEnd());
    }

    SampleTokens build(List<int[]> lossSpans) {
      return new SampleTokens(ids.stream().mapToInt(Integer::intValue).toArray(), imagePosition, lossSpans);
    }
  }
}
