package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceFieldSelector;
import io.fabric8.kubernetes.api.model.ResourceFieldSelectorBuilder;
import org.junit.jupiter.api.Test;

/** The local node gives containers their resources as a kubelet does. */
class DownwardApiTest {

  @Test
  void aLimitIsDividedByTheDivisorAndRoundedUp() {
    Container container = new ContainerBuilder().withNewResources()
        .addToLimits("cpu", new Quantity("2500m")).addToLimits("memory", new Quantity("4Gi"))
        .addToRequests("cpu", new Quantity("1")).endResources().build();

    assertThat(dev.kiln.local.Container.resourceFieldValue(field("limits.cpu", "1"), container)).isEqualTo("3");
    assertThat(dev.kiln.local.Container.resourceFieldValue(field("requests.cpu", "1"), container)).isEqualTo("1");
    assertThat(dev.kiln.local.Container.resourceFieldValue(field("limits.memory", "1Mi"), container)).isEqualTo("4096");
    assertThat(dev.kiln.local.Container.memoryLimit(container)).hasValue(4L << 30);
  }

  @Test
  void aLimitTheContainerDoesNotSetIsTheNodesCapacity() {
    Container container = new ContainerBuilder().build();

    assertThat(dev.kiln.local.Container.resourceFieldValue(field("limits.cpu", null), container))
        .isEqualTo(Integer.toString(HostCapacity.cores()));
    assertThat(dev.kiln.local.Container.memoryLimit(container)).isEmpty();
  }

  private static ResourceFieldSelector field(String resource, String divisor) {
    return new ResourceFieldSelectorBuilder().withResource(resource)
        .withDivisor(divisor == null ? null : new Quantity(divisor)).build();
  }
}
