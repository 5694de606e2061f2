package dev.kiln.trainer.parallel;

import ai.djl.ndarray.NDArray;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.model.weights.SafeTensors;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.trainer.checkpoint.Moments;
import dev.kiln.trainer.device.TensorMemory;
import dev.kiln.trainer.optim.AdamW;
import dev.kiln.trainer.optim.AdamWKernel;
import dev.kiln.trainer.optim.Gradients;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code SHARD_GRAD_OP} (and {@code FULL_SHARD}, which DJL's autograd does not let us free
 * between layers, so it keeps parameters gathered through the step the same way): the trainable
 * parameters laid end to end in one flat vector, padded to a multiple of the world size, rank r
 * owning slice r. Each step the gradients are reduce-scattered (rank r receives the summed
 * slice r), clipped by the global norm, and AdamW, in {@link AdamW}'s order of operations,
 * updates slice r only; the updated slices are all-gathered back into every rank's parameters.
 * Optimizer state per rank is 2/world of the parameters.
 */
public final class ShardedOptimizer {

  private final Collectives collectives;
  private final OptimizerSpec spec;
  private final List<String> names = new ArrayList<>();
  private final List<NDArray> parameters = new ArrayList<>();
  private final int[] offsets;
  private final int total;
  private final int shard;
  private final int from;
  private final boolean[] decays;
  /** This rank's slice of both moments, in native memory like the other slices (not in the JVM's heap). */
  private final MemorySegment firstMoment;
  private final MemorySegment secondMoment;
  private final MemorySegment flat;
  private final MemorySegment gradSlice;
  private final MemorySegment parameterSlice;
  private double gradNorm;
  private long steps;

  public ShardedOptimizer(Collectives collectives, Map<String, NDArray> trainable, OptimizerSpec spec) {
    this.collectives = collectives;
    this.spec = spec;
    trainable.forEach((name, p) -> {
      names.add(name);
      parameters.add(p);
    });
    offsets = new int[names.size() + 1];
    for (int i = 0; i < names.size(); i++) {
      offsets[i + 1] = offsets[i] + Math.toIntExact(parameters.get(i).size());
    }
    total = offsets[names.size()];
    int world = collectives.world();
    shard = (total + world - 1) / world;
    from = collectives.rank() * shard;
    decays = new boolean[names.size()];
    for (int i = 0; i < names.size(); i++) {
      decays[i] = spec.weightDecay() > 0 && AdamW.decays(names.get(i), parameters.get(i));
    }
    Arena arena = Arena.ofAuto();
    firstMoment = arena.allocate(4L * shard, 64);
    secondMoment = arena.allocate(4L * shard, 64);
    flat = arena.allocate(4L * shard * world, 64);
    gradSlice = arena.allocate(4L * shard, 64);
    parameterSlice = arena.allocate(4L * shard, 64);
  }

  /** Floats of optimizer state this rank holds (two moments of its slice). */
  public long stateFloats() {
    return 2L * shard;
  }

  public long steps() {
    return steps;
  }

  /**
   * Reduce-scatters the gradients into this rank's slice, averaged over ranks and multiplied by
   * {@code unscale} (1, or 1 / the loss scale); returns their global norm, for {@link #apply}.
   */
  public double reduce(Gradients gradients, double unscale) throws IOException {
    int world = collectives.world();
    for (int i = 0; i < parameters.size(); i++) {
      MemorySegment grad = TensorMemory.read(gradients.of(parameters.get(i)));
      MemorySegment.copy(grad, 0, flat, 4L * offsets[i], grad.byteSize());
    }
    flat.asSlice(4L * total).fill((byte) 0);
    collectives.reduceScatter(flat, gradSlice);
    float factor = (float) unscale;
    double squares = 0;
    for (long at = 0; at < 4L * shard; at += 4) {
      float g = gradSlice.get(Collectives.FLOAT, at) / world * factor;
      gradSlice.set(Collectives.FLOAT, at, g);
      squares += (double) g * g;
    }
    float[] norm = {(float) squares};
    collectives.allReduce(norm);
    gradNorm = Math.sqrt(norm[0]);
    return gradNorm;
  }

  /** Clips the reduced slice by the global norm, runs AdamW on it and all-gathers the parameters. */
  public void apply(double lr) throws IOException {
    readParameterSlice();
    update(lr, (float) Gradients.clipCoefficient(gradNorm, spec.gradClip()));
    collectives.allGather(parameterSlice, flat);
    for (int i = 0; i < parameters.size(); i++) {
      TensorMemory.write(parameters.get(i), flat.asSlice(4L * offsets[i], 4L * (offsets[i + 1] - offsets[i])));
    }
  }

  /** AdamW on this rank's slice of the parameters, each parameter's part with its own decay rule. */
  private void update(double lr, float clipCoefficient) {
    steps++;
    AdamWKernel kernel = new AdamWKernel(spec, steps, lr);
    MemorySegment m = firstMoment;
    MemorySegment v = secondMoment;
    for (int i = 0; i < parameters.size(); i++) {
      int start = Math.max(offsets[i], from);
      int end = Math.min(offsets[i + 1], from + shard);
      if (start < end) {
        kernel.apply(parameterSlice, gradSlice, clipCoefficient, m, v, start - from, end - start, decays[i]);
      }
    }
  }

  /** Reads this rank's slice of the current parameters (the same on every rank), zero-padded. */
  private void readParameterSlice() {
    parameterSlice.fill((byte) 0);
    for (int i = 0; i < parameters.size(); i++) {
      int start = Math.max(offsets[i], from);
      int end = Math.min(offsets[i + 1], from + shard);
      if (start < end) {
        MemorySegment.copy(TensorMemory.read(parameters.get(i)), 4L * (start - offsets[i]), parameterSlice,
            4L * (start - from), 4L * (end - start));
      }
    }
  }

  /** This rank's slice of both moments, written into a checkpoint folder next to the other ranks' slices. */
  public void writeShard(Path partial) throws IOException {
    SafeTensors.writeEach(partial.resolve(CheckpointStore.optimizerShard(collectives.rank(), collectives.world())),
        Map.of("exp_avg", source(firstMoment), "exp_avg_sq", source(secondMoment)), Map.of());
  }

  private SafeTensors.Source source(MemorySegment moment) {
    return new SafeTensors.Source(new long[] {shard}, () -> moment.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
  }

  /** How the slices lie in the flat vector: what loading needs to join them by parameter name. */
  public CheckpointStore.OptimizerLayout layout() {
    List<Integer> sizes = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      sizes.add(offsets[i + 1] - offsets[i]);
    }
    return new CheckpointStore.OptimizerLayout(collectives.world(), shard, List.copyOf(names), sizes);
  }

  /** Takes this rank's slice of moments written by any world size. */
  public void restore(Moments state, long steps) throws IOException {
    this.steps = steps;
    for (int i = 0; i < names.size(); i++) {
      if (!state.has(names.get(i))) {
        continue;
      }
      int start = Math.max(offsets[i], from);
      int end = Math.min(offsets[i + 1], from + shard);
      if (start < end) {
        state.read(names.get(i), false, start - offsets[i], firstMoment, start - from, end - start);
        state.read(names.get(i), true, start - offsets[i], secondMoment, start - from, end - start);
      }
    }
  }

}
