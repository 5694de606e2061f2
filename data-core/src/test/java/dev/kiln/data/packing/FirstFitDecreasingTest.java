package dev.kiln.data.packing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class FirstFitDecreasingTest {

  @Test
  void recipeLikeLengthsFillAlmostEverything() {
    Random random = new Random(1);
    int[] lengths = IntStream.range(0, 20_000).map(i -> 144 + 8 + random.nextInt(40)).toArray();

    PackingPlan plan = FirstFitDecreasing.plan(lengths, 4096);

    // Every item is at least 152 long, so a bin can end with up to 151 unusable positions.
    assertThat(plan.fill()).isGreaterThan(0.98);
    assertThat(plan.placed()).isEqualTo(lengths.length);
  }

  @RepeatedTest(50)
  void neverOverfillsAndPlacesEveryItemExactlyOnce(org.junit.jupiter.api.RepetitionInfo repetition) {
    Random random = new Random(repetition.getCurrentRepetition());
    int capacity = 16 + random.nextInt(200);
    int[] lengths = IntStream.range(0, random.nextInt(300)).map(i -> 1 + random.nextInt(capacity + 20)).toArray();

    PackingPlan plan = FirstFitDecreasing.plan(lengths, capacity);

    List<Integer> seen = new ArrayList<>(plan.oversize());
    for (PackingPlan.Bin bin : plan.bins()) {
      int used = bin.items().stream().mapToInt(i -> lengths[i]).sum();
      assertThat(used).isEqualTo(bin.used()).isLessThanOrEqualTo(capacity);
      seen.addAll(bin.items());
    }
    assertThat(seen).containsExactlyInAnyOrderElementsOf(IntStream.range(0, lengths.length).boxed().toList());
    assertThat(plan.oversize()).allSatisfy(i -> assertThat(lengths[i]).isGreaterThan(capacity));
    assertThat(plan).isEqualTo(FirstFitDecreasing.plan(lengths, capacity));
    assertThat(plan.bins()).isEqualTo(naiveFirstFitDecreasing(lengths, capacity));
  }

  @RepeatedTest(30)
  void staysWithinTheFirstFitDecreasingBoundOfTheOptimum(org.junit.jupiter.api.RepetitionInfo repetition) {
    Random random = new Random(1000 + repetition.getCurrentRepetition());
    int capacity = 20;
    int[] lengths = IntStream.range(0, 3 + random.nextInt(6)).map(i -> 1 + random.nextInt(capacity)).toArray();

    int bins = FirstFitDecreasing.plan(lengths, capacity).bins().size();

    int optimum = optimum(lengths, capacity);
    assertThat((double) bins).isLessThanOrEqualTo(11.0 / 9 * optimum + 6.0 / 9);
    assertThat(bins).isGreaterThanOrEqualTo(optimum);
  }

  /** The recipe's algorithm: scan every bin for each item. */
  static List<PackingPlan.Bin> naiveFirstFitDecreasing(int[] lengths, int capacity) {
    Integer[] order = IntStream.range(0, lengths.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.comparingInt((Integer i) -> -lengths[i]).thenComparingInt(i -> i));
    List<List<Integer>> bins = new ArrayList<>();
    List<Integer> sums = new ArrayList<>();
    for (int item : order) {
      if (lengths[item] > capacity) {
        continue;
      }
      int b = 0;
      while (b < bins.size() && sums.get(b) + lengths[item] > capacity) {
        b++;
      }
      if (b == bins.size()) {
        bins.add(new ArrayList<>());
        sums.add(0);
      }
      bins.get(b).add(item);
      sums.set(b, sums.get(b) + lengths[item]);
    }
    List<PackingPlan.Bin> out = new ArrayList<>();
    for (int b = 0; b < bins.size(); b++) {
      out.add(new PackingPlan.Bin(List.copyOf(bins.get(b)), sums.get(b)));
    }
    return out;
  }

  /** Fewest bins by exhaustive search (small inputs only). */
  static int optimum(int[] lengths, int capacity) {
    for (int bins = 1; bins <= lengths.length; bins++) {
      if (fits(lengths, 0, new int[bins], capacity)) {
        return bins;
      }
    }
    return lengths.length;
  }

  private static boolean fits(int[] lengths, int item, int[] used, int capacity) {
    if (item == lengths.length) {
      return true;
    }
    for (int b = 0; b < used.length; b++) {
      if (used[b] + lengths[item] <= capacity) {
        used[b] += lengths[item];
        if (fits(lengths, item + 1, used, capacity)) {
          return true;
        }
        used[b] -= lengths[item];
      }
      if (used[b] == 0) {
        break;
      }
    }
    return false;
  }
}
