package dev.kiln.trainer.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.kiln.api.sizing.MemoryModel;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.data.image.Images;
import dev.kiln.data.packed.PackedSequence;
import dev.kiln.model.Autocast;
import dev.kiln.model.GradMode;
import dev.kiln.model.PackedBatch;
import dev.kiln.model.TrainingFlops;
import dev.kiln.model.VisionLanguageModel;
import dev.kiln.model.ComputeDevice;
import dev.kiln.trainer.device.PeakMemory;
import dev.kiln.trainer.optim.AdamW;
import dev.kiln.trainer.optim.Gradients;
import dev.kiln.trainer.optim.LossScaler;
import java.awt.image.BufferedImage;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Training throughput against the machine's own matmul rate (fp32, or fp16 for Float16Mixed), measured in the same run:
 * {@code mfu} = model FLOP/s / matmul FLOP/s, where model FLOPs are the work the batch needs
 * ({@link TrainingFlops}: decoder parameters at every position, the output head at target positions,
 * attention over the pairs that may attend, the vision encoder and projector once per image).
 * Full training steps: forward, backward, clipping, AdamW.
 */
public final class TrainerBench {

  private TrainerBench() {}

  /** What one benchmark trains: a model, its batches, and how. */
  public record Setup(String preset, ModelDimensions dims, int sequenceLength, int visualTokens, int batchSize, int steps,
      ComputeDevice device, Precision precision, PackedAttention attention, boolean recompute,
      List<TrainablePart> trainable, boolean memoryOnly) {

    /** Every part trained, per-sample attention, activations kept. */
    public static Setup of(String preset, ModelDimensions dims, int sequenceLength, int visualTokens, int batchSize,
        int steps, ComputeDevice device, Precision precision) {
      return new Setup(preset, dims, sequenceLength, visualTokens, batchSize, steps, device, precision,
          PackedAttention.PER_SAMPLE, false, List.of(TrainablePart.VISION, TrainablePart.PROJECTOR,
          TrainablePart.LANGUAGE_MODEL), false);
    }
  }

  public static Map<String, Object> run(Setup setup) {
    ModelDimensions dims = setup.dims();
    int sequenceLength = setup.sequenceLength();
    int visualTokens = setup.visualTokens();
    int steps = setup.steps();
    ComputeDevice device = setup.device();
    boolean mixed = setup.precision() == Precision.FLOAT16_MIXED;
    Map<String, Object> result = new LinkedHashMap<>();
    double firstLoss = Double.NaN;
    GradMode.offOnThisThread();
    DataType computeType = mixed ? DataType.FLOAT16 : DataType.FLOAT32;
    PackedBatch batch = batch(dims, sequenceLength, visualTokens, setup.batchSize(), setup.attention());
    PeakMemory peak = new PeakMemory(device);
    // Timed runs warm up first and probe the machine's matmul rate; a memory-only run needs
    // neither (the probe alone takes a minute in float16 on a CPU).
    boolean timed = !setup.memoryOnly();
    int warmUps = timed ? 3 : 0;
    try (NDManager manager = NDManager.newBaseManager(device.device())) {
      int probe = timed ? probeSize(manager, computeType) : 0;
      double matmul = timed ? matmulFlops(manager, probe, 12, computeType) : Double.NaN;
      try (NDManager warmUp = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray x = warmUp.ones(new Shape(8, 8));
        x.setRequiresGradient(true);
        collector.backward(x.mul(x).sum());    // starts autograd's engine and its threads
      }
      long before = PeakMemory.resident();  // libtorch loaded, its threads started, no tensor held
      VisionLanguageModel model = new VisionLanguageModel(dims, manager, 1);
      model.setTrainable(setup.trainable());
      Map<String, NDArray> trainable = model.parameters().trainable();
      List<NDArray> list = new ArrayList<>(trainable.values());
      AdamW adamw = new AdamW(new OptimizerSpec(1e-4, 0.0, 0.0, null, null, null, null, null, null), manager);
      Gradients gradients = new Gradients();
      LossScaler scaler = new LossScaler(LossScaler.INITIAL_SCALE, LossScaler.GROWTH_INTERVAL);
      long[][] durations = new long[3][steps];  // step, forward and backward, optimizer
      for (int s = 0; s < steps + warmUps; s++) {
        if (timed) {
          // The machine's rate is the best of measurements spread over the run: other work on a shared
          // box only ever slows a measurement down (measured: 94 to 153 GFLOP/s between runs).
          matmul = Math.max(matmul, matmulFlops(manager, probe, 2, computeType));
        }
        long start = System.nanoTime();
        try (NDManager scope = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector();
            Autocast fp16 = mixed ? Autocast.fp16() : null) {
          float value = model.lossAndGradients(batch, scope, mixed ? scaler.scale() : 1, 1, setup.recompute());
          if (s == 0) {
            firstLoss = value;
          }
        }
        peak.sample();
        // Forward and backward together: with recomputation they interleave.
        long backwardDone = System.nanoTime();
        double lossScale = mixed ? scaler.scale() : 1;
        gradients.unscale(list, 1 / lossScale);
        double norm = gradients.norm(list);
        if (!mixed || scaler.update(norm)) {
          adamw.step(trainable, gradients, 1e-4, Gradients.clipCoefficient(norm, 1.0));
        } else {
          gradients.zero(list);
        }
        long end = System.nanoTime();
        if (s >= warmUps) {
          durations[0][s - warmUps] = end - start;
          durations[1][s - warmUps] = backwardDone - start;
          durations[2][s - warmUps] = end - backwardDone;
        }
      }
      double seconds = median(durations[0]) / 1e9;
      long positions = batch.usedPositions();
      double flopsPerStep = TrainingFlops.decoder(dims, positions, batch.targetPositions().length, batch.visiblePairs())
          + batch.images() * TrainingFlops.perImage(dims, visualTokens, true);
      double tokensPerSecond = positions / seconds;
      double modelFlops = flopsPerStep / seconds;
      MemoryModel.Stage stage = new MemoryModel.Stage(dims, setup.trainable(), ShardingStrategy.NO_SHARD, 1, 1,
          setup.precision(), setup.batchSize(), sequenceLength, visualTokens, setup.attention(), setup.recompute(),
          batch.targetPositions().length / (double) Math.max(1, batch.images()), false);
      MemoryModel.Estimate modelled = MemoryModel.perRank(stage, device.gpu());
      long measured = device.gpu() ? peak.bytes() : peak.bytes() - before;
      result.put("bench", "trainer");
      result.put("preset", setup.preset());
      result.put("attention", setup.attention().name());
      result.put("recompute", setup.recompute());
      result.put("device", device.device().toString());
      result.put("precision", setup.precision().name());
      result.put("first_loss", firstLoss);
      result.put("parameters", model.parameters().count(n -> true));
      result.put("sequence_length", sequenceLength);
      result.put("batch", setup.batchSize());
      result.put("images", batch.images());
      if (timed) {
        result.put("step_seconds_median", Math.round(seconds * 1000) / 1000.0);
        result.put("forward_backward_ms", Math.round(median(durations[1]) / 1e6));
        result.put("optimizer_ms", Math.round(median(durations[2]) / 1e6));
        result.put("tokens_per_s", Math.round(tokensPerSecond));
        result.put("model_flops_per_token", Math.round(flopsPerStep / positions));
        result.put("matmul_size", probe);
        result.put("matmul_gflops", significant(matmul / 1e9, 3));
        result.put("model_gflops", significant(modelFlops / 1e9, 3));
        result.put("mfu", significant(modelFlops / matmul, 3));
        result.put("goal_mfu", 0.6);
      }
      // On the CPU the process's peak resident set less what it held before the model existed (the JVM, libtorch).
      result.put("peak_memory_bytes", measured);
      result.put("model_memory_bytes", modelled.total());
      result.put("model_activation_bytes", modelled.activations());
      result.put("memory_ratio", significant((double) measured / modelled.total(), 3));
    }
    return result;
  }

  /** Rounded to {@code digits} significant digits: a slow machine's small ratio must not print as 0. */
  static double significant(double value, int digits) {
    return value == 0 || !Double.isFinite(value) ? value
        : new BigDecimal(value).round(new MathContext(digits)).doubleValue();
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  /**
   * The side of the matrices that measure the machine's matmul rate: 1024, halved (down to 128)
   * while one product (the better of two) takes longer than 100 ms. A kernel that slow (float16 on a CPU, about
   * 1 GFLOP/s) is measured as well on smaller matrices, and the 1024 probe's 34 products would
   * take over a minute.
   */
  static int probeSize(NDManager manager, DataType type) {
    int n = 1024;
    while (n > 128) {
      try (NDManager scope = manager.newSubManager()) {
        NDArray a = scope.ones(new Shape(n, n)).toType(type, false);
        long took = Long.MAX_VALUE;
        for (int i = 0; i < 2 && took > 100_000_000L; i++) {  // the first product may pay for a library's start
          long start = System.nanoTime();
          try (NDArray c = a.matMul(a)) {
            c.getFloat(0, 0);
          }
          took = System.nanoTime() - start;
        }
        if (took <= 100_000_000L) {
          return n;
        }
      }
      n /= 2;
    }
    return n;
  }

  /** The best rate of {@code repeats} n x n matmuls: the machine's rate when nothing else slows it. */
  static double matmulFlops(NDManager manager, int n, int repeats, DataType type) {
    try (NDManager scope = manager.newSubManager()) {
      NDArray a = scope.randomNormal(new Shape(n, n)).toType(type, false);
      NDArray b = scope.randomNormal(new Shape(n, n)).toType(type, false);
      long best = Long.MAX_VALUE;
      for (int i = 0; i < repeats + 2; i++) {
        long start = System.nanoTime();
        try (NDArray c = a.matMul(b)) {
          c.getFloat(0, 0);
        }
        if (i >= 2) {
          best = Math.min(best, System.nanoTime() - start);
        }
      }
      return 2.0 * n * n * n / (best / 1e9);
    }
  }

  /** Full sequences of captions with images: the shape of real pre-training batches. */
  static PackedBatch batch(ModelDimensions dims, int sequenceLength, int visualTokens, int batchSize,
      PackedAttention attention) {
    Random random = new Random(1);
    int size = dims.vision().imageSize();
    BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    byte[] jpeg = Images.encodeJpeg(image, 0.9f);
    List<PackedSequence> rows = new ArrayList<>();
    for (int r = 0; r < batchSize; r++) {
      List<PackedSequence.Segment> segments = new ArrayList<>();
      List<byte[]> images = new ArrayList<>();
      int used = 0;
      while (true) {
        int words = 8 + random.nextInt(24);
        if (used + words + 3 - 1 + visualTokens > sequenceLength) {
          break;
        }
        int[] tokens = new int[words + 3];
        tokens[0] = 2;
        tokens[1] = 3;
        for (int i = 0; i < words; i++) {
          tokens[2 + i] = 10 + random.nextInt(dims.languageModel().vocabSize() - 10);
        }
        tokens[tokens.length - 1] = 4;
        segments.add(new PackedSequence.Segment("b" + segments.size(), "bench", tokens, 1, images.size(),
            List.of(new int[] {2, tokens.length})));
        images.add(jpeg);
        used += tokens.length - 1 + visualTokens;
      }
      rows.add(new PackedSequence("r" + r, sequenceLength, visualTokens, size, segments, images));
    }
    return PackedBatch.of(rows, sequenceLength, attention, 1);
  }
}
