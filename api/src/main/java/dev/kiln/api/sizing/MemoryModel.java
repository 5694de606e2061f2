package dev.kiln.api.sizing;

import dev.kiln.api.v1alpha1.CollectiveBackend;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import java.util.List;

/**
 * The memory one rank of a stage holds at its peak, counted from what this trainer keeps, op by
 * op: every parameter in fp32, a gradient per trained parameter, AdamW's moments (whole, or a
 * slice plus the flat vectors {@code ShardedOptimizer} exchanges through), and per micro-batch the
 * tensors autograd saves for backward in each decoder block (or only the blocks' inputs when
 * activations are recomputed), the output head's log-probabilities at the target positions, and
 * the vision encoder's work on the micro-batch's images. Checked against measured peaks by
 * {@code MemoryModelTest} and {@code kiln bench trainer}.
 */
public final class MemoryModel {

  /**
   * A GPU process's own memory besides its tensors: the CUDA context and cuBLAS (0.74 GiB), the
   * caching allocator's slack with expandable segments, as the trainer pods run it (0.6-2.5 GiB),
   * both measured at the recipe's size on an H200 (scripts/gpu-memory-check.py), and NCCL's
   * buffers, not measured (one GPU).
   */
  public static final long GPU_RUNTIME_BYTES = 3584L << 20;

  /**
   * What a CPU process adds once a training step has run, besides its tensors (libtorch's and
   * oneDNN's per-kernel state): measured as the intercept of peak over tensor bytes, 10-30 MB from
   * 5M- to 75M-parameter models.
   */
  public static final long CPU_RUNTIME_BYTES = 16L << 20;

  /** The most logits the trainer makes at once (the model's {@code VisionLanguageModel.HEAD_CHUNK}). */
  public static final long HEAD_CHUNK = 1L << 27;

  private static final int FP32 = 4;
  private static final int FP16 = 2;

  private MemoryModel() {}

  /** What decides a rank's memory; one rank per GPU (or per pod on CPU); {@code nccl}: gradients exchanged through NCCL. */
  public record Stage(ModelDimensions dims, List<TrainablePart> trainable, ShardingStrategy sharding, int ranksPerNode,
      int nodes, Precision precision, int microBatch, int sequenceLength, int visualTokens, PackedAttention attention,
      boolean recompute, double textTokensPerSample, boolean nccl) {

    /** Stage {@code stage} of {@code job}, assuming {@code textTokensPerSample} text tokens beside each image. */
    public static Stage of(MultimodalPretrainJob job, StageSpec stage, double textTokensPerSample) {
      var spec = job.getSpec();
      int visualTokens = stage.visualTokens() != null ? stage.visualTokens() : spec.data().packing().visualTokens();
      return new Stage(spec.model().resolve(), stage.trainable(), stage.sharding(),
          Math.max(1, stage.resources().gpusPerNode()), stage.resources().nodes(), stage.trainingPrecision(),
          stage.batch().microBatchSize(), spec.data().packing().sequenceLength(), visualTokens, stage.packedAttention(),
          Boolean.TRUE.equals(stage.recomputeActivations()), textTokensPerSample,
          CollectiveBackend.forStage(stage.collectives(), stage.resources().gpusPerNode()) == CollectiveBackend.NCCL);
    }

    int world() {
      return ranksPerNode * nodes;
    }

    boolean mixed() {
      return precision == Precision.FLOAT16_MIXED;
    }

    /** Whether the optimizer state is split between ranks, as {@code TrainingRun} decides it. */
    boolean sharded() {
      return world() > 1 && (sharding == ShardingStrategy.FULL_SHARD || sharding == ShardingStrategy.SHARD_GRAD_OP
          || (sharding == ShardingStrategy.HYBRID_SHARD && nodes == 1));
    }

    /** Images in one micro-batch: full sequences of an image and its text each. */
    double images() {
      return (double) microBatch * Math.floor(sequenceLength / (visualTokens + textTokensPerSample));
    }

    /** Target positions of one micro-batch: the text tokens (each predicts the next). */
    double targets() {
      return images() * textTokensPerSample;
    }
  }

  /**
   * Bytes per rank at the peak, by what holds them: {@code optimizer} is AdamW's state and the
   * buffers gradients are exchanged through; {@code runtime} the process's own besides its tensors.
   */
  public record Estimate(long parameters, long gradients, long optimizer, long activations, long runtime) {
    public long total() {
      return parameters + gradients + optimizer + activations + runtime;
    }
  }

  /**
   * The peak of one rank of {@code stage}: in a GPU's memory, or in the memory of a CPU rank. Ranks
   * exchange gradients through one flat vector of every trained value in host memory (NO_SHARD's
   * all-reduce bucket, ShardedOptimizer's reduce-scatter input), which NCCL stages through a device
   * buffer as large; a sharded rank keeps its moments and slices in host memory too, so on a GPU
   * only AdamW's unsharded moments take device memory.
   */
  public static Estimate perRank(Stage stage, boolean gpu) {
    long all = ParameterCounts.total(stage.dims());
    long trained = ParameterCounts.trained(stage.dims(), stage.trainable());
    long exchange = stage.world() > 1 ? (long) FP32 * trained : 0;
    long moments = stage.sharded() ? 2L * FP32 * ceilDiv(trained, stage.world()) : 2L * FP32 * trained;
    long slices = stage.sharded() ? 2L * FP32 * ceilDiv(trained, stage.world()) : 0;
    long optimizer = !gpu ? exchange + moments + slices
        : (stage.sharded() ? 0 : moments) + (stage.nccl() ? exchange : 0);
    return new Estimate((long) FP32 * all, (long) FP32 * trained, optimizer, activations(stage),
        gpu ? GPU_RUNTIME_BYTES : CPU_RUNTIME_BYTES);
  }

  /** Peak bytes of one micro-batch's forward and backward. */
  static long activations(Stage s) {
    LanguageModelSpec lm = s.dims().languageModel();
    double positions = (double) s.microBatch() * s.sequenceLength();
    double saved = savedPerBlock(s, positions);
    double working = workingSetPerBlock(s, positions);
    double backward = backwardPerBlock(s, positions);
    // The head's arrays live in the micro-batch's manager, from the end of the forward pass to the end of
    // backward; past HEAD_CHUNK logits they exist a chunk of targets at a time, each freed after its backward.
    double logits = s.targets() * lm.vocabSize();
    boolean chunked = logits > HEAD_CHUNK;
    double headKept = chunked ? 0 : head(s);
    // Backward: the gather's gradient and the log-softmax's, and under Float16Mixed the cast back to fp16.
    double perLogitBackward = s.mixed() ? 2 * FP32 + FP16 : 2 * FP32;
    double headBackward = chunked ? HEAD_CHUNK * (perLogitBackward + (s.mixed() ? FP16 + 2 * FP32 : 2 * FP32))
        : logits * perLogitBackward;
    double decoder;
    if (s.recompute()) {
      // Each block's input through the whole step; one block at a time works forward, then backward.
      decoder = lm.layers() * positions * lm.hiddenSize() * FP32 + headKept
          + Math.max(headBackward, Math.max(working, saved + backward));
    } else {
      // The last block's forward on top of the others' saved tensors; or the backward's start on top of all of them.
      decoder = Math.max((lm.layers() - 1) * saved + working,
          lm.layers() * saved + headKept + Math.max(headBackward, backward));
    }
    // Under Float16Mixed each matrix product keeps an fp16 copy of its weights until backward: every
    // block's, or one block's at a time when recomputing; and the head's copy of the tied embeddings.
    double embeddings = (double) lm.vocabSize() * lm.hiddenSize();
    double blockWeights = (ParameterCounts.languageModel(lm) - embeddings * (lm.tieEmbeddings() ? 1 : 2)) / lm.layers();
    double weightCopies = !s.mixed() ? 0 : FP16 * (embeddings + blockWeights * (s.recompute() ? 1 : lm.layers()));
    return Math.round(decoder + weightCopies + vision(s));
  }

  /** What a block's backward makes while it runs: the gradients of the attention scores and of the MLP's activations. */
  static double backwardPerBlock(Stage s, double positions) {
    double f = s.dims().languageModel().intermediateSize();
    return s.mixed() ? scores(s) * (FP16 + 2 * FP32) + positions * f * 3 * FP16
        : scores(s) * 2 * FP32 + positions * f * 3 * FP32;
  }

  /**
   * A decoder block's widths: residual {@code d}, keys and values {@code kv}, MLP {@code f}; its
   * attention scores over the micro-batch; and per position the stacked key and value windows of
   * block-local attention (none when dense).
   */
  private record Block(double d, double kv, double f, double scores, double windows) {
    static Block of(Stage s) {
      LanguageModelSpec lm = s.dims().languageModel();
      double kv = (double) lm.hiddenSize() / lm.heads() * lm.kvHeads();
      return new Block(lm.hiddenSize(), kv, lm.intermediateSize(), MemoryModel.scores(s),
          s.attention() == PackedAttention.PER_SAMPLE ? 2 * blocksPerWindow(s) * kv : 0);
    }
  }

  /** What autograd keeps from one block until its backward: per position and per attention score. */
  static double savedPerBlock(Stage s, double positions) {
    Block b = Block.of(s);
    if (s.mixed()) {
      // fp32 residual, norm terms and block output; three fp16 casts of the first norm's output and two of the
      // second's; fp16 q, k, v; fp16 MLP; softmax output in fp32 and its fp16 cast.
      return positions * (30 * b.d() + 4 * b.kv() + 10 * b.f() + b.windows() * FP16) + b.scores() * (FP32 + FP16);
    }
    return positions * FP32 * (8 * b.d() + 2 * b.kv() + 5 * b.f() + b.windows()) + b.scores() * FP32;
  }

  /** Everything one block makes in its forward pass, alive until the block ends. */
  static double workingSetPerBlock(Stage s, double positions) {
    Block b = Block.of(s);
    if (s.mixed()) {
      // scores fp16, then fp32, masked, softmax, and the fp16 cast of the softmax; the keys' windows in fp32 and fp16
      return positions * (40 * b.d() + 12 * b.kv() + 10 * b.f() + b.windows() * (FP32 + FP16))
          + b.scores() * (FP16 + 3 * FP32 + FP16);
    }
    return positions * FP32 * (18 * b.d() + 6 * b.kv() + 5 * b.f() + b.windows()) + b.scores() * 3 * FP32;
  }

  /** Attention scores of one block over the micro-batch: dense T x T per head, or each query's window. */
  static double scores(Stage s) {
    return (double) s.microBatch() * s.dims().languageModel().heads() * s.sequenceLength() * keysPerQuery(s);
  }

  /**
   * Keys each query is scored against: every position (Continuous, dense), or the window of
   * blocks that covers a sample (PerSample, as {@code PackedBatch} lays it out).
   */
  static double keysPerQuery(Stage s) {
    int[] window = window(s);
    return (double) window[0] * window[1];
  }

  /** Blocks of keys in each query block's window (PerSample); 1 when dense. */
  static double blocksPerWindow(Stage s) {
    return window(s)[1];
  }

  /** {block, blocks per window}: the block size (of PackedBatch's) whose window spans the fewest keys; {T, 1} when dense. */
  private static int[] window(Stage s) {
    int length = s.sequenceLength();
    int[] best = {length, 1};
    if (s.attention() == PackedAttention.CONTINUOUS) {
      return best;
    }
    double sample = s.visualTokens() + s.textTokensPerSample();
    for (int block : new int[] {256, 128, 64, 32}) {
      if (length % block != 0) {
        continue;
      }
      // A sample starting anywhere in a block reaches into one block more than it fills.
      int blocks = (int) Math.ceil(sample / block) + 1;
      long span = (long) blocks * block;
      if (span <= length / 2 && span < (long) best[0] * best[1]) {
        best = new int[] {block, blocks};
      }
    }
    return best;
  }

  /** The output head's logits and log-probabilities over the vocabulary at each target (fp16 logits and an fp32 copy under Float16Mixed). */
  static double head(Stage s) {
    double logits = s.targets() * s.dims().languageModel().vocabSize();
    return logits * (s.mixed() ? FP16 + 2 * FP32 : 2 * FP32);
  }

  /**
   * The vision encoder and projector on the micro-batch's images: the encoder's output; when the
   * encoder trains, what each block saves; else one block's work at a time.
   */
  static double vision(Stage s) {
    VisionEncoderSpec v = s.dims().vision();
    double tokens = s.images() * v.gridSize() * v.gridSize();
    double w = v.width();
    double scores = s.images() * v.heads() * Math.pow((double) v.gridSize() * v.gridSize(), 2);
    double output = tokens * w * FP32;
    double block = tokens * FP32 * (12 * w + 4 * v.mlpDim()) + scores * 3 * FP32;
    double saved = tokens * FP32 * (8 * w + 6 * v.mlpDim()) + scores * FP32;
    double projector = s.images() * s.visualTokens() * FP32 * (3 * s.dims().projectorHidden()
        + s.dims().languageModel().hiddenSize()) + tokens * w * FP32;
    return output + projector + (s.trainable().contains(TrainablePart.VISION) ? (v.depth() - 1) * saved + block : block);
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
