package dev.kiln.data.packing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class BinCompletionTest {

  /** 144 visual tokens and a heavy-tailed caption: most short, one in twenty long and descriptive. */
  static int[] recipeLike(int count, long seed) {
    Random random = new Random(seed);
    return IntStream.range(0, count).map(i -> {
      boolean descriptive = random.nextInt(20) == 0;
      int caption = (int) Math.round(Math.exp(Math.log(descriptive ? 160 : 18) + (descriptive ? 0.5 : 0.6) * random.nextGaussian()));
      return 147 + Math.max(1, Math.min(descriptive ? 1024 : 77, caption));
    }).toArray();
  }

  @Test
  void fillsRecipeLikeSequencesAlmostCompletelyWhereFirstFitDecreasingLeavesGaps() {
    int[] lengths = recipeLike(100_000, 3);

    PackingPlan completed = BinCompletion.plan(lengths, 4096);
    PackingPlan firstFit = FirstFitDecreasing.plan(lengths, 4096);

    assertThat(completed.fill()).isGreaterThanOrEqualTo(0.998);
    assertThat(firstFit.fill()).as("positive control: the gap this closes").isLessThan(0.99);
    assertThat(completed.bins().size()).isLessThan(firstFit.bins().size());
    assertThat(completed.placed()).isEqualTo(lengths.length);
  }

  @RepeatedTest(60)
  void neverOverfillsPlacesEveryItemOnceAndPlansTheSameTwice(RepetitionInfo repetition) {
    Random random = new Random(repetition.getCurrentRepetition());
    int capacity = 16 + random.nextInt(200);
    int[] lengths = IntStream.range(0, random.nextInt(400)).map(i -> 1 + random.nextInt(capacity + 20)).toArray();

    PackingPlan plan = BinCompletion.plan(lengths, capacity);

    List<Integer> seen = new ArrayList<>(plan.oversize());
    for (PackingPlan.Bin bin : plan.bins()) {
      int used = bin.items().stream().mapToInt(i -> lengths[i]).sum();
      assertThat(used).isEqualTo(bin.used()).isLessThanOrEqualTo(capacity).isPositive();
      seen.addAll(bin.items());
    }
    assertThat(seen).containsExactlyInAnyOrderElementsOf(IntStream.range(0, lengths.length).boxed().toList());
    assertThat(plan.oversize()).allSatisfy(i -> assertThat(lengths[i]).isGreaterThan(capacity));
    assertThat(plan).isEqualTo(BinCompletion.plan(lengths.clone(), capacity));
  }

  @RepeatedTest(30)
  void needsNoMoreBinsThanFirstFitDecreasingOnSmallCasesAndNeverFewerThanTheOptimum(RepetitionInfo repetition) {
    Random random = new Random(1000 + repetition.getCurrentRepetition());
    int capacity = 20;
    int[] lengths = IntStream.range(0, 3 + random.nextInt(6)).map(i -> 1 + random.nextInt(capacity)).toArray();

    int bins = BinCompletion.plan(lengths, capacity).bins().size();

    int optimum = FirstFitDecreasingTest.optimum(lengths, capacity);
    assertThat(bins).isGreaterThanOrEqualTo(optimum);
    assertThat((double) bins).isLessThanOrEqualTo(11.0 / 9 * optimum + 6.0 / 9);
  }

  @Test
  void closesABinWithThePairThatFillsItExactly() {
    // First-fit-decreasing puts 3 after 6 and leaves a position; the pair 2 + 2 fills the rest exactly.
    int[] lengths = {6, 3, 2, 2};
    PackingPlan plan = BinCompletion.plan(lengths, 10);
    assertThat(plan.bins()).containsExactly(new PackingPlan.Bin(List.of(0, 2, 3), 10), new PackingPlan.Bin(List.of(1), 3));
    assertThat(FirstFitDecreasing.plan(lengths, 10).bins().getFirst().used()).as("positive control").isEqualTo(9);
  }
}
