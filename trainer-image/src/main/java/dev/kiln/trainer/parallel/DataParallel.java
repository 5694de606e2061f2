package dev.kiln.trainer.parallel;

import ai.djl.ndarray.NDArray;
import dev.kiln.trainer.optim.Gradients;
import java.io.IOException;
import java.util.List;

/**
 * Plain data parallelism ({@code NO_SHARD}): every rank holds the whole model and optimizer,
 * trains on its own part of each global batch, and the gradients are averaged over ranks with
 * one all-reduce per step (a single flat bucket), so every rank takes the same step. The step's
 * loss and token count are averaged and summed the same way.
 */
public final class DataParallel {

  private final Collectives collectives;
  private float[] bucket = new float[0];

  public DataParallel(Collectives collectives) {
    this.collectives = collectives;
  }

  public Collectives collectives() {
    return collectives;
  }

  /** Replaces each parameter's gradient by its mean over the ranks. */
  public void averageGradients(List<NDArray> parameters, Gradients gradients) throws IOException {
    if (collectives.world() == 1) {
      return;
    }
    int total = 0;
    for (NDArray p : parameters) {
      total += Math.toIntExact(p.size());
    }
    if (bucket.length != total) {
      bucket = new float[total];
    }
    int at = 0;
    for (NDArray p : parameters) {
      float[] grad = gradients.of(p).toFloatArray();
      System.arraycopy(grad, 0, bucket, at, grad.length);
      at += grad.length;
    }
    collectives.allReduce(bucket);
    float scale = 1f / collectives.world();
    at = 0;
    for (NDArray p : parameters) {
      int n = Math.toIntExact(p.size());
      float[] mean = new float[n];
      for (int i = 0; i < n; i++) {
        mean[i] = bucket[at + i] * scale;
      }
      gradients.of(p).set(mean);
      at += n;
    }
  }

  /** The mean of {@code loss} and the sum of {@code tokens} over ranks. */
  public double[] lossAndTokens(double loss, long tokens) throws IOException {
    if (collectives.world() == 1) {
      return new double[] {loss, tokens};
    }
    float[] both = {(float) loss, tokens};
    collectives.allReduce(both);
    return new double[] {both[0] / collectives.world(), both[1]};
  }
}
