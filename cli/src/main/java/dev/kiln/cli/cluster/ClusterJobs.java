package dev.kiln.cli.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Jobs on a cluster as kubectl finds it ({@code --kubeconfig}, else {@code KUBECONFIG} or
 * {@code ~/.kube/config}, else the pod's service account), for the commands that read them there.
 * Failures say which cluster and what it answered.
 */
public final class ClusterJobs implements AutoCloseable {

  /** Why a job could not be read from the cluster, in words. */
  public static final class Unreachable extends Exception {
    public Unreachable(String message) {
      super(message);
    }
  }

  /** The label the operator puts on every child of a job, naming the job. */
  static final String JOB_LABEL = "kiln.dev/job";

  private final KubernetesClient client;
  private final String defaultNamespace;

  private ClusterJobs(KubernetesClient client, String defaultNamespace) {
    this.client = client;
    this.defaultNamespace = defaultNamespace;
  }

  public static ClusterJobs connect(Path kubeconfig, String context) throws Unreachable {
    Config config;
    try {
      config = kubeconfig != null
          ? Config.fromKubeconfig(context, Files.readString(kubeconfig), kubeconfig.toString())
          : Config.autoConfigure(context);
    } catch (IOException e) {
      throw new Unreachable("--kubeconfig " + kubeconfig + ": " + e.getMessage());
    } catch (RuntimeException e) {
      throw new Unreachable("no cluster configuration" + (context != null ? " with context " + context : "") + ": "
          + e.getMessage());
    }
    config.setRequestRetryBackoffLimit(1);
    String namespace = config.getNamespace() != null ? config.getNamespace() : "default";
    return new ClusterJobs(new KubernetesClientBuilder().withConfig(config).build(), namespace);
  }

  /** The namespace a command without {@code -n} uses: the kubeconfig context's, else default. */
  public String namespace(String given) {
    return given != null ? given : defaultNamespace;
  }

  /** The job as the cluster holds it, status included. */
  public JsonNode job(String namespace, String name) throws Unreachable {
    GenericKubernetesResource found;
    try {
      found = client.genericKubernetesResources(MultimodalPretrainJob.API_VERSION, MultimodalPretrainJob.KIND)
          .inNamespace(namespace).withName(name).get();
    } catch (KubernetesClientException e) {
      throw new Unreachable(refusal(e));
    }
    if (found == null) {
      throw new Unreachable("no MultimodalPretrainJob " + name + " in namespace " + namespace + " on "
          + client.getMasterUrl());
    }
    return Serialization.jsonMapper().valueToTree(found);
  }

  /** The job's events, oldest first. */
  public List<Event> events(String namespace, String name) throws Unreachable {
    try {
      // Filtered here rather than by a field selector, which not every API server (nor its stand-ins) serves
      // for events; events live an hour, so a namespace's list stays short.
      return client.v1().events().inNamespace(namespace).list().getItems().stream()
          .filter(e -> e.getInvolvedObject() != null && name.equals(e.getInvolvedObject().getName())
              && MultimodalPretrainJob.KIND.equals(e.getInvolvedObject().getKind()))
          .sorted(Comparator.comparing(ClusterJobs::time))
          .toList();
    } catch (KubernetesClientException e) {
      throw new Unreachable(refusal(e));
    }
  }

  /** The pods of the job's children (its data Jobs and stage attempts), by the label the operator puts on them. */
  public List<Pod> pods(String namespace, String name) throws Unreachable {
    try {
      return client.pods().inNamespace(namespace).withLabel(JOB_LABEL, name).list().getItems();
    } catch (KubernetesClientException e) {
      throw new Unreachable(refusal(e));
    }
  }

  private static String time(Event event) {
    String time = event.getLastTimestamp() != null ? event.getLastTimestamp() : event.getEventTime() != null
        ? event.getEventTime().getTime() : event.getMetadata().getCreationTimestamp();
    return Optional.ofNullable(time).orElse("");
  }

  private String refusal(KubernetesClientException e) {
    String what = e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage()
        : e.getCause() != null ? e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage() : e.getMessage();
    return client.getMasterUrl() + " answered: " + what;
  }

  @Override
  public void close() {
    client.close();
  }
}
