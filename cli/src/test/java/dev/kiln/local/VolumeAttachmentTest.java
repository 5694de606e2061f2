package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The local nodes attach claims and place pods as a real cluster does, where access modes matter. */
class VolumeAttachmentTest {

  @Test
  void aReadWriteOnceClaimInUseOnOneNodeKeepsPodsOfOtherNodesWaiting() {
    List<PersistentVolumeClaim> claims = List.of(claim("work", "ReadWriteOnce"));
    Pod running = pod("filter-0", "node-a", "work", false, Map.of());

    String conflict = Kubelet.multiAttachConflict(pod("filter-1", "node-b", "work", false, Map.of()), claims, List.of(running));

    assertThat(conflict).isEqualTo("Multi-Attach error for volume \"work\" (ReadWriteOnce) Volume is already used by"
        + " pod(s) filter-0 on another node");
    assertThat(Kubelet.multiAttachConflict(pod("filter-1", "node-a", "work", false, Map.of()), claims, List.of(running)))
        .as("same node").isNull();
    assertThat(Kubelet.multiAttachConflict(pod("filter-1", "node-b", "work", false, Map.of()), claims, List.of()))
        .as("detached once its pods are gone").isNull();
  }

  @Test
  void manyNodesShareReadWriteManyAndReadOnlyManyClaimsMountedReadOnly() {
    Pod reader = pod("rank-0", "node-a", "data", true, Map.of());

    assertThat(Kubelet.multiAttachConflict(pod("rank-1", "node-b", "data", false, Map.of()),
        List.of(claim("data", "ReadWriteMany")), List.of(reader))).isNull();
    assertThat(Kubelet.multiAttachConflict(pod("rank-1", "node-b", "data", true, Map.of()),
        List.of(claim("data", "ReadOnlyMany")), List.of(reader))).isNull();
    assertThat(Kubelet.multiAttachConflict(pod("rank-1", "node-b", "data", false, Map.of()),
        List.of(claim("data", "ReadOnlyMany")), List.of(reader))).as("mounted read-write").isNotNull();
    assertThat(Kubelet.multiAttachConflict(pod("rank-1", "node-a", "data", true, Map.of()),
        List.of(claim("data", "ReadWriteOncePod")), List.of(reader))).as("one pod, even on one node").isNotNull();
  }

  @Test
  void podAffinityOnTheHostnameGathersAGroupWhereItsFirstPodWent() {
    Map<String, String> prep = Map.of("kiln.dev/job", "q", "app.kubernetes.io/component", "filter");
    Pod first = withPrepAffinity(pod("filter-0", "node-b", "work", false, prep));
    Pod second = withPrepAffinity(pod("filter-1", null, "work", false, prep));

    assertThat(Scheduler.podAffinityAllows(second, "node-a", List.of())).as("the first of a group goes anywhere").isTrue();
    assertThat(Scheduler.podAffinityAllows(second, "node-a", List.of(first))).isFalse();
    assertThat(Scheduler.podAffinityAllows(second, "node-b", List.of(first))).isTrue();
    Pod otherJob = pod("filter-0", "node-a", "work", false, Map.of("kiln.dev/job", "other",
        "app.kubernetes.io/component", "filter"));
    assertThat(Scheduler.podAffinityAllows(second, "node-a", List.of(otherJob))).as("another job's pods do not count")
        .isTrue();
  }

  private static PersistentVolumeClaim claim(String name, String mode) {
    return new PersistentVolumeClaimBuilder().withNewMetadata().withName(name).withNamespace("default").endMetadata()
        .withNewSpec().withAccessModes(mode).endSpec().build();
  }

  private static Pod pod(String name, String node, String claim, boolean readOnly, Map<String, String> labels) {
    return new PodBuilder().withNewMetadata().withName(name).withNamespace("default").withUid(name + "-uid")
        .withLabels(labels).endMetadata()
        .withNewSpec().withNodeName(node)
          .addNewVolume().withName("v").withNewPersistentVolumeClaim().withClaimName(claim).withReadOnly(readOnly)
            .endPersistentVolumeClaim().endVolume()
        .endSpec().build();
  }

  private static Pod withPrepAffinity(Pod pod) {
    pod.getSpec().setAffinity(new AffinityBuilder().withNewPodAffinity()
        .addNewRequiredDuringSchedulingIgnoredDuringExecution()
          .withNewLabelSelector().addToMatchLabels("kiln.dev/job", "q")
            .addNewMatchExpression().withKey("app.kubernetes.io/component").withOperator("In")
              .withValues("filter", "pack").endMatchExpression()
          .endLabelSelector()
          .withTopologyKey("kubernetes.io/hostname")
        .endRequiredDuringSchedulingIgnoredDuringExecution()
        .endPodAffinity().build());
    return pod;
  }
}
