package dev.kiln.operator.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A gang counts only the nodes its pods could be scheduled on: its node selector, and taints it tolerates. */
@Timeout(10)
class ClusterRoomTest {

  private static final Taint GPU_TAINT = new TaintBuilder().withKey("nvidia.com/gpu").withValue("present")
      .withEffect("NoSchedule").build();
  private static final Taint DEDICATED = new TaintBuilder().withKey("dedicated").withValue("training")
      .withEffect("NoSchedule").build();

  @Test
  void aGangCountsTheNodesItsSelectorAndTolerationsAdmit() {
    ClusterRoom room = ClusterRoom.of(List.of(
        node("plain", Map.of(), GPU_TAINT),
        node("p5-open", Map.of("pool", "p5"), GPU_TAINT),
        node("p5-dedicated", Map.of("pool", "p5"), GPU_TAINT, DEDICATED),
        node("evicting", Map.of("pool", "p5"), GPU_TAINT, new TaintBuilder().withKey("maintenance").withEffect("NoExecute").build())),
        List.of());
    Toleration dedicated = new TolerationBuilder().withKey("dedicated").withOperator("Equal").withValue("training")
        .withEffect("NoSchedule").build();

    assertThat(room.free(new Gang(1, 8, null))).as("no selector, no toleration").isEqualTo(16);
    assertThat(room.free(new Gang(1, 8, null, Map.of("pool", "p5"), List.of()))).isEqualTo(8);
    assertThat(room.free(new Gang(1, 8, null, Map.of("pool", "p5"), List.of(dedicated)))).isEqualTo(16);
    assertThat(room.free(new Gang(1, 8, null, Map.of(), List.of(new TolerationBuilder().withOperator("Exists").build()))))
        .as("a toleration of everything").isEqualTo(32);

    ClusterRoom placing = room.copy();
    assertThat(placing.place(new Gang(2, 8, null, Map.of("pool", "p5"), List.of(dedicated)))).isTrue();
    assertThat(placing.place(new Gang(1, 8, null, Map.of("pool", "p5"), List.of(dedicated))))
        .as("both nodes it may use are taken").isFalse();
    assertThat(placing.place(new Gang(1, 8, null))).as("the plain node is still free").isTrue();
  }

  @Test
  void aGpuTaintThatEvictsKeepsTrainersOffTheNodeWhileTheUsualOneDoesNot() {
    Taint evicting = new TaintBuilder().withKey("nvidia.com/gpu").withValue("present").withEffect("NoExecute").build();
    ClusterRoom room = ClusterRoom.of(List.of(node("usual", Map.of(), GPU_TAINT), node("draining", Map.of(), evicting)),
        List.of());
    assertThat(room.free(new Gang(1, 8, null))).as("only the NoSchedule GPU taint is tolerated").isEqualTo(8);
    Toleration both = new TolerationBuilder().withKey("nvidia.com/gpu").withOperator("Exists").build();
    assertThat(room.free(new Gang(1, 8, null, Map.of(), List.of(both)))).as("positive control: a stage that tolerates it")
        .isEqualTo(16);
  }

  @Test
  void theSchedulersTolerationRule() {
    Toleration anyValue = new TolerationBuilder().withKey("dedicated").withOperator("Exists").build();
    Toleration otherValue = new TolerationBuilder().withKey("dedicated").withOperator("Equal").withValue("serving").build();
    Toleration otherEffect = new TolerationBuilder().withKey("dedicated").withOperator("Exists").withEffect("NoExecute").build();
    assertThat(ClusterRoom.tolerates(anyValue, DEDICATED)).isTrue();
    assertThat(ClusterRoom.tolerates(otherValue, DEDICATED)).isFalse();
    assertThat(ClusterRoom.tolerates(otherEffect, DEDICATED)).isFalse();
  }

  private static Node node(String name, Map<String, String> labels, Taint... taints) {
    return new NodeBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata()
        .withNewSpec().withTaints(taints).endSpec()
        .withNewStatus().withAllocatable(Map.of("nvidia.com/gpu", new Quantity("8")))
          .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
        .build();
  }
}
