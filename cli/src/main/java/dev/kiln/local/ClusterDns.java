package dev.kiln.local;

import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Cluster DNS for the local node: the hostnames an Indexed Job's pods get under its headless
 * Service ({@code <job>-<index>.<subdomain>}, and the namespaced forms) name each pod's own
 * loopback address, as soon as its kubelet gave it one. They are written to a hosts file the
 * pods' JVMs read ({@code -Djdk.net.hosts.file}); a rank that looks up a peer not yet started
 * finds nothing and retries, as it would with cluster DNS.
 */
final class ClusterDns {

  private final Path file;
  private String written = "";

  ClusterDns(Path file) {
    this.file = file;
  }

  Path file() {
    return file;
  }

  void sync(Snapshot snapshot) throws IOException {
    StringBuilder content = new StringBuilder("127.0.0.1 localhost\n");
    for (Pod pod : snapshot.pods()) {
      var spec = pod.getSpec();
      String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
      if (spec.getHostname() == null || spec.getSubdomain() == null || ip == null || JobController.terminal(pod)) {
        continue;
      }
      String host = spec.getHostname() + "." + spec.getSubdomain();
      String namespace = pod.getMetadata().getNamespace();
      content.append(ip).append(' ').append(host).append(' ').append(host).append('.').append(namespace).append(".svc ")
          .append(host).append('.').append(namespace).append(".svc.cluster.local\n");
    }
    if (!content.toString().equals(written)) {
      Files.createDirectories(file.getParent());
      Path partial = file.resolveSibling(file.getFileName() + ".partial");
      Files.writeString(partial, content);
      Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      written = content.toString();
    }
  }
}
