package dev.kiln.trainer.parallel;

import ai.djl.ndarray.NDArray;
import dev.kiln.trainer.device.TensorMemory;
import dev.kiln.trainer.optim.Gradients;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Plain data parallelism ({@code NO_SHARD}): every rank holds the whole model and optimizer,
 * trains on its own part of each global batch, and the gradients are averaged over ranks with
 * one all-reduce per step (a single flat bucket in native memory), so every rank takes the same
 * step. The step's
 * loss and token count are averaged and summed the same way.
 */
public final class DataParallel {

  private final Collectives collectives;
  private MemorySegment bucket = MemorySegment.NULL;

  public DataParallel(Collectives collectives) {
    this.collectives = collectives;
  }

  public Collectives collectives() {
    return collectives;
  }

  /**
   * Replaces each parameter's gradient by its mean over the ranks: the gradients' memory copied
   * into one native bucket, all-reduced in place there, averaged and copied back.
   */
  public void averageGradients(List<NDArray> parameters, Gradients gradients) throws IOException {
    if (collectives.world() == 1) {
      return;
    }
    long bytes = 0;
    for (NDArray p : parameters) {
      bytes += 4 * p.size();
    }
    if (bucket.byteSize() != bytes) {
      bucket = Arena.ofAuto().allocate(bytes, 64);
    }
    long at = 0;
    for (NDArray p : parameters) {
      MemorySegment grad = TensorMemory.read(gradients.of(p));
      MemorySegment.copy(grad, 0, bucket, at, grad.byteSize());
      at += grad.byteSize();
    }
    collectives.allReduce(bucket);
    float scale = 1f / collectives.world();
    for (long i = 0; i < bytes; i += 4) {
      bucket.set(Collectives.FLOAT, i, bucket.get(Collectives.FLOAT, i) * scale);
    }
    at = 0;
    for (NDArray p : parameters) {
      long size = 4 * p.size();
      TensorMemory.write(gradients.of(p), bucket.asSlice(at, size));
      at += size;
    }
  }

  /**
   * The mean of {@code loss}, the sum of {@code tokens}, and whether any rank was asked to stop
   * (1 or 0), over ranks in one all-reduce: every rank then stops at the same step.
   */
  public double[] lossTokensAndStop(double loss, long tokens, boolean stop) throws IOException {
    if (collectives.world() == 1) {
      return new double[] {loss, tokens, stop ? 1 : 0};
    }
    float[] all = {(float) loss, tokens, stop ? 1 : 0};
    collectives.allReduce(all);
    return new double[] {all[0] / collectives.world(), all[1], all[2] > 0 ? 1 : 0};
  }
}
