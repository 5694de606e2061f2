package dev.kiln.trainer.optim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LossScalerTest {

  @Test
  void anOverflowSkipsTheStepAndHalvesTheScale() {
    LossScaler scaler = new LossScaler(1024, 3);

    assertThat(scaler.update(Double.POSITIVE_INFINITY)).isFalse();
    assertThat(scaler.scale()).isEqualTo(512);
    assertThat(scaler.update(Double.NaN)).isFalse();
    assertThat(scaler.scale()).isEqualTo(256);
    assertThat(scaler.state().skippedSteps()).isEqualTo(2);
  }

  @Test
  void theScaleDoublesAfterEnoughFiniteStepsInARow() {
    LossScaler scaler = new LossScaler(1024, 3);

    assertThat(scaler.update(1.0)).isTrue();
    assertThat(scaler.update(1.0)).isTrue();
    assertThat(scaler.scale()).isEqualTo(1024);
    assertThat(scaler.update(Double.NaN)).isFalse();   // an overflow restarts the count
    assertThat(scaler.update(1.0)).isTrue();
    assertThat(scaler.update(1.0)).isTrue();
    assertThat(scaler.scale()).isEqualTo(512);
    assertThat(scaler.update(1.0)).isTrue();
    assertThat(scaler.scale()).isEqualTo(1024);
  }

  @Test
  void resumesFromItsState() {
    LossScaler scaler = new LossScaler(1024, 3);
    scaler.update(Double.NaN);
    scaler.update(1.0);

    LossScaler resumed = LossScaler.resume(scaler.state(), 3);
    resumed.update(1.0);
    resumed.update(1.0);

    assertThat(resumed.scale()).isEqualTo(1024);
    assertThat(resumed.state().skippedSteps()).isEqualTo(1);
  }
}
