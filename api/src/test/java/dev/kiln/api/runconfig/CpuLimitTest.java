package dev.kiln.api.runconfig;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CpuLimitTest {

  @Test
  void theLimitIsSharedByTheProcessesOfAPodAndNeverBelowOne() {
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, "48"), 8)).hasValue(6);
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, "20"), 8)).hasValue(2);
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, "4"), 8)).hasValue(1);
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, "2"), 0)).hasValue(2);
  }

  @Test
  void anAbsentOrUnreadableLimitLeavesTheChoiceToTheEngine() {
    assertThat(CpuLimit.perProcess(Map.of(), 1)).isEmpty();
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, ""), 1)).isEmpty();
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, "2.5"), 1)).isEmpty();
    assertThat(CpuLimit.perProcess(Map.of(CpuLimit.ENV, "0"), 1)).isEmpty();
  }
}
