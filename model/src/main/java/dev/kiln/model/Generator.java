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
 * Greedy decoding from a prompt with at most one image: the model's most likely next token,
 * appended until the stop token or a length limit. Used by evaluation and by the MLM-Filter
 * scorer. No key-value cache: prompts and answers here are short.
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
    SampleTokens prompt = SampleTokens.prompt(tokenizer, question, true);
    int stop = tokenizer.chatMarkers().turnEnd();
    return tokenizer.decode(greedy(prompt.tokens(), prompt.imagePosition(), jpeg, visualTokens, maxTokens, stop)).strip();
  }

  /**
   * @param prompt token ids; {@code imagePosition} holds the image placeholder (-1 for none)
   * @param jpeg the image at the encoder's resolution, or null
   * @return the generated ids, without the stop token
   */
  public int[] greedy(int[] prompt, int imagePosition, byte[] jpeg, int visualTokens, int maxTokens, int stopToken) {
    List<Integer> generated = new ArrayList<>();
    try (NDManager scope = model.parameters().manager().newSubManager()) {
      for (int i = 0; i < maxTokens; i++) {
        int[] ids = IntStream.concat(IntStream.of(prompt), generated.stream().mapToInt(Integer::intValue)).toArray();
        int length = imagePosition < 0 ? ids.length : ids.length - 1 + visualTokens;
        PackedSequence.Segment segment = new PackedSequence.Segment("prompt", "generate", ids, imagePosition,
            imagePosition < 0 ? -1 : 0, List.of());
        PackedSequence sequence = new PackedSequence("prompt", length, visualTokens,
            model.dimensions().vision().imageSize(), List.of(segment), jpeg == null ? List.of() : List.of(jpeg));
        PackedBatch batch = PackedBatch.of(List.of(sequence), length, PackedAttention.PER_SAMPLE, padToken);
        NDArray logits = model.logits(batch, scope);                       // (1, T, V)
        int next = (int) logits.get("0, " + (length - 1)).argMax().getLong();
        if (next == stopToken) {
          break;
        }
        generated.add(next);
      }
    }
    return generated.stream().mapToInt(Integer::intValue).toArray();
  }
}
