package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * The model's tensors by HF-layout name ({@code model.layers.0.self_attn.q_proj.weight},
 * {@code vision_model.encoder.layers.0.mlp.fc1.weight}, {@code projector.fc1.weight}): what
 * checkpoints and exported safetensors hold, and what the optimizer (or a shard of it) walks.
 * Initial values come from a seeded Java RNG per name, so they do not depend on the engine.
 */
public final class Parameters implements AutoCloseable {

  private final NDManager manager;
  private final long seed;
  private final Map<String, NDArray> tensors = new LinkedHashMap<>();
  private final Map<String, Boolean> trainable = new LinkedHashMap<>();

  /** Names and shapes as declared, in definition order; the only record kept by a {@link #layoutOnly} instance. */
  private final Map<String, Shape> shapes = new LinkedHashMap<>();

  public Parameters(NDManager manager, long seed) {
    this.manager = manager;
    this.seed = seed;
  }

  /**
   * Parameters that record names and shapes only, allocating nothing: a model's layout at full
   * size (what a checkpoint must hold) costs no memory.
   */
  static Parameters layoutOnly() {
    return new Parameters(null, 0);
  }

  /** Every declared tensor's shape, by name in definition order. */
  public Map<String, Shape> shapes() {
    return Collections.unmodifiableMap(shapes);
  }

  public NDManager manager() {
    return manager;
  }

  /** Normal(0, std) weights. */
  NDArray normal(String name, double std, long... shape) {
    if (declared(name, shape)) {
      return null;
    }
    SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ name.hashCode());
    float[] values = new float[Math.toIntExact(new Shape(shape).size())];
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) (gaussian(random) * std);
    }
    return put(name, fromFloats(manager, values, new Shape(shape)));
  }

  NDArray zeros(String name, long... shape) {
    return declared(name, shape) ? null : put(name, manager.zeros(new Shape(shape)));
  }

  NDArray ones(String name, long... shape) {
    return declared(name, shape) ? null : put(name, manager.ones(new Shape(shape)));
  }

  /** Records the declaration; true when this instance records layouts only and nothing is to be allocated. */
  private boolean declared(String name, long... shape) {
    if (shapes.putIfAbsent(name, new Shape(shape)) != null) {
      throw new IllegalStateException("parameter " + name + " defined twice");
    }
    return manager == null;
  }

  /** Adds a tensor read from a file, frozen (a scoring model is never trained). */
  public NDArray frozen(String name, float[] values, Shape shape) {
    NDArray array = put(name, fromFloats(manager, values, shape));
    setTrainable(name::equals, false);
    return array;
  }

  private NDArray put(String name, NDArray created) {
    if (tensors.containsKey(name)) {
      throw new IllegalStateException("parameter " + name + " defined twice");
    }
    NDArray array = created;
    array.setName(name);
    array.setRequiresGradient(true);
    tensors.put(name, array);
    trainable.put(name, true);
    return array;
  }

  public NDArray get(String name) {
    NDArray array = tensors.get(name);
    if (array == null) {
      throw new IllegalArgumentException("no parameter " + name);
    }
    return array;
  }

  /** Every tensor, in definition order. */
  public Map<String, NDArray> all() {
    return Collections.unmodifiableMap(tensors);
  }

  /** Freezes (or unfreezes) parameters whose names match. */
  public void setTrainable(Predicate<String> names, boolean value) {
    for (String name : tensors.keySet()) {
      if (names.test(name)) {
        trainable.put(name, value);
        tensors.get(name).setRequiresGradient(value);
      }
    }
  }

  /** Whether any parameter whose name starts with {@code prefix} is trained. */
  public boolean anyTrainable(String prefix) {
    return trainable.entrySet().stream().anyMatch(e -> e.getValue() && e.getKey().startsWith(prefix));
  }

  /** Names of parameters the optimizer updates, in definition order. */
  public List<String> trainableNames() {
    List<String> names = new ArrayList<>();
    trainable.forEach((name, on) -> {
      if (on) {
        names.add(name);
      }
    });
    return names;
  }

  /** Parameters the optimizer updates, by name in definition order. */
  public Map<String, NDArray> trainable() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    trainableNames().forEach(name -> out.put(name, tensors.get(name)));
    return out;
  }

  /** Number of scalars, optionally only where {@code names} matches. */
  public long count(Predicate<String> names) {
    return tensors.entrySet().stream().filter(e -> names.test(e.getKey())).mapToLong(e -> e.getValue().size()).sum();
  }

  /** Replaces a parameter's values (shape must match) with a new tensor, keeping its trainable flag. */
  public void load(String name, float[] values, Shape shape) {
    NDArray old = get(name);
    if (!old.getShape().equals(shape) && !flattens(shape, old.getShape())) {
      throw new IllegalArgumentException(name + ": shape " + shape + " does not match the model's " + old.getShape());
    }
    NDArray fresh = fromFloats(manager, values, old.getShape());
    fresh.setName(name);
    fresh.setRequiresGradient(trainable.get(name));
    tensors.put(name, fresh);
    old.close();
  }

  /** Whether {@code model} is {@code file} with its trailing dimensions flattened (a Conv2d kernel as a matrix). */
  public static boolean flattens(Shape file, Shape model) {
    return model.dimension() == 2 && file.dimension() > 2 && file.get(0) == model.get(0) && file.size() == model.size();
  }

  @Override
  public void close() {
    tensors.values().forEach(NDArray::close);
  }

  /**
   * {@code values} in a tensor of {@code shape} whose memory the engine owns, written straight into
   * it on the CPU. {@code manager.create(float[])} would wrap a direct buffer that only the garbage
   * collector frees: a model's worth of them (the whole model while it is built or loaded) could
   * wait for a collection.
   */
  public static NDArray fromFloats(NDManager manager, float[] values, Shape shape) {
    NDArray array = manager.zeros(shape);
    if (array.getDevice().isGpu()) {
      array.set(FloatBuffer.wrap(values));  // a host copy on its way to the device
    } else {
      array.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer().put(values);
    }
    return array;
  }

  /**
   * A copy in memory the engine owns. Arrays made from Java arrays wrap a direct buffer that the
   * Java garbage collector frees; a parameter must never depend on that.
   */
  public static NDArray owned(NDArray created) {
    NDArray copy = created.duplicate();
    created.close();
    return copy;
  }

  /** Box-Muller from a splittable RNG: same numbers on every JVM. */
  private static double gaussian(SplittableRandom random) {
    double u1 = random.nextDouble();
    double u2 = random.nextDouble();
    return Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300))) * Math.cos(2 * Math.PI * u2);
  }
}
