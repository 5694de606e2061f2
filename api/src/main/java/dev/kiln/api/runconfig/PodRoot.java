package dev.kiln.api.runconfig;

import java.nio.file.Path;

/**
 * Maps the absolute paths a pod sees ({@code /kiln/workspace/...}) onto the filesystem. In a
 * container that is the identity; a pod's command run outside a container (the local node of
 * {@code kiln run}, tests) is given the folder that stands in for the pod's {@code /} in
 * {@value #ENV}.
 */
public record PodRoot(Path root) {

  /** Environment variable naming the folder that stands in for {@code /}. */
  public static final String ENV = "KILN_ROOT";

  public static PodRoot identity() {
    return new PodRoot(null);
  }

  /** {@value #ENV} when set, else the identity. */
  public static PodRoot fromEnvironment() {
    String root = System.getenv(ENV);
    return root == null || root.isBlank() ? identity() : new PodRoot(Path.of(root));
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

  public Path resolve(Path podPath) {
    return podPath == null ? null : resolve(podPath.toString());
  }

  /** The path as the pod sees it: the inverse of {@link #resolve(String)}, for what a pod records. */
  public String podPath(Path path) {
    if (path == null) {
      return null;
    }
    if (root == null || !path.toAbsolutePath().startsWith(root.toAbsolutePath())) {
      return path.toString();
    }
    return "/" + root.toAbsolutePath().relativize(path.toAbsolutePath()).toString().replace('\\', '/');
  }
}
