package dev.kiln.local;

import dev.kiln.api.runconfig.ExitCodes;
import io.fabric8.kubernetes.api.model.Pod;

/**
 * A container that runs nothing, for measuring the operator at a scale this machine cannot train
 * at: a trainer pod holds its GPUs until it is stopped (then exits as a stopped trainer does), or,
 * when its container's environment sets {@value #TRAIN_SECONDS}, until that many seconds have
 * passed (then exits 0, as a trainer that reached its budget); every other pod (data
 * preparation) succeeds at once.
 */
final class StandInContainer implements ContainerRuntime.RunningContainer {

  /** The runtime that starts stand-ins for every pod. */
  static final ContainerRuntime RUNTIME = (pod, folder, podIp, program, claimFolders) -> new StandInContainer(pod);

  /** Environment variable of a trainer stand-in: seconds it "trains" before it exits 0. */
  static final String TRAIN_SECONDS = "STAND_IN_TRAIN_SECONDS";

  private volatile Integer exitCode;
  private final long finishesAt;

  private StandInContainer(Pod pod) {
    var labels = pod.getMetadata().getLabels();
    exitCode = labels != null && LocalCluster.TRAINER.equals(labels.get(LocalCluster.COMPONENT_LABEL)) ? null : 0;
    long seconds = pod.getSpec().getContainers().getFirst().getEnv() == null ? -1 : pod.getSpec().getContainers()
        .getFirst().getEnv().stream().filter(e -> TRAIN_SECONDS.equals(e.getName()) && e.getValue() != null)
        .mapToLong(e -> Long.parseLong(e.getValue())).findFirst().orElse(-1);
    finishesAt = seconds < 0 ? Long.MAX_VALUE : System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(seconds);
  }

  @Override
  public boolean alive() {
    if (exitCode == null && System.nanoTime() >= finishesAt) {
      exitCode = 0;
    }
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
