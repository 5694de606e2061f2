package dev.kiln.api.runconfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The check every program that writes to a volume makes before it starts its work: that it can
 * create a file where its output goes. A volume this user cannot write to would otherwise fail the
 * program hours later, or on every retry; most ReadWriteMany (NFS-like) drivers ignore the pod's
 * {@code fsGroup}, which is what makes Kiln's workspace writable on other storage.
 */
public final class WritableFolder {

  /** The name of the claim mounted as the workspace, as the operator tells the pod. */
  public static final String CLAIM_ENV = "KILN_WORKSPACE_CLAIM";

  private WritableFolder() {}

  /** Why this process cannot write into {@code folder} (creating it if needed), or empty when it can. */
  public static Optional<String> problem(Path folder, Map<String, String> env) {
    try {
      Files.createDirectories(folder);
      Files.delete(Files.createTempFile(folder, ".kiln-write-check-", ""));
      return Optional.empty();
    } catch (IOException | SecurityException e) {
      String claim = env.get(CLAIM_ENV);
      return Optional.of("cannot write to " + folder + (claim != null ? " on claim " + claim : "") + " as "
          + user() + ": " + e.getClass().getSimpleName() + ": " + e.getMessage() + ". The volume must be writable"
          + " by this user: Kiln's pods run as uid 65532 with fsGroup 65532, which many ReadWriteMany (NFS-like)"
          + " drivers do not apply; make the volume's root owned by or group-writable for 65532, or use a storage"
          + " class whose CSI driver applies fsGroup");
    }
  }

  private static String user() {
    try {
      return "uid " + Files.getAttribute(Path.of("/proc/self"), "unix:uid") + " gid "
          + Files.getAttribute(Path.of("/proc/self"), "unix:gid");
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return "user " + System.getProperty("user.name");
    }
  }
}
