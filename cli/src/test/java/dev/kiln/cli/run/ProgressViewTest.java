package dev.kiln.cli.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.kiln.trainer.loop.StepMetrics;
import org.junit.jupiter.api.Test;

class ProgressViewTest {

  static final long SECOND = 1_000_000_000L;

  static StepMetrics step(long step, long tokens, double seconds) {
    return new StepMetrics(step, 1000, 1.0, 1e-3, 1.0, tokens, 2048 / seconds, 0, seconds, null, null);
  }

  @Test
  void theRateIsTheWindowsAverageNotTheLastStepsSoTheEtaHoldsStill() {
    ProgressView.Rate rate = new ProgressView.Rate();
    // Steps of 2,048 tokens, alternately fast (0.05 s) and slow (0.45 s): 4 steps a second on average.
    long tokens = 0;
    for (int second = 0; second <= 20; second++) {
      tokens = 4L * second * 2048;
      rate.observe("pretrain", second * SECOND, step(4L * second, tokens, second % 2 == 0 ? 0.05 : 0.45));
    }

    assertThat(rate.stepsPerSecond()).hasValueCloseTo(4.0, within(1e-9));
    assertThat(rate.tokensPerSecond()).hasValueCloseTo(8192.0, within(1e-6));
  }

  @Test
  void aNewStageOrAResumedAttemptStartsANewWindowAndOldSamplesLeaveIt() {
    ProgressView.Rate rate = new ProgressView.Rate();
    rate.observe("pretrain", 0, step(100, 100 * 2048, 0.1));
    rate.observe("pretrain", 10 * SECOND, step(200, 200 * 2048, 0.1));
    assertThat(rate.stepsPerSecond()).hasValueCloseTo(10.0, within(1e-9));

    rate.observe("sft", 11 * SECOND, step(1, 2048, 0.1));
    assertThat(rate.stepsPerSecond()).as("one sample of the new stage").isEmpty();
    rate.observe("sft", 12 * SECOND, step(3, 3 * 2048, 0.1));
    assertThat(rate.stepsPerSecond()).as("under the minimum span").isEmpty();
    rate.observe("sft", 14 * SECOND, step(7, 7 * 2048, 0.1));
    assertThat(rate.stepsPerSecond()).hasValueCloseTo(2.0, within(1e-9));

    rate.observe("sft", 15 * SECOND, step(2, 2 * 2048, 0.1));  // resumed from an earlier checkpoint
    assertThat(rate.stepsPerSecond()).isEmpty();

    for (int second = 16; second <= 100; second++) {
      rate.observe("sft", second * SECOND, step(2 + (second - 15) * (second < 60 ? 1 : 3), 0, 0.1));
    }
    assertThat(rate.stepsPerSecond()).as("only the last 30 s count").hasValueCloseTo(3.0, within(0.1));
  }
}
