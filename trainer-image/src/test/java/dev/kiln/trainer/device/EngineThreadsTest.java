package dev.kiln.trainer.device;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.runconfig.CpuLimit;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EngineThreadsTest {

  @AfterEach
  void clear() {
    System.clearProperty(EngineThreads.INTRA_OP);
    System.clearProperty(EngineThreads.INTEROP);
  }

  @Test
  void eachLocalRankGetsItsShareOfTheContainersCpuLimit() {
    EngineThreads.configure(Map.of(CpuLimit.ENV, "48", EngineThreads.GPUS_PER_NODE_ENV, "8"));

    assertThat(System.getProperty(EngineThreads.INTRA_OP)).isEqualTo("6");
    assertThat(System.getProperty(EngineThreads.INTEROP)).isEqualTo("1");
  }

  @Test
  void aCpuPodIsOneRankAndAnExplicitSettingWins() {
    EngineThreads.configure(Map.of(CpuLimit.ENV, "3", EngineThreads.GPUS_PER_NODE_ENV, "0"));
    assertThat(System.getProperty(EngineThreads.INTRA_OP)).isEqualTo("3");

    System.setProperty(EngineThreads.INTRA_OP, "7");
    EngineThreads.configure(Map.of(CpuLimit.ENV, "3"));
    assertThat(System.getProperty(EngineThreads.INTRA_OP)).isEqualTo("7");
  }

  @Test
  void withoutALimitLibtorchChooses() {
    EngineThreads.configure(Map.of());

    assertThat(System.getProperty(EngineThreads.INTRA_OP)).isNull();
  }
}
