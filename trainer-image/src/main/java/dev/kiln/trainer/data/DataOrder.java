package dev.kiln.trainer.data;

import java.util.SplittableRandom;

/**
 * The order sequences are read in: a seeded permutation per epoch, so the data cursor (epoch,
 * position) is all a checkpoint needs to continue exactly. Rank r of a world of w reads its slice
 * of each global batch.
 */
public final class DataOrder {

  private final int size;
  private final long seed;
  private int cachedEpoch = -1;
  private int[] cached;

  public DataOrder(int size, long seed) {
    this.size = size;
    this.seed = seed;
  }

  /** The sequence index at a global cursor (epoch * size + position). */
  public int at(long cursor) {
    int epoch = (int) (cursor / size);
    if (epoch != cachedEpoch) {
      cached = permutation(epoch);
      cachedEpoch = epoch;
    }
    return cached[(int) (cursor % size)];
  }

  private int[] permutation(int epoch) {
    int[] order = new int[size];
    for (int i = 0; i < size; i++) {
      order[i] = i;
    }
    SplittableRandom random = new SplittableRandom(seed * 1_000_003L + epoch);
    for (int i = size - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }
}
