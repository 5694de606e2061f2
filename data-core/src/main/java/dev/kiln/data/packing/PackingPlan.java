package dev.kiln.data.packing;

import java.util.List;

/**
 * Which items go into which sequence: bins in creation order, each listing item indexes in the
 * order they were placed. The pack job writes it; the trainer can plan the same way online.
 */
public record PackingPlan(int capacity, List<Bin> bins, List<Integer> oversize, long itemTokens) {

  /** One packed sequence: items (indexes into the planned lengths) and the tokens they use. */
  public record Bin(List<Integer> items, int used) {}

  /** Tokens used over tokens available: 1.0 means no padding at all. */
  public double fill() {
    return bins.isEmpty() ? 0 : (double) itemTokens / ((long) bins.size() * capacity);
  }

  /** Items placed (oversize ones excluded). */
  public int placed() {
    return bins.stream().mapToInt(b -> b.items().size()).sum();
  }
}
