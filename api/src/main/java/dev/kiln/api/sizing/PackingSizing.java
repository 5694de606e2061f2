package dev.kiln.api.sizing;

import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec;
import dev.kiln.api.v1alpha1.PackingSpec;
import dev.kiln.api.v1alpha1.StageSpec;
import io.fabric8.kubernetes.api.model.Quantity;

/**
 * How a stage's packing is spread (pods at once, and tasks), and how long its heaviest step
 * takes on them: preparing (decode, resize, re-encode, tokenize) at a per-core rate measured with
 * {@code kiln bench pack-pipeline}. Planning and writing are seconds to minutes beside it.
 */
public final class PackingSizing {

  /**
   * Images prepared per second per core at 384 px from 512x384 JPEGs: {@code kiln bench
   * pack-pipeline} measured 142 on a 2-core AVX2 machine. Real photos of other sizes differ.
   */
  public static final double PREPARE_IMAGES_PER_CORE_SECOND = 142;
  /** Input shards per packing task. */
  public static final int SHARDS_PER_TASK = 8;
  /** The most tasks: {@code <job>-prepare-<stage>-999}, the last pod's hostname, fits 63 characters. */
  public static final int MAX_TASKS = 1000;
  /** The packing pod's CPU request when the spec sets none. */
  public static final String DEFAULT_CPU = "1";

  private PackingSizing() {}

  /** The stage's packing pods at once: the spec's parallelism, else one per {@value PackingSpec#SHARDS_PER_POD} input shards. */
  public static int pods(MultimodalPretrainJobSpec spec, StageSpec stage) {
    Integer asked = spec.data().packing().parallelism();
    if (asked != null) {
      return asked;
    }
    return (int) Math.clamp(ceilDiv(inputShards(spec, stage), PackingSpec.SHARDS_PER_POD), 1,
        PackingSpec.DEFAULT_MAX_PARALLELISM);
  }

  /**
   * The prepare and write Jobs' completions: one per {@value #SHARDS_PER_TASK} input shards, at
   * least one per pod, so that a task retried is small and the tasks done say how far packing is.
   */
  public static int tasks(MultimodalPretrainJobSpec spec, StageSpec stage) {
    return (int) Math.clamp(ceilDiv(inputShards(spec, stage), SHARDS_PER_TASK), pods(spec, stage), MAX_TASKS);
  }

  /** The prepare step of a stage whose data is {@code samples} image samples. */
  public record Estimate(double samples, int pods, double cpusPerPod, double cpuHours, double wallHours) {}

  public static Estimate estimate(MultimodalPretrainJobSpec spec, StageSpec stage, double samples) {
    var resources = spec.data().packing().resources();
    String cpu = resources != null && resources.cpu() != null ? resources.cpu() : DEFAULT_CPU;
    double cpus = Quantity.getAmountInBytes(new Quantity(cpu)).doubleValue();
    int pods = pods(spec, stage);
    double cpuHours = samples / PREPARE_IMAGES_PER_CORE_SECOND / 3600;
    return new Estimate(samples, pods, cpus, cpuHours, cpuHours / (pods * cpus));
  }

  private static long inputShards(MultimodalPretrainJobSpec spec, StageSpec stage) {
    long shards = 0;
    for (String sourceName : stage.sources()) {
      shards += ShardPattern.count(spec.data().source(sourceName).shards());
    }
    return shards;
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
