package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.text.SampleTokens;
import dev.kiln.data.text.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Greedy decoding from prompts with at most one image each: the model's most likely next token,
 * appended until the stop token or a length limit, several prompts side by side as the rows of
 * one batch. Used by evaluation and by the MLM-Filter scorer. No key-value cache: prompts and
 * answers here are short, and each step's tensors are freed before the next.
 */
public final class Generator {

  private final VisionLanguageModel model;
  private final int padToken;

  public Generator(VisionLanguageModel model, int padToken) {
    this.model = model;
    this.padToken = padToken;
  }

  /**
   * Greedy answer to one question about one image in the chat layout the model was tuned on
   * ({@link SampleTokens#prompt}), up to the end of the assistant's turn.
   */
  public String answer(TextTokenizer tokenizer, byte[] jpeg, String question, int visualTokens, int maxTokens) {
    return answers(tokenizer, java.util.Arrays.asList(jpeg), List.of(question), visualTokens, maxTokens).getFirst();
  }

  /** Greedy answers to several questions, each about its own image, decoded side by side. */
  public List<String> answers(TextTokenizer tokenizer, List<byte[]> jpegs, List<String> questions, int visualTokens,
      int maxTokens) {
    List<Prompt> prompts = new ArrayList<>();
    for (int i = 0; i < questions.size(); i++) {
      SampleTokens prompt = SampleTokens.prompt(tokenizer, questions.get(i), true);
      prompts.add(new Prompt(prompt.tokens(), prompt.imagePosition(), jpegs.get(i)));
    }
    int stop = tokenizer.chatMarkers().turnEnd();
    return greedy(prompts, visualTokens, maxTokens, stop).stream().map(ids -> tokenizer.decode(ids).strip()).toList();
  }

  /** Token ids to continue, with the place of their image placeholder (-1 for none) and the image, or null. */
  public record Prompt(int[] tokens, int imagePosition, byte[] jpeg) {}

  /**
   * Greedy continuations of several prompts at once: each a row of one batch, padded to the
   * longest, its next token read at its own last position; a row that reaches the stop token (or
   * {@code maxTokens}) leaves the batch. Each answer is the one its prompt gets alone.
   */
  public List<int[]> greedy(List<Prompt> prompts, int visualTokens, int maxTokens, int stopToken) {
    List<List<Integer>> generated = new ArrayList<>();
    prompts.forEach(p -> generated.add(new ArrayList<>()));
    List<Integer> active = new ArrayList<>(IntStream.range(0, prompts.size()).boxed().toList());
    for (int step = 0; step < maxTokens && !active.isEmpty(); step++) {
      try (NDManager scope = model.parameters().manager().newSubManager()) {
        int[] lengths = new int[active.size()];
        List<int[]> ids = new ArrayList<>();
        for (int r = 0; r < active.size(); r++) {
          Prompt prompt = prompts.get(active.get(r));
          int[] row = IntStream.concat(IntStream.of(prompt.tokens()),
              generated.get(active.get(r)).stream().mapToInt(Integer::intValue)).toArray();
          ids.add(row);
          lengths[r] = prompt.imagePosition() < 0 ? row.length : row.length - 1 + visualTokens;
        }
        int length = java.util.Arrays.stream(lengths).max().orElseThrow();
        List<PackedSequence> rows = new ArrayList<>();
        for (int r = 0; r < active.size(); r++) {
          Prompt prompt = prompts.get(active.get(r));
          PackedSequence.Segment segment = new PackedSequence.Segment("prompt", "generate", ids.get(r),
              prompt.imagePosition(), prompt.imagePosition() < 0 ? -1 : 0, List.of());
          rows.add(new PackedSequence("prompt-" + active.get(r), length, visualTokens,
              model.dimensions().vision().imageSize(), List.of(segment),
              prompt.jpeg() == null ? List.of() : List.of(prompt.jpeg())));
        }
        PackedBatch batch = PackedBatch.of(rows, length, PackedAttention.PER_SAMPLE, padToken);
        int[] last = java.util.Arrays.stream(lengths).map(n -> n - 1).toArray();
        long[] next = model.logitsAt(batch, last, scope).argMax(1).toLongArray(); // (R)
        List<Integer> still = new ArrayList<>();
        for (int r = 0; r < active.size(); r++) {
          if (next[r] != stopToken) {
            generated.get(active.get(r)).add((int) next[r]);
            still.add(active.get(r));
          }
        }
        active = still;
      }
    }
    return generated.stream().map(g -> g.stream().mapToInt(Integer::intValue).toArray()).toList();
  }
}
