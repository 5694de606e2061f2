package dev.kiln.local;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimStatus;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The local storage provisioner: every PersistentVolumeClaim binds at once to a folder,
 * {@code volumes/<namespace>/<claim>} unless a folder was given for it. Folders outlive their
 * claims (reclaim policy Retain), so a finished local run can still be inspected.
 */
public final class Volumes {

  private final KubernetesClient client;
  private final Path base;
  private final Map<String, Path> given = new ConcurrentHashMap<>();

  Volumes(KubernetesClient client, Path base) {
    this.client = client;
    this.base = base;
  }

  /** Binds claim {@code name} in {@code namespace} to {@code folder} instead of a fresh one. */
  public void provide(String namespace, String name, Path folder) {
    given.put(namespace + "/" + name, folder.toAbsolutePath());
  }

  /** The folder behind a claim (whether or not it is bound yet). */
  public Path folder(String namespace, String name) {
    return given.getOrDefault(namespace + "/" + name, base.resolve(namespace).resolve(name).toAbsolutePath());
  }

  void sync(Snapshot snapshot) {
    for (PersistentVolumeClaim claim : snapshot.claims()) {
      if (claim.getStatus() != null && "Bound".equals(claim.getStatus().getPhase())) {
        continue;
      }
      String namespace = claim.getMetadata().getNamespace();
      String name = claim.getMetadata().getName();
      try {
        Files.createDirectories(folder(namespace, name));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Map<String, Quantity> requested = claim.getSpec().getResources() == null ? Map.of()
          : claim.getSpec().getResources().getRequests();
      client.persistentVolumeClaims().inNamespace(namespace).withName(name).editStatus(c -> {
        if (c.getStatus() == null) {
          c.setStatus(new PersistentVolumeClaimStatus());
        }
        c.getStatus().setPhase("Bound");
        c.getStatus().setAccessModes(c.getSpec().getAccessModes());
        c.getStatus().setCapacity(requested);
        return c;
      });
    }
  }

  boolean bound(Snapshot snapshot, String namespace, String name) {
    return snapshot.claims().stream().anyMatch(c -> c.getMetadata().getNamespace().equals(namespace)
        && c.getMetadata().getName().equals(name) && c.getStatus() != null && "Bound".equals(c.getStatus().getPhase()));
  }
}
