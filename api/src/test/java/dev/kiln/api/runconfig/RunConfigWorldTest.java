package dev.kiln.api.runconfig;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.CollectiveBackend;
import org.junit.jupiter.api.Test;

class RunConfigWorldTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aRunConfigWrittenBeforeCollectivesExistedGetsWhatTheOperatorWouldChooseNow() throws Exception {
    String gpu = "{\"nodes\":1,\"gpusPerNode\":8,\"worldSize\":8,\"sharding\":\"FULL_SHARD\",\"masterPort\":29500}";
    String cpu = "{\"nodes\":2,\"gpusPerNode\":0,\"worldSize\":2,\"sharding\":\"NO_SHARD\",\"masterPort\":29500}";

    assertThat(JSON.readValue(gpu, RunConfig.World.class).collectives()).isEqualTo(CollectiveBackend.NCCL);
    assertThat(JSON.readValue(cpu, RunConfig.World.class).collectives()).isEqualTo(CollectiveBackend.TCP);
  }

  @Test
  void aStagesOwnChoiceIsKeptAndRoundTrips() throws Exception {
    RunConfig.World world = new RunConfig.World(1, 8, 8, dev.kiln.api.v1alpha1.ShardingStrategy.FULL_SHARD, 29500,
        CollectiveBackend.TCP);

    assertThat(JSON.readValue(JSON.writeValueAsString(world), RunConfig.World.class)).isEqualTo(world);
  }
}
