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
    Integer[] order = new Integer[lengths.length];
    for (int i = 0; i < lengths.length; i++) {
      if (lengths[i] < 1) {
        throw new IllegalArgumentException("item " + i + " has length " + lengths[i] + "; lengths must be >= 1");
      }
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> lengths[a] != lengths[b] ? Integer.compare(lengths[b], lengths[a]) : Integer.compare(a, b));

    RemainingTree tree = new RemainingTree(Math.max(1, lengths.length), capacity);
    List<List<Integer>> bins = new ArrayList<>();
    List<Integer> used = new ArrayList<>();
    List<Integer> oversize = new ArrayList<>();
    long tokens = 0;
    for (int item : order) {
      int length = lengths[item];
      if (length > capacity) {
        oversize.add(item);
        continue;
      }
      int bin = tree.leftmostWithRoom(length);
      if (bin == bins.size()) {
        bins.add(new ArrayList<>());
        used.add(0);
      }
      bins.get(bin).add(item);
      used.set(bin, used.get(bin) + length);
      tree.take(bin, length);
      tokens += length;
    }
    List<PackingPlan.Bin> result = new ArrayList<>(bins.size());
    for (int b = 0; b < bins.size(); b++) {
      result.add(new PackingPlan.Bin(List.copyOf(bins.get(b)), used.get(b)));
    }
    oversize.sort(Integer::compare);
    return new PackingPlan(capacity, List.copyOf(result), List.copyOf(oversize), tokens);
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
