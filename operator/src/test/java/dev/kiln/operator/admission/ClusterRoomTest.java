package dev.kiln.operator.admission;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.scheduling.Tolerations;
import dev.kiln.operator.FakeCluster;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A gang counts only the nodes its pods could be scheduled on: its node selector, taints it
 * tolerates, and every resource its pods request free there.
 */
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
    assertThat(room.free(new Gang(1, ResourceList.gpus(8), null, Map.of("pool", "p5"), List.of()))).isEqualTo(8);
    assertThat(room.free(new Gang(1, ResourceList.gpus(8), null, Map.of("pool", "p5"), List.of(dedicated)))).isEqualTo(16);
    assertThat(room.free(new Gang(1, ResourceList.gpus(8), null, Map.of(), List.of(new TolerationBuilder().withOperator("Exists").build()))))
        .as("a toleration of everything").isEqualTo(32);

    ClusterRoom placing = room.copy();
    assertThat(placing.place(new Gang(2, ResourceList.gpus(8), null, Map.of("pool", "p5"), List.of(dedicated)))).isTrue();
    assertThat(placing.place(new Gang(1, ResourceList.gpus(8), null, Map.of("pool", "p5"), List.of(dedicated))))
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
    assertThat(room.free(new Gang(1, ResourceList.gpus(8), null, Map.of(), List.of(both)))).as("positive control: a stage that tolerates it")
        .isEqualTo(16);
  }

  @Test
  void aGangThatFitsByGpusButNotByCpuTakesNothing() {
    Gang trainers = new Gang(2, ResourceList.of(Map.of("nvidia.com/gpu", new Quantity("8"), "cpu", new Quantity("48"),
        "memory", new Quantity("256Gi"))), null, Map.of(), List.of());
    // Two 8-GPU nodes of 96 cpu; something else (a data loader, a daemon) asks 60 cpu of one.
    ClusterRoom room = ClusterRoom.of(List.of(node("a", Map.of(), GPU_TAINT), node("b", Map.of(), GPU_TAINT)),
        List.of(pod("other", "a", Map.of("cpu", "60"))));

    assertThat(room.free(trainers)).as("every GPU is free").isEqualTo(16);
    assertThat(room.copy().place(trainers)).as("but node a has 36 cpu left of the 48 a pod asks").isFalse();
    assertThat(room.shortage(trainers)).isEqualTo("1 node with 8 GPUs free lacks cpu (a pod requests 48 cpu)");
    assertThat(room.copy().place(trainers.withPods(1))).as("positive control: one pod fits on node b").isTrue();

    ClusterRoom freed = ClusterRoom.of(List.of(node("a", Map.of(), GPU_TAINT), node("b", Map.of(), GPU_TAINT)),
        List.of(pod("other", "a", Map.of("cpu", "40"))));
    assertThat(freed.place(trainers)).as("with 56 cpu left on node a both fit").isTrue();
    assertThat(freed.place(new Gang(1, 1, null))).as("and no GPU is left")
        .isFalse();
  }

  @Test
  void memoryAndExtendedResourcesCountAsCpuDoes() {
    ClusterRoom room = ClusterRoom.of(List.of(node("a", Map.of(), GPU_TAINT)), List.of());
    Gang hungry = new Gang(1, ResourceList.of(Map.of("nvidia.com/gpu", new Quantity("8"), "memory", new Quantity("2Ti"))),
        null, Map.of(), List.of());
    assertThat(room.copy().place(hungry)).isFalse();
    assertThat(room.shortage(hungry)).isEqualTo("1 node with 8 GPUs free lacks memory (a pod requests 2048Gi memory)");

    Gang infiniBand = new Gang(1, ResourceList.of(Map.of("nvidia.com/gpu", new Quantity("8"), "rdma/ib", new Quantity("1"))),
        null, Map.of(), List.of());
    assertThat(room.copy().place(infiniBand)).as("the node has no rdma/ib device").isFalse();
    Node withIb = node("ib", Map.of(), GPU_TAINT);
    withIb.getStatus().getAllocatable().put("rdma/ib", new Quantity("1"));
    ClusterRoom ibRoom = ClusterRoom.of(List.of(withIb), List.of());
    assertThat(ibRoom.place(infiniBand)).as("positive control: a node that has one").isTrue();
    assertThat(ibRoom.place(new Gang(1, ResourceList.of(Map.of("nvidia.com/gpu", new Quantity("0"), "rdma/ib",
        new Quantity("1"))), null, Map.of(), List.of()))).as("a CPU pod is not planned").isTrue();
  }

  @Test
  void theSchedulersTolerationRule() {
    Toleration anyValue = new TolerationBuilder().withKey("dedicated").withOperator("Exists").build();
    Toleration otherValue = new TolerationBuilder().withKey("dedicated").withOperator("Equal").withValue("serving").build();
    Toleration otherEffect = new TolerationBuilder().withKey("dedicated").withOperator("Exists").withEffect("NoExecute").build();
    assertThat(Tolerations.tolerates(anyValue, DEDICATED)).isTrue();
    assertThat(Tolerations.tolerates(otherValue, DEDICATED)).isFalse();
    assertThat(Tolerations.tolerates(otherEffect, DEDICATED)).isFalse();
  }

  @Test
  void aGangWithATopologyIsPlannedIntoTheSmallestDomainThatHoldsItOrWaitsSayingWhy() {
    List<Node> nodes = List.of(node("a1", Map.of("rack", "r1"), GPU_TAINT), node("a2", Map.of("rack", "r1"), GPU_TAINT),
        node("a3", Map.of("rack", "r1"), GPU_TAINT), node("b1", Map.of("rack", "r2"), GPU_TAINT),
        node("b2", Map.of("rack", "r2"), GPU_TAINT), node("c1", Map.of(), GPU_TAINT));
    var required = new dev.kiln.api.v1alpha1.TopologySpec("rack", null);
    var preferred = new dev.kiln.api.v1alpha1.TopologySpec(null, "rack");
    ClusterRoom room = ClusterRoom.of(nodes, List.of());

    assertThat(room.copy().placement(new Gang(2, 8, null))).as("positive control: without one, by name")
        .containsExactly("a1", "a2");
    assertThat(room.placement(topology(2, required))).as("rack r2 holds exactly two").containsExactly("b1", "b2");
    assertThat(room.placement(topology(3, required))).containsExactly("a1", "a2", "a3");
    assertThat(room.copy().placement(topology(1, required))).as("c1 is in no rack").isNull();
    assertThat(room.copy().placement(topology(1, preferred))).containsExactly("c1");

    ClusterRoom split = ClusterRoom.of(nodes, List.of(pod("x", "a1", Map.of("nvidia.com/gpu", "8")),
        pod("y", "b1", Map.of("nvidia.com/gpu", "8"))));
    assertThat(split.copy().placement(topology(3, required))).isNull();
    assertThat(split.shortage(topology(3, required)))
        .isEqualTo("no rack domain has 3 nodes with room for a pod (most: 2, in rack=r1)");
    assertThat(split.copy().placement(topology(3, preferred))).as("the fewest racks: r1's two, then r2's")
        .containsExactly("a2", "a3", "b2");
  }

  @Test
  void aGangNoSetOfTheNodesHoldsEvenWithAllOfThemFreeIsToldWhyAndOneThatWaitsForRoomIsNot() {
    List<Node> nodes = List.of(node("a1", Map.of("rack", "r1"), GPU_TAINT), node("a2", Map.of("rack", "r1"), GPU_TAINT),
        node("b1", Map.of("rack", "r2"), GPU_TAINT));
    var required = new dev.kiln.api.v1alpha1.TopologySpec("rack", null);
    ClusterRoom busy = ClusterRoom.of(nodes, List.of(pod("x", "a1", Map.of("nvidia.com/gpu", "8")),
        pod("y", "b1", Map.of("nvidia.com/gpu", "8"))));

    assertThat(busy.copy().place(new Gang(2, 8, null))).as("two of the three nodes are busy").isFalse();
    assertThat(busy.neverFits(new Gang(2, 8, null))).as("positive control: it waits for room that comes").isEmpty();
    assertThat(busy.neverFits(topology(2, required))).as("rack r1 holds two once a1 is free").isEmpty();
    assertThat(busy.neverFits(new Gang(4, 8, null))).isEqualTo("the 3 GPU nodes it may use take one pod each; it has 4 pods");
    assertThat(busy.neverFits(topology(3, required)))
        .isEqualTo("no rack domain has 3 nodes with room for a pod (most: 2, in rack=r1)");
    Gang greedy = new Gang(2, ResourceList.gpus(8).plus(ResourceList.of(Map.of("cpu", new Quantity("200")))), null,
        Map.of(), List.of());
    assertThat(busy.neverFits(greedy)).isEqualTo("none of the 3 GPU nodes it may use can take a pod of 8 GPUs: 3 nodes"
        + " with 8 GPUs lack cpu (a pod requests 200 cpu)");
    assertThat(busy.neverFits(new Gang(1, ResourceList.gpus(8), null, Map.of("pool", "p5"), List.of())))
        .isEqualTo("no GPU node has the labels it selects (gpuProduct, nodeSelector) and only taints it tolerates");
    assertThat(ClusterRoom.of(List.of(), List.of()).neverFits(new Gang(1, 8, null))).isEqualTo("the cluster has no GPU node");
  }

  @Test
  void aNodeThatIsCordonedNotReadyOrWithoutItsDevicePluginForAWhileStillCountsAsOneAGangCouldUse() {
    Node cordoned = node("cordoned", Map.of(), GPU_TAINT, new TaintBuilder().withKey("node.kubernetes.io/unschedulable")
        .withEffect("NoSchedule").build());
    cordoned.getSpec().setUnschedulable(true);
    Node notReady = node("not-ready", Map.of(), GPU_TAINT, new TaintBuilder().withKey("node.kubernetes.io/unreachable")
        .withEffect("NoExecute").build());
    notReady.getStatus().getConditions().getFirst().setStatus("Unknown");
    Node shutDown = node("shut-down", Map.of(), GPU_TAINT, new TaintBuilder()
        .withKey("node.cloudprovider.kubernetes.io/shutdown").withEffect("NoSchedule").build());
    shutDown.getStatus().getConditions().getFirst().setStatus("Unknown");
    Node pluginRestarting = node("plugin-restarting", Map.of(), GPU_TAINT);
    pluginRestarting.getStatus().setCapacity(new java.util.HashMap<>(pluginRestarting.getStatus().getAllocatable()));
    pluginRestarting.getStatus().getAllocatable().put("nvidia.com/gpu", new Quantity("0"));
    ClusterRoom room = ClusterRoom.of(List.of(node("ready", Map.of(), GPU_TAINT), cordoned, notReady, shutDown,
        pluginRestarting), List.of());

    assertThat(room.free(new Gang(1, 8, null))).as("only the ready node is room now").isEqualTo(8);
    assertThat(room.neverFits(new Gang(5, 8, null))).as("all five are nodes it could run on once back").isEmpty();
    assertThat(room.neverFits(new Gang(6, 8, null))).as("positive control")
        .isEqualTo("the 5 GPU nodes it may use take one pod each; it has 6 pods");
    Node lostAGpu = node("lost-a-gpu", Map.of(), GPU_TAINT);
    lostAGpu.getStatus().setCapacity(new java.util.HashMap<>(lostAGpu.getStatus().getAllocatable()));
    lostAGpu.getStatus().getAllocatable().put("nvidia.com/gpu", new Quantity("7"));
    assertThat(ClusterRoom.of(List.of(lostAGpu), List.of()).neverFits(new Gang(1, 8, null)))
        .as("a ready node with a GPU marked unhealthy has the GPUs it has").isNotEmpty();
    Node dedicated = node("dedicated", Map.of(), GPU_TAINT, DEDICATED);
    assertThat(ClusterRoom.of(List.of(node("ready", Map.of(), GPU_TAINT), dedicated), List.of()).neverFits(
        new Gang(2, 8, null))).as("a taint of the node's own is no passing condition")
        .isEqualTo("the one GPU node it may use takes one pod; it has 2 pods");
  }

  @Test
  void roomSetAsideForAJobHoldsOnlyWhatIsFreeAndOnlyItGetsItBack() {
    ClusterRoom stillHeld = ClusterRoom.of(List.of(node("gpu-0", Map.of(), GPU_TAINT)),
        List.of(pod("victim", "gpu-0", Map.of("nvidia.com/gpu", "8"))));
    stillHeld.setAside("ns/preemptor", "gpu-0", ResourceList.gpus(8), Set.of("ns/victim-a1"));
    assertThat(stillHeld.setAsideFrom(new Gang(1, 8, null))).as("its victim still holds the node: nothing is free to"
        + " hold, and nothing is held twice").isEmpty();

    ClusterRoom freed = ClusterRoom.of(List.of(node("gpu-0", Map.of(), GPU_TAINT)), List.of());
    freed.setAside("ns/preemptor", "gpu-0", ResourceList.gpus(8), Set.of());
    assertThat(freed.setAsideFrom(new Gang(1, 8, null))).containsExactly(Map.entry("ns/preemptor", 8));
    assertThat(freed.copy().place(new Gang(1, 8, null))).as("nobody else places on it").isFalse();
    Map<String, ResourceList> given = freed.takeSetAside("ns/preemptor");
    assertThat(freed.copy().place(new Gang(1, 8, null))).as("positive control: given back, it fits").isTrue();
    freed.putBack("ns/preemptor", given);
    assertThat(freed.place(new Gang(1, 8, null))).as("set aside again").isFalse();
  }

  @Test
  void roomAVictimGivesBackGoesFirstToTheJobItWasStoppedForAndToNobodyElse() {
    ClusterRoom room = ClusterRoom.of(List.of(node("gpu-0", Map.of(), GPU_TAINT)), List.of(
        pod("victim", "gpu-0", Map.of("nvidia.com/gpu", "4")), pod("other", "gpu-0", Map.of("nvidia.com/gpu", "4"))));
    ClusterRoom unpromised = room.copy();
    unpromised.release("gpu-0", ResourceList.gpus(4), "ns/victim-a1");
    assertThat(unpromised.place(new Gang(1, 4, null))).as("positive control: promised to nobody, it is free").isTrue();

    room.setAside("ns/first", "gpu-0", ResourceList.gpus(4), Set.of("ns/victim-a1"));
    ClusterRoom afterTheVictim = room.copy();
    afterTheVictim.release("gpu-0", ResourceList.gpus(4), "ns/victim-a1");
    assertThat(afterTheVictim.copy().place(new Gang(1, 4, null))).as("another preemptor counting on the same victim")
        .isFalse();
    assertThat(afterTheVictim.setAsideFrom(new Gang(1, 4, null))).containsExactly(Map.entry("ns/first", 4));
    ClusterRoom afterAnother = room.copy();
    afterAnother.release("gpu-0", ResourceList.gpus(4), "ns/other-a1");
    assertThat(afterAnother.place(new Gang(1, 4, null))).as("a stage stopped for nobody on the node frees room for anyone")
        .isTrue();

    Map<String, ResourceList> given = room.takeSetAside("ns/first");
    ClusterRoom forTheFirst = room.copy();
    forTheFirst.release("gpu-0", ResourceList.gpus(4), "ns/victim-a1");
    assertThat(forTheFirst.place(new Gang(1, 4, null))).as("planned itself, it gets the room its victim frees").isTrue();
    room.putBack("ns/first", given);
    ClusterRoom again = room.copy();
    again.release("gpu-0", ResourceList.gpus(4), "ns/victim-a1");
    assertThat(again.place(new Gang(1, 4, null))).as("put back, still owed to it").isFalse();
  }

  private static Gang topology(int pods, dev.kiln.api.v1alpha1.TopologySpec topology) {
    return new Gang(pods, ResourceList.gpus(8), null, Map.of(), List.of(), topology);
  }

  private static Node node(String name, Map<String, String> labels, Taint... taints) {
    return new NodeBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata()
        .withNewSpec().withTaints(taints).endSpec()
        .withNewStatus().withAllocatable(new java.util.HashMap<>(FakeCluster.gpuNodeAllocatable(8)))
          .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
        .build();
  }

  private static Pod pod(String name, String node, Map<String, String> requests) {
    Map<String, Quantity> quantities = new java.util.HashMap<>();
    requests.forEach((resource, amount) -> quantities.put(resource, new Quantity(amount)));
    return new PodBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("c").withNewResources().withRequests(quantities)
          .endResources().endContainer().endSpec()
        .withNewStatus().withPhase("Running").endStatus().build();
  }
}
