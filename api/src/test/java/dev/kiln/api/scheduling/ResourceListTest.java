package dev.kiln.api.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a pod requests as the kube-scheduler counts it (upstream's resource.PodRequests): the one
 * count admission and the local scheduler both use.
 */
@Timeout(10)
class ResourceListTest {

  @Test
  void aPodRequestsWhatTheSchedulerCounts() {
    Pod pod = new PodBuilder().withNewMetadata().withName("p").endMetadata().withNewSpec()
        .addNewInitContainer().withName("fetch").withNewResources().withRequests(Map.of("cpu", new Quantity("4")))
          .endResources().endInitContainer()
        .addNewInitContainer().withName("proxy").withRestartPolicy("Always").withNewResources()
          .withRequests(Map.of("cpu", new Quantity("500m"), "memory", new Quantity("1Gi"))).endResources().endInitContainer()
        .addNewInitContainer().withName("warm").withNewResources().withRequests(Map.of("cpu", new Quantity("5")))
          .endResources().endInitContainer()
        .addNewContainer().withName("a").withNewResources().withRequests(Map.of("cpu", new Quantity("2")))
          .withLimits(Map.of("memory", new Quantity("4Gi"), "nvidia.com/gpu", new Quantity("8"))).endResources().endContainer()
        .addNewContainer().withName("b").withNewResources().withRequests(Map.of("cpu", new Quantity("1"))).endResources()
          .endContainer()
        .withOverhead(Map.of("cpu", new Quantity("250m")))
        .endSpec().build();
    ResourceList requested = ResourceList.requestedBy(pod);
    // cpu: containers 3 + sidecar 0.5 = 3.5, below the init peak warm 5 + sidecar 0.5 = 5.5; plus overhead 0.25.
    assertThat(requested.get("cpu")).isEqualTo(5750);
    assertThat(requested.get("memory")).as("limits stand for absent requests; the sidecar adds").isEqualTo(5L * 1000 * (1L << 30));
    assertThat(requested.gpus()).isEqualTo(8);
    assertThat(requested.get("pods")).isEqualTo(1000);
  }

  @Test
  void initContainersSidecarsAndOverheadCountAsUpstreamsPodRequests() {
    Pod pod = new PodBuilder().withNewMetadata().withName("p").endMetadata().withNewSpec()
        .addNewInitContainer().withName("warm").withNewResources().withRequests(Map.of("cpu", new Quantity("5")))
          .endResources().endInitContainer()
        .addNewInitContainer().withName("proxy").withRestartPolicy("Always").withNewResources()
          .withRequests(Map.of("cpu", new Quantity("500m"))).endResources().endInitContainer()
        .addNewContainer().withName("a").withNewResources().withLimits(Map.of("cpu", new Quantity("6"))).endResources()
          .endContainer()
        .withOverhead(Map.of("cpu", new Quantity("250m")))
        .endSpec().build();
    // Containers 6 (the limit standing for the request) + sidecar 0.5 beat the init peak of 5, plus the overhead.
    assertThat(ResourceList.requestedBy(pod).get("cpu")).as("thousandths").isEqualTo(6750);
    assertThat(ResourceList.requestedBy(pod).get("pods")).isEqualTo(1000);
  }

  @Test
  void amountsReadBackAsTheQuantitiesTheyWereParsedFrom() {
    ResourceList amounts = ResourceList.of(Map.of("cpu", new Quantity("96"), "memory", new Quantity("384Gi"),
        "example.com/fpga", new Quantity("1500m")));
    assertThat(amounts.quantity("cpu")).isEqualTo("96");
    assertThat(amounts.quantity("memory")).as("the largest binary unit that holds it whole").isEqualTo("384Gi");
    assertThat(amounts.quantity("example.com/fpga")).isEqualTo("1500m");
    assertThat(amounts.quantity("ephemeral-storage")).isEqualTo("0");
    ResourceList odd = ResourceList.of(Map.of("memory", new Quantity("1536Mi"), "cpu", new Quantity("2048")));
    assertThat(odd.quantity("memory")).isEqualTo("1536Mi");
    assertThat(odd.quantity("cpu")).as("binary units are for memory only").isEqualTo("2048");
    for (String quantity : new String[] {"96", "384Gi", "1536Mi", "250m", "1Ti"}) {
      String resource = quantity.endsWith("i") ? "memory" : "cpu";
      assertThat(new Quantity(ResourceList.of(Map.of(resource, new Quantity(quantity))).quantity(resource)))
          .as(quantity).isEqualTo(new Quantity(quantity));
    }
  }
}
