package dev.kiln.api.sizing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ResourcesSpec;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.TrainablePart;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The memory model's arithmetic at the recipe's size (measured against real steps in the trainer's MemoryModelTest). */
class MemoryModelTest {

  static final List<TrainablePart> RECIPE = List.of(TrainablePart.PROJECTOR, TrainablePart.LANGUAGE_MODEL);

  static MemoryModel.Stage pretrain(PackedAttention attention, boolean recompute, ShardingStrategy sharding) {
    return new MemoryModel.Stage(ModelPreset.OPEN_QWEN2VL_2B.dimensions(), RECIPE, sharding, 8, 1,
        Precision.FLOAT16_MIXED, 1, 4096, 144, attention, recompute, 28, true);
  }

  @Test
  void denseAttentionOverFourThousandPositionsDominatesAndRecomputationRemovesIt() {
    var dense = MemoryModel.perRank(pretrain(PackedAttention.CONTINUOUS, false, ShardingStrategy.FULL_SHARD), true);
    var perSample = MemoryModel.perRank(pretrain(PackedAttention.PER_SAMPLE, false, ShardingStrategy.FULL_SHARD), true);
    var recomputed = MemoryModel.perRank(pretrain(PackedAttention.CONTINUOUS, true, ShardingStrategy.FULL_SHARD), true);

    // 12 heads x 4096^2 scores, softmax kept in fp32 and fp16: 1.2 GB per layer, 28 layers.
    assertThat(dense.activations() - perSample.activations()).isGreaterThan(28L * 12 * 4096 * (4096 - 256) * 6 * 9 / 10);
    assertThat(recomputed.activations()).isLessThan(dense.activations() / 5);
    assertThat(recomputed.parameters()).isEqualTo(dense.parameters());
  }

  @Test
  void aShardedRanksMomentsLiveInHostMemoryAndEveryRankHasAnExchangeBuffer() {
    MemoryModel.Stage sharded = pretrain(PackedAttention.PER_SAMPLE, true, ShardingStrategy.FULL_SHARD);
    MemoryModel.Stage replicated = pretrain(PackedAttention.PER_SAMPLE, true, ShardingStrategy.NO_SHARD);
    long trained = ParameterCounts.trained(ModelPreset.OPEN_QWEN2VL_2B.dimensions(), RECIPE);

    // On a GPU: NCCL's device buffer of every trained value, plus AdamW's moments when they are not sharded.
    assertThat(MemoryModel.perRank(sharded, true).optimizer()).isEqualTo(4 * trained);
    assertThat(MemoryModel.perRank(replicated, true).optimizer()).isEqualTo(12 * trained);
    // On the CPU everything is in one memory: the flat vector, and a slice of moments and buffers or all moments.
    assertThat((double) MemoryModel.perRank(sharded, false).optimizer())
        .isCloseTo(4 * trained + 16.0 * trained / 8, org.assertj.core.api.Assertions.within(64.0));
    assertThat(MemoryModel.perRank(replicated, false).optimizer()).isEqualTo(12 * trained);
    assertThat(MemoryModel.perRank(sharded, true).gradients()).isEqualTo(4 * trained);
  }

  @Test
  void gpuMemoryComesFromTheFieldOrTheProduct() {
    assertThat(MemoryFit.gpuGiB(resources("NVIDIA-A100-SXM4-40GB", null))).contains(40.0);
    assertThat(MemoryFit.gpuGiB(resources("NVIDIA-A100-SXM4-80GB", null))).contains(80.0);
    assertThat(MemoryFit.gpuGiB(resources("NVIDIA-H200", null))).contains(140.4);
    assertThat(MemoryFit.gpuGiB(resources("NVIDIA-RTX-6000-Ada-48GB", null))).contains(48.0);
    assertThat(MemoryFit.gpuGiB(resources("NVIDIA-B200", null))).isEmpty();
    assertThat(MemoryFit.gpuGiB(resources("NVIDIA-B200", "180Gi"))).contains(180.0);
  }

  static ResourcesSpec resources(String product, String gpuMemory) {
    return new ResourcesSpec(1, 8, product, null, null, gpuMemory);
  }
}
