package dev.kiln.trainer.loop;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.runconfig.TrainerSummary;
import dev.kiln.api.sizing.GpuPeaks;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.model.Autocast;
import dev.kiln.model.GradMode;
import dev.kiln.model.PackedBatch;
import dev.kiln.model.TrainingFlops;
import dev.kiln.model.VisionLanguageModel;
import dev.kiln.model.weights.InitialWeights;
import dev.kiln.model.weights.SafeTensors;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.trainer.checkpoint.Moments;
import dev.kiln.trainer.checkpoint.TrainerState;
import dev.kiln.trainer.data.BatchPrefetcher;
import dev.kiln.trainer.data.DataOrder;
import dev.kiln.trainer.data.PackedDataset;
import dev.kiln.model.ComputeDevice;
import dev.kiln.trainer.device.PeakMemory;
import dev.kiln.trainer.device.TensorMemory;
import dev.kiln.trainer.optim.AdamW;
import dev.kiln.trainer.optim.Gradients;
import dev.kiln.trainer.optim.LearningRate;
import dev.kiln.trainer.optim.LossScaler;
import dev.kiln.trainer.parallel.Collectives;
import dev.kiln.trainer.parallel.DataParallel;
import dev.kiln.trainer.parallel.ShardedOptimizer;
import dev.kiln.trainer.parallel.StopRequest;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.DoubleConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One stage of training as one rank, top to bottom: build the model, restore the newest valid
 * checkpoint (or start from the promoted checkpoint of {@code initFrom}, or from initial
 * weights), then step: micro-batches with gradient accumulation, gradients averaged (or
 * reduce-scattered) over the ranks, global-norm clipping, AdamW at the scheduled rate, metrics
 * per step, checkpoints at the interval and at the end. In Float16Mixed the forward runs under
 * {@link Autocast} and the loss is scaled by a {@link LossScaler}; overflowing steps are skipped.
 */
public final class TrainingRun {

  /** The pad token of Kiln's tokenizers (id 1); pad positions carry no loss. */
  public static final int PAD_TOKEN = 1;

  private static final Logger LOG = LoggerFactory.getLogger(TrainingRun.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final RunConfig config;
  private final PodRoot paths;
  private final int rank;
  private final int world;
  private Consumer<StepMetrics> progress = m -> { };
  private DoubleConsumer checkpointed = seconds -> { };
  private long stopAfterSteps = Long.MAX_VALUE;
  private StopRequest stop = StopRequest.never();
  private boolean stopped;
  /** What this attempt's initial weights hashed to, when it started from them. */
  private String initialWeightsSha256;
  private ComputeDevice device = ComputeDevice.cpu();
  private DataParallel parallel = new DataParallel(Collectives.single());

  public TrainingRun(RunConfig config, PodRoot paths, int rank, int world) {
    this.config = config;
    this.paths = paths;
    this.rank = rank;
    this.world = world;
  }

  /** Receives every step's metrics (rank 0 forwards them to the operator). */
  public TrainingRun onStep(Consumer<StepMetrics> progress) {
    this.progress = progress;
    return this;
  }

  /** Receives the seconds each checkpoint took to write. */
  public TrainingRun onCheckpoint(DoubleConsumer checkpointed) {
    this.checkpointed = checkpointed;
    return this;
  }

  /**
   * Trains as one rank of {@code collectives.world()}: gradients averaged every step, the data
   * split by rank, checkpoints and metrics written by rank 0.
   */
  public TrainingRun across(Collectives collectives) {
    if (collectives.world() != world || collectives.rank() != rank) {
      throw new IllegalArgumentException("collectives are rank " + collectives.rank() + " of " + collectives.world()
          + ", this run is rank " + rank + " of " + world);
    }
    this.parallel = new DataParallel(collectives);
    return this;
  }

  /** Computes on this device (the CPU in fp32 unless told otherwise). */
  public TrainingRun on(ComputeDevice device) {
    this.device = device;
    return this;
  }

  /** Stops after this many steps of this process, as a crash would, for tests of resumption. */
  public TrainingRun stopAfter(long steps) {
    this.stopAfterSteps = steps;
    return this;
  }

  /** Stops at the step boundary after {@code stop} is requested on any rank, with a checkpoint of that step. */
  public TrainingRun stopOn(StopRequest stop) {
    this.stop = stop;
    return this;
  }

  /** True when the last {@link #run} ended early on a stop request (its step is checkpointed). */
  public boolean stopped() {
    return stopped;
  }

  /** Optimizer steps the budget allows for a dataset of {@code sequences} packed sequences. */
  public static long totalSteps(RunConfig config, int sequences) {
    int global = config.batch().globalBatchSize();
    if (config.budget().steps() != null) {
      return config.budget().steps();
    }
    if (config.budget().tokens() != null) {
      long perStep = (long) global * config.data().sequenceLength();
      return Math.max(1, (config.budget().tokens() + perStep - 1) / perStep);
    }
    return Math.max(1, ((long) config.budget().epochs() * sequences + global - 1) / global);
  }

  public TrainerSummary run() throws IOException {
    stopped = false;
    Engine.getInstance().setRandomSeed((int) config.seed());
    GradMode.offOnThisThread();
    PackedDataset dataset = PackedDataset.load(paths.resolve(config.data().packedDir()));
    long totalSteps = totalSteps(config, dataset.size());
    int global = config.batch().globalBatchSize();
    int micro = config.batch().microBatchSize();
    int accumulation = global / (micro * world);
    CheckpointStore store = new CheckpointStore(paths.resolve(config.checkpoints().dir()), config.checkpoints().keepLast());
    String configHash = config.trainingHash();

    long residentAtStart = PeakMemory.resident();
    try (NDManager manager = NDManager.newBaseManager(device.device());
        VisionLanguageModel model = new VisionLanguageModel(config.model(), manager, config.seed())) {
      dataset.checkFits(model.dimensions().languageModel().vocabSize(), config.data().packedDir());
      model.setTrainable(config.trainable());
      AdamW optimizer = new AdamW(config.optimizer(), manager);
      LearningRate schedule = new LearningRate(config.optimizer(), totalSteps);
      Restored restored = restore(model, store, configHash);
      TrainerState state = restored.state();
      boolean mixed = config.precision() == Precision.FLOAT16_MIXED;
      boolean recompute = Boolean.TRUE.equals(config.recomputeActivations());
      PeakMemory peakMemory = new PeakMemory(device);
      LossScaler scaler = !mixed ? null
          : state.lossScaler() != null ? LossScaler.resume(state.lossScaler(), LossScaler.GROWTH_INTERVAL)
          : new LossScaler(LossScaler.INITIAL_SCALE, LossScaler.GROWTH_INTERVAL);
      // Loading weights replaces the parameter tensors: only now are they the ones to train.
      Map<String, NDArray> trainable = model.parameters().trainable();
      // HYBRID_SHARD shards within a node and replicates across nodes: on one node (the only layout the
      // validator lets through) that is FULL_SHARD.
      ShardingStrategy strategy = config.world().sharding();
      ShardedOptimizer sharded = world > 1 && (strategy == ShardingStrategy.SHARD_GRAD_OP
          || strategy == ShardingStrategy.FULL_SHARD
          || (strategy == ShardingStrategy.HYBRID_SHARD && config.world().nodes() == 1))
          ? new ShardedOptimizer(parallel.collectives(), trainable, config.optimizer()) : null;
      try (Moments moments = restored.moments()) {
        if (sharded != null) {
          sharded.restore(moments, state.optimizerSteps());
          LOG.info("{}: rank {} of {} holds {} floats of optimizer state", config.world().sharding(), rank, world,
              sharded.stateFloats());
        } else {
          optimizer.restore(moments, trainable, state.optimizerSteps());
        }
      }
      List<NDArray> trainableList = new ArrayList<>(trainable.values());
      Gradients gradients = new Gradients();

      Path metricsFile = paths.resolve(config.metricsDir()).resolve("metrics.jsonl");
      Files.createDirectories(metricsFile.getParent());
      long step = state.step();
      long tokens = state.tokensSeen();
      double lastLoss = state.lastLoss();
      long stepsThisProcess = 0;
      Double peakFlops = rank == 0 ? peakFlops() : null;
      try (BatchPrefetcher batches = new BatchPrefetcher(dataset, new DataOrder(dataset.size(), config.seed()),
              state.cursor(), global, micro, rank, world, config.data().packedAttention(), PAD_TOKEN);
          Writer metrics = rank == 0
              ? Files.newBufferedWriter(metricsFile, StandardOpenOption.CREATE, StandardOpenOption.APPEND)
              : Writer.nullWriter();
          TensorBoardEvents events = rank == 0 ? TensorBoardEvents.create(metricsFile.getParent().resolve(attemptRun()),
              "rank0") : null) {
        while (step < totalSteps && stepsThisProcess < stopAfterSteps) {
          long start = System.nanoTime();
          double lr = schedule.at(step);
          double lossScale = scaler == null ? 1 : scaler.scale();
          double lossSum = 0;
          long stepTokens = 0;
          double stepFlops = 0;  // this rank's model FLOPs, the way MFU counts them
          try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            for (int m = 0; m < accumulation; m++) {
              PackedBatch batch = batches.next();
              // A manager per micro-batch: what one micro-batch's backward left is freed before the next.
              try (NDManager microBatch = manager.newSubManager(); Autocast fp16 = mixed ? Autocast.fp16() : null) {
                lossSum += model.lossAndGradients(batch, microBatch, lossScale, accumulation, recompute);
              }
              peakMemory.sample();
              stepTokens += batch.usedPositions();
              stepFlops += TrainingFlops.decoder(config.model(), batch.usedPositions(), batch.targetPositions().length,
                  batch.visiblePairs()) + batch.images() * TrainingFlops.perImage(config.model(), batch.visualTokens(),
                  config.trainable().contains(TrainablePart.VISION));
            }
          }
          double[] lossAndTokens = parallel.lossTokensAndStop(lossSum / accumulation, stepTokens, stop.requested());
          boolean stopNow = lossAndTokens[2] > 0;
          double gradNorm;
          if (sharded != null) {
            gradNorm = sharded.reduce(gradients, 1 / lossScale);
          } else {
            parallel.averageGradients(trainableList, gradients);
            gradients.unscale(trainableList, 1 / lossScale);
            gradNorm = gradients.norm(trainableList);
          }
          if (scaler == null && !(Double.isFinite(lossAndTokens[0]) && Double.isFinite(gradNorm))) {
            // Every rank sees the same averaged loss and global norm, so all stop here together.
            throw new DivergedException(step + 1, lossAndTokens[0], gradNorm, lr,
                store.checkpoints().stream().findFirst().map(this::podPath).orElse(null));
          }
          // An overflowing float16 step is skipped (the scale halves); every rank sees the same global norm.
          boolean gradientsConsumed = false;  // AdamW zeroes the gradients it reads
          if (scaler == null || scaler.update(gradNorm)) {
            if (sharded != null) {
              sharded.apply(lr);
            } else {
              optimizer.step(trainable, gradients, lr, Gradients.clipCoefficient(gradNorm, config.optimizer().gradClip()));
              gradientsConsumed = true;
            }
          } else {
            LOG.info("step {}: gradients overflowed float16 at loss scale {}; skipped, scale now {}", step + 1,
                lossScale, scaler.scale());
          }
          if (!gradientsConsumed) {
            gradients.zero(trainableList);
          }
          step++;
          stepsThisProcess++;
          stepTokens = (long) lossAndTokens[1];
          tokens += stepTokens;
          lastLoss = lossAndTokens[0];
          double seconds = (System.nanoTime() - start) / 1e9;
          StepMetrics stepMetrics = new StepMetrics(step, totalSteps, lastLoss, lr, gradNorm, tokens,
              stepTokens / seconds, batches.takeWaitNanos() / 1e9 / seconds, seconds, mixed ? lossScale : null,
              peakMemory.bytes());
          metrics.write(JSON.writeValueAsString(stepMetrics) + "\n");
          metrics.flush();
          if (events != null) {
            events.scalars(step, scalars(stepMetrics, stepFlops / seconds, peakFlops));
          }
          progress.accept(stepMetrics);
          if (step % config.checkpoints().intervalSteps() == 0 || step == totalSteps || stopNow) {
            long cursor = step * global;
            long saving = System.nanoTime();
            save(store, model, optimizer, sharded, new TrainerState(TrainerState.FORMAT_VERSION, step, tokens,
                (int) (cursor / dataset.size()), cursor, config.seed(), world, configHash, lastLoss,
                scaler == null ? null : scaler.state()));
            checkpointed.accept((System.nanoTime() - saving) / 1e9);
          }
          if (stopNow && step < totalSteps) {
            LOG.info("stop requested: step {} checkpointed, stopping; the next attempt resumes at step {}", step, step + 1);
            stopped = true;
            break;
          }
        }
      }
      Path latest = store.checkpoints().stream().findFirst().orElse(null);
      LOG.info("rank {}: peak memory {} MiB ({} MiB resident when training began)", rank, peakMemory.bytes() >> 20,
          residentAtStart >> 20);
      return new TrainerSummary(step, tokens, lastLoss, latest == null ? null : podPath(latest),
          latest == null ? null : CheckpointStore.manifestSha256(latest), peakMemory.bytes(), initialWeightsSha256);
    }
  }

  /** The GPU's peak FLOP/s the operator gave ({@link GpuPeaks#ENV}); null, and said once, when it is absent or not a number. */
  private static Double peakFlops() {
    String peak = System.getenv(GpuPeaks.ENV);
    if (peak == null || peak.isBlank()) {
      return null;
    }
    try {
      double value = Double.parseDouble(peak.strip());
      return value > 0 && Double.isFinite(value) ? value : null;
    } catch (NumberFormatException e) {
      LOG.warn("{}={} is not a number of FLOP/s: MFU is left out of the metrics", GpuPeaks.ENV, peak);
      return null;
    }
  }

  /** The TensorBoard run of this attempt, beside the stage's metrics.jsonl: {@code attempt-N}. */
  private static String attemptRun() {
    String attempt = System.getenv("KILN_ATTEMPT");
    return "attempt-" + (attempt == null || attempt.isBlank() ? "1" : attempt.strip());
  }

  /**
   * One step as TensorBoard scalars. MFU is there where the operator told the trainer its GPU's
   * peak ({@link GpuPeaks#ENV}, from the stage's GPU product): each rank drives one GPU.
   */
  private static Map<String, Double> scalars(StepMetrics m, double modelFlopsPerSecond, Double peakFlops) {
    Map<String, Double> scalars = new LinkedHashMap<>();
    scalars.put("train/loss", m.loss());
    scalars.put("train/learning_rate", m.lr());
    scalars.put("train/grad_norm", m.gradNorm());
    scalars.put("train/tokens_per_second", m.tokensPerSecond());
    scalars.put("train/tokens", (double) m.tokens());
    scalars.put("train/data_wait_fraction", m.dataWaitFraction());
    scalars.put("train/model_tflops_per_second_per_rank", modelFlopsPerSecond / 1e12);
    if (peakFlops != null) {
      scalars.put("train/mfu", modelFlopsPerSecond / peakFlops);
    }
    if (m.lossScale() != null) {
      scalars.put("train/loss_scale", m.lossScale());
    }
    if (m.peakMemoryBytes() != null) {
      scalars.put("train/peak_memory_gib", m.peakMemoryBytes() / (double) (1L << 30));
    }
    return scalars;
  }

  /** Where training starts: the state, and the optimizer moments to read (none when starting fresh). */
  private record Restored(TrainerState state, Moments moments) {}

  /**
   * The loss or the gradients stopped being finite (float32, where no loss scaler skips such a
   * step): the weights would be destroyed by the update, so nothing of the step is applied or saved.
   */
  public static final class DivergedException extends IOException {
    public DivergedException(long step, double loss, double gradNorm, double lr, String latestCheckpoint) {
      super(String.format("training diverged at step %d: loss %s, gradient norm %s at learning rate %.3g;"
          + " nothing of this step was applied, %s. Lower optimizer.lr, raise optimizer.warmupRatio or lower"
          + " optimizer.gradClip, then retry with spec.restartNonce", step, loss, gradNorm, lr,
          latestCheckpoint == null ? "and no checkpoint was written before it"
              : "and the latest checkpoint, " + latestCheckpoint + ", was written before it"));
    }
  }

  /** An input differs from what the job pins: training would not reproduce the pinned run. */
  public static final class PinMismatchException extends IOException {
    public PinMismatchException(String message) {
      super(message);
    }
  }

  /** The stage's newest checkpoint was trained under another configuration; resuming it would mix two runs. */
  public static final class ConfigMismatchException extends IOException {
    public ConfigMismatchException(String message) {
      super(message);
    }
  }

  private static String abbreviate(String hash) {
    return hash == null ? "none" : hash.substring(0, Math.min(12, hash.length()));
  }

  private Restored restore(VisionLanguageModel model, CheckpointStore store, String configHash) throws IOException {
    var checkpoint = store.loadLatest();
    if (checkpoint.isPresent()) {
      var c = checkpoint.get();
      // Earlier checkpoints carry the training hash with the learning rate and precision in it, or, from
      // before the training hash, the hash of the whole config, ranks included.
      String written = c.state().configHash();
      if (!configHash.equals(written) && !config.trainingHashWithLearningRateAndPrecision().equals(written)
          && !Canonical.sha256(config).equals(written)) {
        throw new ConfigMismatchException("checkpoint " + c.path() + " was trained under another configuration of stage "
            + config.stage() + " (training hash " + abbreviate(c.state().configHash()) + ", this config "
            + abbreviate(configHash) + "): refusing to resume it. Restore the stage's spec, or move the stage's"
            + " checkpoints away to start it over.");
      }
      LOG.info("resuming from {} at step {}", c.path(), c.state().step());
      load(model, c);
      return new Restored(c.state(), c.moments());
    }
    if (config.checkpoints().initFrom() != null) {
      Path from = paths.resolve(config.checkpoints().initFrom());
      LOG.info("starting from the promoted checkpoint {}", from);
      load(model, CheckpointStore.load(from));
    } else if (config.initialWeights() != null) {
      Path languageModel = paths.resolve(config.initialWeights().languageModel());
      Path visionEncoder = paths.resolve(config.initialWeights().visionEncoder());
      String pinned = config.initialWeights().pinnedSha256();
      // Rank 0 hashes them to report them; every rank checks a pin, so that every rank stops on it.
      if (pinned != null || rank == 0) {
        long hashing = System.nanoTime();
        initialWeightsSha256 = InitialWeights.sha256(languageModel, visionEncoder);
        LOG.info("initial weights sha256 {} ({} s to hash)", initialWeightsSha256, (System.nanoTime() - hashing) / 1_000_000_000);
      }
      if (pinned != null && !pinned.equals(initialWeightsSha256)) {
        throw new PinMismatchException("spec.reproduce.initialWeightsSha256: expected " + pinned + ", found "
            + initialWeightsSha256 + " (" + config.initialWeights().languageModel() + ", "
            + config.initialWeights().visionEncoder() + "); nothing was trained. Restore the pinned weights, or pin these");
      }
      InitialWeights.loadChecked(model, languageModel, visionEncoder);
    }
    return new Restored(new TrainerState(TrainerState.FORMAT_VERSION, 0, 0, 0, 0, config.seed(), world, configHash,
        Double.NaN, null), Moments.NONE);
  }

  /** The checkpoint's weights into the model, a tensor at a time. */
  private static void load(VisionLanguageModel model, CheckpointStore.Checkpoint checkpoint) throws IOException {
    Set<String> missing = new LinkedHashSet<>(model.parameters().all().keySet());
    checkpoint.eachWeight(missing::contains, (name, tensor) -> {
      model.parameters().load(name, tensor.data(), new Shape(tensor.shape()));
      missing.remove(name);
    });
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("checkpoint " + checkpoint.path() + " has no tensor " + missing.iterator().next());
    }
  }

  private void save(CheckpointStore store, VisionLanguageModel model, AdamW optimizer, ShardedOptimizer sharded,
      TrainerState state) throws IOException {
    if (sharded == null) {
      if (rank == 0) {
        Map<String, SafeTensors.Source> moments = new LinkedHashMap<>();
        optimizer.state().forEach((name, array) -> moments.put(name, TensorMemory.source(array)));
        Path saved = store.save(state, weights(model), moments);
        LOG.info("checkpoint {} (step {})", saved, state.step());
      }
      return;
    }
    // Sharded: every rank writes its own slice of the optimizer state at the same time; rank 0
    // writes the weights meanwhile and commits once all slices are on disk.
    Path partial = rank == 0 ? store.begin(state.step()) : store.partial(state.step());
    parallel.collectives().barrier();
    sharded.writeShard(partial);
    if (rank == 0) {
      CheckpointStore.writeLayout(partial, sharded.layout());
      CheckpointStore.writeModel(partial, weights(model));
    }
    parallel.collectives().barrier();
    if (rank == 0) {
      Path saved = store.commit(partial, state);
      LOG.info("checkpoint {} (step {}, optimizer state in {} slices)", saved, state.step(), world);
    }
  }

  private static Map<String, SafeTensors.Source> weights(VisionLanguageModel model) {
    Map<String, SafeTensors.Source> weights = new LinkedHashMap<>();
    model.parameters().all().forEach((name, array) -> weights.put(name, TensorMemory.source(array)));
    return weights;
  }

  /** The checkpoint folder as the pod sees it, for the operator. */
  private String podPath(Path local) {
    String dir = config.checkpoints().dir();
    return dir.endsWith("/") ? dir + local.getFileName() : dir + "/" + local.getFileName();
  }
}
