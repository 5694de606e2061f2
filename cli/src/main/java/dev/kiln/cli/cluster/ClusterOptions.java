package dev.kiln.cli.cluster;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which cluster and namespace a command reads, given as kubectl takes them: {@code -n}, {@code --kubeconfig}, {@code --context}. */
public final class ClusterOptions {

  @Option(names = {"-n", "--namespace"}, paramLabel = "NAMESPACE", description = "The job's namespace on the cluster"
      + " (default: the kubeconfig context's)")
  String namespace;

  @Option(names = "--kubeconfig", paramLabel = "FILE", description = "As kubectl's (default: KUBECONFIG, ~/.kube/config)")
  Path kubeconfig;

  @Option(names = "--context", paramLabel = "NAME", description = "The kubeconfig context to use")
  String context;

  public ClusterJobs connect() throws ClusterJobs.Unreachable {
    return ClusterJobs.connect(kubeconfig, context);
  }

  /** The namespace given, else the kubeconfig context's, else default. */
  public String namespace(ClusterJobs cluster) {
    return cluster.namespace(namespace);
  }
}
