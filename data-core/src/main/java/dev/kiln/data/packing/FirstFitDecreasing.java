package dev.kiln.data.packing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * First-fit-decreasing bin packing in O(n log n): items sorted longest first (ties by index, so
 * the plan is deterministic), each put into the lowest-numbered bin with room, found through a
 * segment tree of remaining capacities instead of the recipe's scan over every bin (O(n·bins)).
 * Items longer than the capacity cannot be placed and are reported, not truncated.
 */
public final class FirstFitDecreasing {

  private FirstFitDecreasing() {}

  public static PackingPlan plan(int[] lengths, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1, found " + capacity);
    }
    int[] order = longestFirst(lengths, capacity);
    RemainingTree tree = new RemainingTree(Math.max(1, lengths.length), capacity);
    int[] binOf = new int[lengths.length];
    int bins = 0;
    long tokens = 0;
    List<Integer> oversize = new ArrayList<>();
    for (int item : order) {
      int length = lengths[item];
      if (length > capacity) {
        oversize.add(item);
        binOf[item] = -1;
        continue;
      }
      int bin = tree.leftmostWithRoom(length);
      bins = Math.max(bins, bin + 1);
      binOf[item] = bin;
      tree.take(bin, length);
      tokens += length;
    }
    // Items were placed in `order`; list each bin's items in that order.
    int[] counts = new int[bins + 1];
    for (int item : order) {
      if (binOf[item] >= 0) {
        counts[binOf[item] + 1]++;
      }
    }
    for (int b = 0; b < bins; b++) {
      counts[b + 1] += counts[b];
    }
    int[] flat = new int[lengths.length - oversize.size()];
    int[] cursor = java.util.Arrays.copyOf(counts, bins);
    for (int item : order) {
      if (binOf[item] >= 0) {
        flat[cursor[binOf[item]]++] = item;
      }
    }
    List<PackingPlan.Bin> result = new ArrayList<>(bins);
    for (int b = 0; b < bins; b++) {
      Integer[] items = new Integer[counts[b + 1] - counts[b]];
      int used = 0;
      for (int i = 0; i < items.length; i++) {
        items[i] = flat[counts[b] + i];
        used += lengths[items[i]];
      }
      result.add(new PackingPlan.Bin(List.of(items), used));
    }
    return new PackingPlan(capacity, List.copyOf(result), List.copyOf(oversize), tokens);
  }

  /**
   * Item indexes, longest first and by index among equals: a counting sort over lengths up to
   * the capacity (longer ones come first, sorted normally), so ordering is linear in practice.
   */
  static int[] longestFirst(int[] lengths, int capacity) {
    int[] perLength = new int[capacity + 2];
    List<Integer> over = new ArrayList<>();
    for (int i = 0; i < lengths.length; i++) {
      if (lengths[i] < 1) {
        throw new IllegalArgumentException("item " + i + " has length " + lengths[i] + "; lengths must be >= 1");
      }
      if (lengths[i] > capacity) {
        over.add(i);
      } else {
        perLength[capacity - lengths[i] + 1]++;
      }
    }
    over.sort((a, b) -> lengths[a] != lengths[b] ? Integer.compare(lengths[b], lengths[a]) : Integer.compare(a, b));
    for (int k = 1; k < perLength.length; k++) {
      perLength[k] += perLength[k - 1];
    }
    int[] order = new int[lengths.length];
    int o = 0;
    for (int item : over) {
      order[o++] = item;
    }
    for (int i = 0; i < lengths.length; i++) {
      if (lengths[i] <= capacity) {
        order[over.size() + perLength[capacity - lengths[i]]++] = i;
      }
    }
    return order;
  }

  /** Max-segment tree over bins' remaining capacity; unopened bins count as empty (full capacity). */
  static final class RemainingTree {
    private final int leaves;
    private final int[] max;

    RemainingTree(int bins, int capacity) {
      int size = 1;
      while (size < bins) {
        size <<= 1;
      }
      leaves = size;
      max = new int[2 * size];
      Arrays.fill(max, capacity);
    }

    /** Lowest bin index whose remaining capacity is at least {@code length}. */
    int leftmostWithRoom(int length) {
      int node = 1;
      while (node < leaves) {
        node = max[2 * node] >= length ? 2 * node : 2 * node + 1;
      }
      return node - leaves;
    }

    void take(int bin, int length) {
      int node = bin + leaves;
      max[node] -= length;
      for (node >>= 1; node >= 1; node >>= 1) {
        max[node] = Math.max(max[2 * node], max[2 * node + 1]);
      }
    }
  }
}
