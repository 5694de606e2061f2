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

  private final List<PackedSequence> sequences;

  private PackedDataset(List<PackedSequence> sequences) {
    this.sequences = sequences;
  }

  public static PackedDataset load(Path packedDir) {
    List<Path> shards = ShardReader.shardsIn(packedDir);
    if (shards.isEmpty()) {
      throw new IllegalArgumentException(packedDir + ": no packed shards (*.tar); did the pack job run?");
    }
    Problems problems = new Problems();
    List<PackedSequence> sequences = new ArrayList<>();
    new ShardReader(problems).forEach(shards, sample -> sequences.add(PackedFormat.fromSample(sample)));
    if (problems.total() > 0) {
      throw new IllegalArgumentException(packedDir + ": damaged packed shards: " + problems.counts()
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

  /** Visual tokens and sequence length of the packed data (the same for every sequence). */
  public PackedSequence first() {
    return sequences.getFirst();
  }
}
