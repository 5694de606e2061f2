package dev.kiln.model;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/**
 * libtorch's grad mode is per thread and on by default; DJL turns it off only on the thread that
 * starts the engine (a gradient collector restores whatever it found). A thread that updates
 * parameters in place outside a collector, as an optimizer does, must have it off, or libtorch
 * refuses ("a leaf Variable that requires grad is being used in an in-place operation").
 */
public final class GradMode {

  private GradMode() {}

  /** Turns grad mode off on the calling thread, whichever thread started the engine. */
  public static void offOnThisThread() {
    Engine.getInstance();  // loads libtorch and DJL's JNI library before the call below
    JniUtils.setGradMode(false);
  }
}
