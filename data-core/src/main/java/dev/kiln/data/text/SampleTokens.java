package dev.kiln.data.text;

import java.util.ArrayList;
import java.util.List;

/**
 * A sample's token ids as the recipe lays them out, with the spans the loss is computed on.
 * {@code imagePosition} is the index of the single image placeholder (-1 without an image); in
 * the model it stands for {@code visualTokens} embeddings, so a sample occupies
 * {@code tokens.length - 1 + visualTokens} positions.
 */
public record SampleTokens(int[] tokens, int imagePosition, List<int[]> lossSpans) {

  /** Positions this sample takes in a packed sequence. */
  public int length(int visualTokens) {
    return imagePosition < 0 ? tokens.length : tokens.length - 1 + visualTokens;
  }

  /** Pre-training: {@code <s> <image> "\n" caption <|im_end|>}, loss on everything after the image. */
  public static SampleTokens caption(TextTokenizer tokenizer, String caption) {
    int[] text = tokenizer.encode("\n" + caption.strip());
    int[] tokens = new int[text.length + 3];
    tokens[0] = tokenizer.bos();
    tokens[1] = tokenizer.image();
    System.arraycopy(text, 0, tokens, 2, text.length);
    tokens[tokens.length - 1] = tokenizer.eos();
    return new SampleTokens(tokens, 1, List.of(new int[] {2, tokens.length}));
  }

  /** One turn of an instruction conversation. */
  public record Turn(String role, String text) {}

  /**
   * SFT: {@code <s>}, then per turn {@code <|im_start|>role\n text <|im_end|>}; the image
   * placeholder replaces {@code <image>} in the first user turn (or opens it). Loss on the
   * assistant's words and its {@code <|im_end|>} only.
   */
  public static SampleTokens conversation(TextTokenizer tokenizer, List<Turn> turns, boolean hasImage) {
    List<Integer> tokens = new ArrayList<>();
    List<int[]> loss = new ArrayList<>();
    int imagePosition = -1;
    tokens.add(tokenizer.bos());
    for (Turn turn : turns) {
      boolean assistant = turn.role().equals("assistant") || turn.role().equals("gpt");
      String role = assistant ? "assistant" : "user";
      tokens.add(tokenizer.turnStart());
      addAll(tokens, tokenizer.encode(role + "\n"));
      String text = turn.text();
      if (!assistant && hasImage && imagePosition < 0) {
        int at = text.indexOf(TextTokenizer.IMAGE);
        String before = at < 0 ? "" : text.substring(0, at);
        String after = at < 0 ? text : text.substring(at + TextTokenizer.IMAGE.length());
        addAll(tokens, tokenizer.encode(before));
        imagePosition = tokens.size();
        tokens.add(tokenizer.image());
        text = after;
      } else {
        text = text.replace(TextTokenizer.IMAGE, "");
      }
      int start = tokens.size();
      addAll(tokens, tokenizer.encode(text.strip()));
      tokens.add(tokenizer.eos());
      if (assistant) {
        loss.add(new int[] {start, tokens.size()});
      }
    }
    return new SampleTokens(tokens.stream().mapToInt(Integer::intValue).toArray(), imagePosition, List.copyOf(loss));
  }

  private static void addAll(List<Integer> into, int[] ids) {
    for (int id : ids) {
      into.add(id);
    }
  }
}
