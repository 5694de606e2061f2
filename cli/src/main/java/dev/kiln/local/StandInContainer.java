package dev.kiln.local;

import dev.kiln.api.runconfig.ExitCodes;
import io.fabric8.kubernetes.api.model.Pod;

/**
 * A container that runs nothing, for measuring the operator at a scale this machine cannot train
 * at: a trainer pod holds its GPUs until it is stopped (then exits as a stopped trainer does),
 * every other pod (data preparation) succeeds at once.
 */
final class StandInContainer implements ContainerRuntime.RunningContainer {

  /** The runtime that starts stand-ins for every pod. */
  static final ContainerRuntime RUNTIME = (pod, folder, podIp, program, claimFolders) -> new StandInContainer(pod);

  private volatile Integer exitCode;

  private StandInContainer(Pod pod) {
    var labels = pod.getMetadata().getLabels();
    exitCode = labels != null && LocalCluster.TRAINER.equals(labels.get(LocalCluster.COMPONENT_LABEL)) ? null : 0;
  }

  @Override
  public boolean alive() {
    return exitCode == null;
  }

  @Override
  public int exitCode() {
    return exitCode;
  }

  @Override
  public void kill(boolean now, long graceSeconds) {
    exitCode = now ? 137 : ExitCodes.STOPPED;
  }

  @Override
  public String terminationMessage(int exitCode) {
    return "";
  }
}
