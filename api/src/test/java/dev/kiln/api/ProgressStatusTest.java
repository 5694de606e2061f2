package dev.kiln.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.ProgressStatus;
import org.junit.jupiter.api.Test;

class ProgressStatusTest {

  @Test
  void aDivergedLossIsLeftOutRatherThanWrittenAsAStringTheApiServerRefuses() throws Exception {
    ProgressStatus progress = new ProgressStatus();
    progress.setStep(120L);
    progress.setLoss(Double.NaN);
    progress.setTokensPerSecond(Double.POSITIVE_INFINITY);

    String json = new ObjectMapper().writeValueAsString(progress);

    assertThat(json).isEqualTo("{\"step\":120}");
    progress.setLoss(0.25);
    assertThat(progress.getLoss()).isEqualTo(0.25);
  }
}
