package dev.kiln.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.model.Parameters;
import dev.kiln.trainer.checkpoint.Moments;
import dev.kiln.trainer.device.TensorMemory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW over a list of named parameters, in PyTorch's exact order of operations (decoupled
 * weight decay, bias-corrected moments), so a step matches torch.optim.AdamW. It holds state only
 * for the parameters it is given: a sharded trainer gives each rank its own shard.
 */
public final class AdamW {

  private final OptimizerSpec spec;
  private final NDManager manager;
  private final Map<String, NDArray> firstMoment = new LinkedHashMap<>();
  private final Map<String, NDArray> secondMoment = new LinkedHashMap<>();
  private long steps;

  public AdamW(OptimizerSpec spec, NDManager manager) {
    this.spec = spec;
    this.manager = manager;
  }

  /** No decay on biases, norms and anything with at most one dimension (the recipe's rule). */
  public static boolean decays(String name, NDArray parameter) {
    return parameter.getShape().dimension() > 1 && !name.endsWith(".bias") && !name.contains("norm");
  }

  /**
   * One update of every named parameter from its gradient times {@code gradientScale} (the
   * clipping coefficient, {@link Gradients#clipCoefficient}), at learning rate {@code lr}. Consumes
   * the gradients: they are zero afterwards. On the CPU one pass over each tensor's own memory on
   * all cores ({@link AdamWKernel}); elsewhere tensor ops in the same order.
   */
  public void step(Map<String, NDArray> parameters, Gradients gradients, double lr, double gradientScale) {
    steps++;
    List<String> names = new ArrayList<>(parameters.keySet());
    List<NDArray> p = new ArrayList<>();
    List<NDArray> g = new ArrayList<>();
    List<NDArray> m = new ArrayList<>();
    List<NDArray> v = new ArrayList<>();
    boolean[] decay = new boolean[names.size()];
    for (int i = 0; i < names.size(); i++) {
      NDArray parameter = parameters.get(names.get(i));
      p.add(parameter);
      g.add(gradients.of(parameter));
      m.add(firstMoment.computeIfAbsent(names.get(i), k -> manager.zeros(parameter.getShape())));
      v.add(secondMoment.computeIfAbsent(names.get(i), k -> manager.zeros(parameter.getShape())));
      decay[i] = spec.weightDecay() > 0 && decays(names.get(i), parameter);
    }
    if (!FloatChunks.allOnCpu(p)) {
      for (int i = 0; i < names.size(); i++) {
        tensorStep(p.get(i), g.get(i), m.get(i), v.get(i), decay[i], lr, gradientScale);
      }
      return;
    }
    AdamWKernel kernel = new AdamWKernel(spec, steps, lr);
    float scale = (float) gradientScale;
    FloatChunks.forEach(FloatChunks.of(p), chunk -> {
      int i = chunk.tensor();
      kernel.apply(TensorMemory.read(p.get(i)), TensorMemory.read(g.get(i)), scale, TensorMemory.read(m.get(i)),
          TensorMemory.read(v.get(i)), chunk.from(), chunk.to() - chunk.from(), decay[i]);
    });
  }

  /** The same step as {@link AdamWKernel}, as tensor ops (for tensors whose memory Java cannot reach). */
  private void tensorStep(NDArray p, NDArray g, NDArray m, NDArray v, boolean decay, double lr, double gradientScale) {
    double stepSize = lr / (1 - Math.pow(spec.beta1(), steps));
    double sqrtBiasCorrection2 = Math.sqrt(1 - Math.pow(spec.beta2(), steps));
    if (gradientScale != 1) {
      g.muli(gradientScale);
    }
    if (decay) {
      p.muli(1 - lr * spec.weightDecay());
    }
    try (NDArray scaled = g.mul(1 - spec.beta1())) {
      m.muli(spec.beta1()).addi(scaled);
    }
    try (NDArray squared = g.mul(g).muli(1 - spec.beta2())) {
      v.muli(spec.beta2()).addi(squared);
    }
    try (NDArray denom = v.sqrt().divi(sqrtBiasCorrection2).addi(spec.eps());
        NDArray update = m.div(denom).muli(stepSize)) {
      p.subi(update);
    }
    Gradients.fillZero(g);
  }

  private static void replace(Map<String, NDArray> moments, String name, NDArray value) {
    NDArray old = moments.put(name, value);
    if (old != null) {
      old.close();
    }
  }

  public long steps() {
    return steps;
  }

  /** Moments by parameter name, for checkpoints: {@code exp_avg.<name>} and {@code exp_avg_sq.<name>}. */
  public Map<String, NDArray> state() {
    Map<String, NDArray> state = new LinkedHashMap<>();
    firstMoment.forEach((name, m) -> state.put("exp_avg." + name, m));
    secondMoment.forEach((name, v) -> state.put("exp_avg_sq." + name, v));
    return state;
  }

  /** Restores moments and the step count written by {@link #state()}, one parameter's moments in the heap at a time. */
  public void restore(Moments state, Map<String, NDArray> parameters, long steps) throws IOException {
    this.steps = steps;
    for (Map.Entry<String, NDArray> entry : parameters.entrySet()) {
      String name = entry.getKey();
      if (!state.has(name)) {
        continue;
      }
      int size = Math.toIntExact(entry.getValue().size());
      float[] values = new float[size];
      // Written into engine-owned memory: an array made from Java floats keeps a direct buffer until it is collected.
      state.read(name, false, 0, values, 0, size);
      replace(firstMoment, name, Parameters.fromFloats(manager, values, entry.getValue().getShape()));
      state.read(name, true, 0, values, 0, size);
      replace(secondMoment, name, Parameters.fromFloats(manager, values, entry.getValue().getShape()));
    }
  }
}
