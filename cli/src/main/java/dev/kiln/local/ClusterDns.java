package dev.kiln.local;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Cluster DNS for the local node: the hostnames an Indexed Job's pods get under its headless
 * Service ({@code <job>-<index>.<subdomain>}, and the namespaced forms) all name this machine.
 * They are written to a hosts file the pods' JVMs read ({@code -Djdk.net.hosts.file}), before
 * any pod of the Job starts, so rank 0's address resolves for every rank.
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
    List<String> names = new ArrayList<>(List.of("localhost"));
    for (Job job : snapshot.jobs()) {
      var spec = job.getSpec().getTemplate().getSpec();
      if (!"Indexed".equals(job.getSpec().getCompletionMode()) || spec.getSubdomain() == null) {
        continue;
      }
      String subdomain = spec.getSubdomain();
      String namespace = job.getMetadata().getNamespace();
      int completions = job.getSpec().getCompletions() == null ? 1 : job.getSpec().getCompletions();
      for (int i = 0; i < completions; i++) {
        String host = job.getMetadata().getName() + "-" + i + "." + subdomain;
        names.add(host);
        names.add(host + "." + namespace + ".svc");
        names.add(host + "." + namespace + ".svc.cluster.local");
      }
    }
    String content = "127.0.0.1 " + String.join(" ", names) + "\n";
    if (!content.equals(written)) {
      Files.createDirectories(file.getParent());
      Path partial = file.resolveSibling(file.getFileName() + ".partial");
      Files.writeString(partial, content);
      Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      written = content;
    }
  }
}
