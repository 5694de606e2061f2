package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Device selection; the GPU itself is checked by scripts/gpu-smoke.sh where there is one. */
class ComputeDeviceTest {

  @Test
  void cpuStagesAndStagesOnAFakeGpuNodeRunOnTheCpu() {
    assertThat(ComputeDevice.forRank(0, 0, null)).isEqualTo(ComputeDevice.cpu());
    assertThat(ComputeDevice.forRank(8, 3, "cpu")).isEqualTo(ComputeDevice.cpu());
  }

  @Test
  void aGpuStageWhereLibtorchSeesNoGpuSaysWhatIsMissingAndNeverFallsBackToTheCpu() {
    assertThatThrownBy(() -> ComputeDevice.forRank(8, 0, null))
        .hasMessageContaining("GPU 0 was asked for but libtorch sees 0 GPU(s)")
        .hasMessageContaining("CUDA libtorch");
  }
}
