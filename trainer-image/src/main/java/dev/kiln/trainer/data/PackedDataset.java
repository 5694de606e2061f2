package dev.kiln.trainer.data;

import dev.kiln.data.packed.PackedFormat;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.ShardReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The packed sequences of a stage, in shard order. Sequences hold JPEG bytes, not pixels, so even
 * a large stage's index fits in memory; pixels are decoded by the prefetcher.
 */
public final class PackedDataset {

  /** Packed data a stage cannot train on: missing, damaged, or made with another vocabulary. Not retried. */
  public static final class UnusableException extends IllegalArgumentException {
    public UnusableException(String message) {
      super(message);
    }
  }

  private final List<PackedSequence> sequences;
  private final int largestTokenId;

  private PackedDataset(List<PackedSequence> sequences) {
    this.sequences = sequences;
    this.largestTokenId = sequences.stream().flatMap(s -> s.segments().stream())
        .flatMapToInt(s -> java.util.Arrays.stream(s.tokens())).max().orElse(-1);
  }

  public static PackedDataset load(Path packedDir) {
    List<Path> shards = ShardReader.shardsIn(packedDir);
    if (shards.isEmpty()) {
      throw new UnusableException(packedDir + ": no packed shards (*.tar); did the pack job run?");
    }
    Problems problems = new Problems();
    List<PackedSequence> sequences = new ArrayList<>();
    new ShardReader(problems).forEach(shards, sample -> sequences.add(PackedFormat.fromSample(sample)));
    if (problems.total() > 0) {
      throw new UnusableException(packedDir + ": damaged packed shards: " + problems.counts()
          + " e.g. " + problems.examples());
    }
    return new PackedDataset(List.copyOf(sequences));
  }

  public static PackedDataset of(List<PackedSequence> sequences) {
    return new PackedDataset(List.copyOf(sequences));
  }

  public int size() {
    return sequences.size();
  }

  public PackedSequence get(int index) {
    return sequences.get(index);
  }

  /**
   * Fails unless every token id is below {@code vocabularySize}: data packed with a tokenizer larger
   * than the model's embedding table (the image placeholder, negative, is no token).
   */
  public void checkFits(int vocabularySize, String packedDir) {
    if (largestTokenId >= vocabularySize) {
      throw new UnusableException(packedDir + ": the packed data holds token id " + largestTokenId
          + ", and the model's vocabulary has " + vocabularySize + " entries (model.languageModel.vocabSize):"
          + " pack with the tokenizer the model was made for (its manifest.json records the tokenizer's size),"
          + " or give the model a vocabulary that large");
    }
  }

  /** Visual tokens and sequence length of the packed data (the same for every sequence). */
  public PackedSequence first() {
    return sequences.getFirst();
  }
}
