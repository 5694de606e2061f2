package dev.kiln.trainer.device;

/**
 * libtorch's thread pools for training: one inter-op thread. The training step has no parallel
 * graph branches for an inter-op pool to run, and on few cores its threads compete with the
 * intra-op threads that do the work (measured on 2 cores: steps of the small preset 3.5% faster).
 * Must run before the engine starts; an explicit {@code -Dai.djl.pytorch.num_interop_threads} wins.
 */
public final class EngineThreads {

  static final String INTEROP = "ai.djl.pytorch.num_interop_threads";

  private EngineThreads() {}

  public static void configureForTraining() {
    if (System.getProperty(INTEROP) == null) {
      System.setProperty(INTEROP, "1");
    }
  }
}
