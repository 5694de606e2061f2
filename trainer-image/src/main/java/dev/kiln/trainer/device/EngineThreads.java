package dev.kiln.trainer.device;

import dev.kiln.api.runconfig.CpuLimit;
import java.util.Map;

/**
 * libtorch's thread pools for training. Intra-op threads: the container's CPU limit shared by the
 * pod's local ranks ({@link CpuLimit}), since libtorch would otherwise start one per core of the
 * host in every rank and the kernel would throttle the pod. One inter-op thread: the training step
 * has no parallel graph branches for an inter-op pool to run, and on few cores its threads compete
 * with the intra-op threads that do the work (measured on 2 cores: steps of the small preset 3.5%
 * faster). Must run before the engine starts; explicit {@code -Dai.djl.pytorch.num_threads} and
 * {@code -Dai.djl.pytorch.num_interop_threads} win.
 */
public final class EngineThreads {

  static final String INTRA_OP = "ai.djl.pytorch.num_threads";
  static final String INTEROP = "ai.djl.pytorch.num_interop_threads";
  /** Local ranks of a pod: one process per GPU, one on CPU. */
  static final String GPUS_PER_NODE_ENV = "KILN_GPUS_PER_NODE";

  private EngineThreads() {}

  public static void configureForTraining() {
    configure(System.getenv());
  }

  static void configure(Map<String, String> env) {
    if (System.getProperty(INTRA_OP) == null) {
      CpuLimit.perProcess(env, localRanks(env)).ifPresent(threads -> System.setProperty(INTRA_OP, Integer.toString(threads)));
    }
    if (System.getProperty(INTEROP) == null) {
      System.setProperty(INTEROP, "1");
    }
  }

  private static int localRanks(Map<String, String> env) {
    try {
      return Math.max(1, Integer.parseInt(env.getOrDefault(GPUS_PER_NODE_ENV, "1").strip()));
    } catch (NumberFormatException e) {
      return 1;
    }
  }
}
