package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.scheduling.ResourceList;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The local scheduler binds as the kube-scheduler does where Kiln depends on it: every requested
 * resource counted against what the node's pods already request, scheduling gates held, and the
 * reasons a pod waits written in the scheduler's words.
 */
@Timeout(30)
class SchedulerTest {

  private static final String NS = "default";

  private LocalApiServer server;
  private KubernetesClient client;

  @BeforeEach
  void startServer() {
    server = new LocalApiServer();
    client = server.admin();
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  @Test
  void aPodThatFitsByGpusButNotByCpuWaitsAndSaysWhy() {
    client.resource(gpuNode("gpu-a", 8, "64")).create();
    client.resource(gpuNode("gpu-b", 8, "40")).create();
    client.resource(trainer("rank-0", Map.of("nvidia.com/gpu", "8", "cpu", "48", "memory", "256Gi"))).create();
    client.resource(trainer("rank-1", Map.of("nvidia.com/gpu", "8", "cpu", "48", "memory", "256Gi"))).create();

    new Scheduler(client).sync(Snapshot.read(client));

    assertThat(pod("rank-0").getSpec().getNodeName()).as("the only node with 48 cpu").isEqualTo("gpu-a");
    assertThat(pod("rank-1").getSpec().getNodeName()).isNull();
    assertThat(scheduled(pod("rank-1")).getReason()).isEqualTo("Unschedulable");
    assertThat(scheduled(pod("rank-1")).getMessage())
        .isEqualTo("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 2 Insufficient cpu.");

    client.resource(trainer("small", Map.of("nvidia.com/gpu", "8", "cpu", "40"))).create();
    new Scheduler(client).sync(Snapshot.read(client));
    assertThat(pod("small").getSpec().getNodeName()).as("positive control: 40 cpu fit node b").isEqualTo("gpu-b");
  }

  @Test
  void memoryExtendedResourcesAndPodSlotsCountToo() {
    Node node = gpuNode("gpu-a", 8, "96");
    node.getStatus().getAllocatable().put("pods", new Quantity("2"));
    client.resource(node).create();
    client.resource(trainer("big", Map.of("nvidia.com/gpu", "1", "memory", "2Ti"))).create();
    client.resource(trainer("ib", Map.of("nvidia.com/gpu", "1", "rdma/ib", "1"))).create();
    client.resource(trainer("pod-1", Map.of("nvidia.com/gpu", "1"))).create();
    client.resource(trainer("pod-2", Map.of("nvidia.com/gpu", "1"))).create();
    client.resource(trainer("pod-3", Map.of("nvidia.com/gpu", "1"))).create();

    new Scheduler(client).sync(Snapshot.read(client));

    assertThat(scheduled(pod("big")).getMessage()).isEqualTo("0/1 nodes are available: 1 Insufficient memory.");
    assertThat(scheduled(pod("ib")).getMessage()).isEqualTo("0/1 nodes are available: 1 Insufficient rdma/ib.");
    assertThat(pod("pod-1").getSpec().getNodeName()).isEqualTo("gpu-a");
    assertThat(pod("pod-2").getSpec().getNodeName()).isEqualTo("gpu-a");
    assertThat(scheduled(pod("pod-3")).getMessage()).isEqualTo("0/1 nodes are available: 1 Too many pods.");
  }

  @Test
  void aGatedPodWaitsUntilItsGatesAreRemoved() {
    client.resource(gpuNode("gpu-a", 8, "96")).create();
    Pod gated = trainer("gated", Map.of("nvidia.com/gpu", "8"));
    gated.getSpec().setSchedulingGates(List.of(new io.fabric8.kubernetes.api.model.PodSchedulingGateBuilder()
        .withName("kiln.dev/admission").build()));
    client.resource(gated).create();

    new Scheduler(client).sync(Snapshot.read(client));
    assertThat(pod("gated").getSpec().getNodeName()).isNull();
    assertThat(scheduled(pod("gated")).getReason()).isEqualTo("SchedulingGated");

    client.pods().inNamespace(NS).withName("gated").edit(p -> {
      p.getSpec().setSchedulingGates(List.of());
      return p;
    });
    new Scheduler(client).sync(Snapshot.read(client));
    assertThat(pod("gated").getSpec().getNodeName()).isEqualTo("gpu-a");
  }

  private Pod pod(String name) {
    return client.pods().inNamespace(NS).withName(name).get();
  }

  private static PodCondition scheduled(Pod pod) {
    return pod.getStatus().getConditions().stream().filter(c -> "PodScheduled".equals(c.getType())).findFirst()
        .orElseThrow();
  }

  private static Node gpuNode(String name, int gpus, String cpus) {
    Map<String, Quantity> allocatable = new HashMap<>(Map.of("nvidia.com/gpu", new Quantity(Integer.toString(gpus)),
        "cpu", new Quantity(cpus), "memory", new Quantity("1Ti"), "pods", new Quantity("110")));
    return new NodeBuilder().withNewMetadata().withName(name).withLabels(Map.of(Scheduler.HOSTNAME, name)).endMetadata()
        .withNewSpec().endSpec()
        .withNewStatus().withAllocatable(allocatable).addNewCondition().withType("Ready").withStatus("True").endCondition()
        .endStatus().build();
  }

  private static Pod trainer(String name, Map<String, String> requests) {
    Map<String, Quantity> quantities = new HashMap<>();
    requests.forEach((resource, amount) -> quantities.put(resource, new Quantity(amount)));
    return new PodBuilder().withNewMetadata().withName(name).withNamespace(NS).endMetadata()
        .withNewSpec().addNewContainer().withName("trainer").withImage("trainer").withNewResources()
          .withRequests(quantities).withLimits(quantities).endResources().endContainer().endSpec()
        .withNewStatus().withPhase("Pending").endStatus().build();
  }
}
