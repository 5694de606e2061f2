package dev.kiln.trainer.optim;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;
import java.util.stream.IntStream;

/**
 * The float32 memory of CPU tensors cut into fixed chunks for a pass on all cores: the chunks do
 * not depend on the number of threads, so a pass that reduces per chunk and then adds the chunks
 * in order gives the same bits on any machine.
 */
final class FloatChunks {

  static final int CHUNK = 1 << 16;

  /** Floats {@code from} to {@code to} of tensor {@code tensor} of the list. */
  record Chunk(int tensor, long from, long to) {}

  private FloatChunks() {}

  static List<Chunk> of(List<NDArray> tensors) {
    List<Chunk> chunks = new ArrayList<>();
    for (int t = 0; t < tensors.size(); t++) {
      long size = tensors.get(t).size();
      for (long from = 0; from < size; from += CHUNK) {
        chunks.add(new Chunk(t, from, Math.min(size, from + CHUNK)));
      }
    }
    return chunks;
  }

  /** Runs {@code work} on every chunk, on all cores. */
  static void forEach(List<Chunk> chunks, Consumer<Chunk> work) {
    IntStream.range(0, chunks.size()).parallel().forEach(i -> work.accept(chunks.get(i)));
  }

  /** The sum of {@code partial} over the chunks, added in chunk order. */
  static double sum(List<Chunk> chunks, ToDoubleFunction<Chunk> partial) {
    double[] partials = new double[chunks.size()];
    IntStream.range(0, chunks.size()).parallel().forEach(i -> partials[i] = partial.applyAsDouble(chunks.get(i)));
    double sum = 0;
    for (double p : partials) {
      sum += p;
    }
    return sum;
  }

  static boolean allOnCpu(List<NDArray> tensors) {
    return tensors.stream().noneMatch(t -> t.getDevice().isGpu());
  }
}
