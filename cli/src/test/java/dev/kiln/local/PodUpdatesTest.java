package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The local API server refuses pod updates a real one refuses: a gated pod may gain a node
 * selector and lose its gates, an ungated one neither gains a selector nor a gate back.
 */
@Timeout(30)
class PodUpdatesTest {

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
  void aGatedPodGainsItsNodeAndLosesItsGateInOneMergePatch() {
    client.resource(pod("rank-0", true)).create();

    patch("rank-0", "{\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"gpu-3\"},\"schedulingGates\":[]}}");

    Pod placed = client.pods().inNamespace(NS).withName("rank-0").get();
    assertThat(placed.getSpec().getNodeSelector()).containsEntry("kubernetes.io/hostname", "gpu-3")
        .containsEntry("pool", "a");
    assertThat(placed.getSpec().getSchedulingGates()).isEmpty();

    assertThatThrownBy(() -> patch("rank-0", "{\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"gpu-4\"}}}"))
        .as("no longer gated: its scheduling directives are fixed")
        .isInstanceOf(KubernetesClientException.class).hasMessageContaining("pod updates may not change fields");
    assertThatThrownBy(() -> patch("rank-0", "{\"spec\":{\"schedulingGates\":[{\"name\":\"kiln.dev/placement\"}]}}"))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("only deletion is allowed, but found new scheduling gate 'kiln.dev/placement'");
  }

  @Test
  void aJsonPatchThatTestsTheGateRemovesItAndAddsTheNode() {
    client.resource(pod("rank-0", true)).create();

    client.pods().inNamespace(NS).withName("rank-0").patch(PatchContext.of(PatchType.JSON),
        "[{\"op\":\"add\",\"path\":\"/spec/nodeSelector/kubernetes.io~1hostname\",\"value\":\"gpu-3\"},"
        + "{\"op\":\"test\",\"path\":\"/spec/schedulingGates/0/name\",\"value\":\"kiln.dev/placement\"},"
        + "{\"op\":\"remove\",\"path\":\"/spec/schedulingGates/0\"}]");

    Pod placed = client.pods().inNamespace(NS).withName("rank-0").get();
    assertThat(placed.getSpec().getNodeSelector()).containsEntry("kubernetes.io/hostname", "gpu-3");
    assertThat(placed.getSpec().getSchedulingGates()).isEmpty();

    // The same patch from a stale read: its test fails, and the answer is 422, as the API server's.
    assertThatThrownBy(() -> client.pods().inNamespace(NS).withName("rank-0").patch(PatchContext.of(PatchType.JSON),
        "[{\"op\":\"test\",\"path\":\"/spec/schedulingGates/0/name\",\"value\":\"kiln.dev/placement\"},"
        + "{\"op\":\"remove\",\"path\":\"/spec/schedulingGates/0\"}]"))
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(422));
  }

  @Test
  void evenAGatedPodKeepsWhatItsNodeSelectorAlreadySays() {
    client.resource(pod("rank-0", true)).create();
    assertThatThrownBy(() -> patch("rank-0", "{\"spec\":{\"nodeSelector\":{\"pool\":\"b\"}}}"))
        .isInstanceOf(KubernetesClientException.class).hasMessageContaining("only additions to spec.nodeSelector");
    assertThatThrownBy(() -> patch("rank-0", "{\"spec\":{\"containers\":[{\"name\":\"trainer\",\"image\":\"t\","
        + "\"args\":[\"other\"]}]}}")).isInstanceOf(KubernetesClientException.class);
    patch("rank-0", "{\"spec\":{\"containers\":[{\"name\":\"trainer\",\"image\":\"t:2\"}]}}");
    assertThat(client.pods().inNamespace(NS).withName("rank-0").get().getSpec().getContainers().getFirst().getImage())
        .as("positive control: an image may change").isEqualTo("t:2");
  }

  private void patch(String name, String mergePatch) {
    client.pods().inNamespace(NS).withName(name).patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
  }

  private static Pod pod(String name, boolean gated) {
    PodBuilder pod = new PodBuilder().withNewMetadata().withName(name).withNamespace(NS).endMetadata()
        .withNewSpec().withNodeSelector(Map.of("pool", "a")).addNewContainer().withName("trainer").withImage("t")
        .endContainer().endSpec();
    if (gated) {
      pod.editSpec().addNewSchedulingGate().withName("kiln.dev/placement").endSchedulingGate().endSpec();
    }
    return pod.build();
  }
}
