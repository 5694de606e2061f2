package dev.kiln.local;

import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** How the local kubelet runs a pod's container: as a process ({@link Container}) or as a stand-in. */
interface ContainerRuntime {

  /** Starts the pod's container, its address being {@code podIp} and its claims mounted from {@code claimFolders}. */
  RunningContainer start(Pod pod, Path folder, String podIp, ImageCatalog.Program program, Map<String, Path> claimFolders)
      throws IOException;

  /** A started container, as the kubelet follows it. */
  interface RunningContainer {

    boolean alive();

    int exitCode();

    /** SIGTERM, then SIGKILL after the grace period; or SIGKILL at once. */
    void kill(boolean now, long graceSeconds);

    /** What the kubelet reports as the termination message. */
    String terminationMessage(int exitCode) throws IOException;
  }
}
