package dev.kiln.operator.admission;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.FakeCluster;
import dev.kiln.operator.TestJobs;
import dev.kiln.operator.manifests.Labels;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@EnableKubernetesMockClient(crud = true)
@Timeout(60)
class InformerClusterStateTest {

  KubernetesClient client;
  KubernetesMockServer server;

  @Test
  void aDeletedJobIsReportedSoThatItsReservationsGoAtOnce() {
    new FakeCluster(client, server).registerCrd();
    List<String> deleted = new CopyOnWriteArrayList<>();
    InformerClusterState state = new InformerClusterState(client, () -> { }, job -> deleted.add(job.getMetadata().getName()));
    MultimodalPretrainJob job = TestJobs.example("quickstart.yaml");
    job.getMetadata().setUid(null);
    client.resource(job).create();
    await().atMost(Duration.ofSeconds(10)).until(() -> state.jobs().size() == 1);
    assertThat(deleted).as("not for a job that is created").isEmpty();

    client.resource(job).delete();

    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(deleted).containsExactly("quickstart"));
    assertThat(state.jobs()).isEmpty();
  }

  @Test
  void podsThatTakeNoGpuNodesRoomChangeNoPlan() {
    client.resource(node("cpu-0", Map.of("cpu", new Quantity("32")))).create();
    client.resource(node("gpu-0", FakeCluster.gpuNodeAllocatable(8))).create();
    AtomicInteger changes = new AtomicInteger();
    InformerClusterState state = new InformerClusterState(client, changes::incrementAndGet);
    await().atMost(Duration.ofSeconds(10)).until(() -> state.nodes().size() == 2);
    long before = state.version().getAsLong();
    int changesBefore = changes.get();

    client.resource(pod("data-0", "cpu-0", "data")).create();
    finish("data-0");
    client.pods().withName("data-0").delete();
    client.resource(pod("unbound", null, "data")).create();
    // Positive control, after them on the same watch: a pod on the GPU node ends.
    client.resource(pod("beside-gpus", "gpu-0", "data")).create();
    finish("beside-gpus");

    await().atMost(Duration.ofSeconds(10)).until(() -> changes.get() == changesBefore + 1);
    assertThat(state.version().getAsLong()).as("ended: one change (a pod created takes room), none from the other pods")
        .isEqualTo(before + 1);
    assertThat(changes).hasValue(changesBefore + 1);
    assertThat(state.pods()).extracting(p -> p.getMetadata().getName()).contains("unbound");

    client.resource(pod("trainer-0", null, Labels.TRAINER)).create();
    finish("trainer-0");
    await().atMost(Duration.ofSeconds(10)).until(() -> state.version().getAsLong() == before + 2);
    assertThat(state.succeededStagePods()).extracting(p -> p.getMetadata().getName()).containsExactly("trainer-0");
  }

  @Test
  void aPodPlacedOnAGpuNodeMovesTheCachesChangesButNotTheirVersion() {
    client.resource(node("gpu-0", FakeCluster.gpuNodeAllocatable(8))).create();
    InformerClusterState state = new InformerClusterState(client, () -> { });
    await().atMost(Duration.ofSeconds(10)).until(() -> state.nodes().size() == 1);
    long version = state.version().getAsLong();
    long changes = state.changes().getAsLong();

    client.resource(pod("trainer-0", null, Labels.TRAINER)).create();
    client.pods().withName("trainer-0").edit(p -> {
      p.getSpec().setNodeName("gpu-0");  // bound
      return p;
    });
    client.pods().withName("trainer-0").editStatus(p -> {
      p.getStatus().setReason("only the status");
      return p;
    });
    finish("trainer-0");  // positive control, last on the same watch: an end moves both

    await().atMost(Duration.ofSeconds(10)).until(() -> state.version().getAsLong() == version + 1);
    assertThat(state.changes().getAsLong()).as("created, bound, ended; not the status-only update")
        .isEqualTo(changes + 3);
  }

  private void finish(String pod) {
    client.pods().withName(pod).editStatus(p -> {
      p.getStatus().setPhase("Succeeded");
      return p;
    });
  }

  private static Node node(String name, Map<String, Quantity> allocatable) {
    return new NodeBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewStatus().withAllocatable(allocatable).addNewCondition().withType("Ready").withStatus("True").endCondition()
        .endStatus().build();
  }

  private static Pod pod(String name, String node, String component) {
    return new PodBuilder().withNewMetadata().withName(name).withNamespace("test")
        .addToLabels(Labels.COMPONENT, component).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("main").withImage("kiln").endContainer().endSpec()
        .withNewStatus().withPhase("Running").endStatus().build();
  }
}
