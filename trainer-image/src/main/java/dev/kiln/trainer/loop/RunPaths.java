package dev.kiln.trainer.loop;

import java.nio.file.Path;

/**
 * Maps the absolute paths of a run config ({@code /kiln/workspace/...}) onto the filesystem. In a pod
 * that is the identity; a pod's command run outside a container gives the folder that stands in
 * for the pod's root.
 */
public record RunPaths(Path root) {

  public static RunPaths identity() {
    return new RunPaths(null);
  }

  public Path resolve(String podPath) {
    if (podPath == null) {
      return null;
    }
    if (root == null || !podPath.startsWith("/")) {
      return Path.of(podPath);
    }
    return root.resolve(podPath.substring(1));
  }
}
