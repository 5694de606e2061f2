package dev.kiln.data.packing;

import java.util.ArrayList;
import java.util.List;

/**
 * Bin packing that fills each sequence as fully as the remaining samples allow: a subset-sum
 * over the lengths still left (bounded by how many of each there are, as a bitset of reachable
 * sums) finds the fullest combination, exact wherever the lengths allow, preferring longer samples
 * so that short ones stay to complete later sequences; the combination is then used for as many
 * sequences as its lengths last, as cutting-stock planners reuse a pattern. Samples of one length
 * are taken in index order, so the plan is deterministic. About 0.999 of 4096 positions on the
 * recipe's captions, where first-fit-decreasing leaves 0.98 ({@code kiln bench packing}). Items
 * longer than the capacity are reported, not truncated.
 */
public final class BinCompletion {

  private BinCompletion() {}

  public static PackingPlan plan(int[] lengths, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1, found " + capacity);
    }
    int[] order = FirstFitDecreasing.longestFirst(lengths, capacity);
    List<Integer> oversize = new ArrayList<>();
    int[] count = new int[capacity + 1];
    for (int item : order) {
      if (lengths[item] > capacity) {
        oversize.add(item);
      } else {
        count[lengths[item]]++;
      }
    }
    // Items of each length, in index order (longestFirst keeps index order among equals).
    int[] next = new int[capacity + 2];
    for (int length = 1, at = 0; length <= capacity; length++) {
      next[length] = at;
      at += count[length];
    }
    int[] byLength = new int[lengths.length - oversize.size()];
    int[] fill = next.clone();
    for (int item : order) {
      if (lengths[item] <= capacity) {
        byLength[fill[lengths[item]]++] = item;
      }
    }

    List<PackingPlan.Bin> bins = new ArrayList<>();
    long tokens = 0;
    int left = byLength.length;
    while (left > 0) {
      int[] pattern = fullestCombination(count, capacity);  // pairs: length, how many
      int repeat = Integer.MAX_VALUE;
      int used = 0;
      for (int p = 0; p < pattern.length; p += 2) {
        repeat = Math.min(repeat, count[pattern[p]] / pattern[p + 1]);
        used += pattern[p] * pattern[p + 1];
      }
      for (int r = 0; r < repeat; r++) {
        List<Integer> items = new ArrayList<>();
        for (int p = 0; p < pattern.length; p += 2) {
          for (int k = 0; k < pattern[p + 1]; k++) {
            items.add(byLength[next[pattern[p]]++]);
          }
        }
        bins.add(new PackingPlan.Bin(List.copyOf(items), used));
      }
      for (int p = 0; p < pattern.length; p += 2) {
        count[pattern[p]] -= repeat * pattern[p + 1];
        left -= repeat * pattern[p + 1];
      }
      tokens += (long) repeat * used;
    }
    return new PackingPlan(capacity, List.copyOf(bins), List.copyOf(oversize), tokens);
  }

  /**
   * The fullest combination of the lengths left that fits {@code capacity}, as (length, how many)
   * pairs, longest first. Lengths are tried longest first, each in binary-split lots (1, 2, 4, ...
   * of it), and the search stops as soon as the capacity is reachable exactly; walking back, a lot
   * is left out whenever the sum was reachable without it, so longer lengths are preferred.
   */
  static int[] fullestCombination(int[] count, int capacity) {
    int words = (capacity >>> 6) + 1;
    long[] reach = new long[words];
    reach[0] = 1L;
    List<long[]> before = new ArrayList<>();
    List<int[]> lots = new ArrayList<>();  // length, how many
    for (int length = capacity; length >= 1 && !bit(reach, capacity); length--) {
      int available = Math.min(count[length], capacity / length);
      for (int lot = 1; available > 0 && !bit(reach, capacity); lot <<= 1) {
        int take = Math.min(lot, available);
        available -= take;
        before.add(reach.clone());
        lots.add(new int[] {length, take});
        shiftOr(reach, length * take, capacity);
      }
    }
    int sum = capacity;
    while (!bit(reach, sum)) {
      sum--;
    }
    int[] howMany = new int[capacity + 1];
    for (int i = lots.size() - 1; i >= 0 && sum > 0; i--) {
      if (!bit(before.get(i), sum)) {
        howMany[lots.get(i)[0]] += lots.get(i)[1];
        sum -= lots.get(i)[0] * lots.get(i)[1];
      }
    }
    List<Integer> pairs = new ArrayList<>();
    for (int length = capacity; length >= 1; length--) {
      if (howMany[length] > 0) {
        pairs.add(length);
        pairs.add(howMany[length]);
      }
    }
    return pairs.stream().mapToInt(Integer::intValue).toArray();
  }

  private static boolean bit(long[] bits, int index) {
    return (bits[index >>> 6] & (1L << (index & 63))) != 0;
  }

  /** {@code bits |= bits << shift}, keeping sums up to {@code capacity}. */
  private static void shiftOr(long[] bits, int shift, int capacity) {
    int wordShift = shift >>> 6;
    int bitShift = shift & 63;
    for (int w = bits.length - 1; w >= wordShift; w--) {
      long moved = bits[w - wordShift] << bitShift;
      if (bitShift != 0 && w - wordShift - 1 >= 0) {
        moved |= bits[w - wordShift - 1] >>> (64 - bitShift);
      }
      bits[w] |= moved;
    }
    int last = capacity & 63;
    bits[bits.length - 1] &= last == 63 ? -1L : (1L << (last + 1)) - 1;
  }
}
