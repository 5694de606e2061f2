package dev.kiln.operator.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.operator.TestJobs;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The cached copy of a pod keeps everything admission counts and the lifecycle acts on. */
@Timeout(10)
class CachedCopiesTest {

  @Test
  void aStagePodsCopyRequestsWhatThePodDoesAndKeepsItsGate() {
    var job = TestJobs.example("open-qwen2vl.yaml");
    Pod pod = new PodBuilder().withNewMetadata().withName("rank-0").endMetadata()
        .withSpec(StageJobManifest.build(job, 0, 1, OperatorSettings.defaults("0.1.0")).getSpec().getTemplate().getSpec())
        .build();
    pod.getSpec().getInitContainers().add(new io.fabric8.kubernetes.api.model.ContainerBuilder().withName("warm")
        .withNewResources().withRequests(Map.of("cpu", new Quantity("200"))).endResources().build());
    pod.getSpec().setOverhead(Map.of("memory", new Quantity("1Gi")));

    for (Pod copy : new Pod[] {CachedCopies.planningPod(pod), CachedCopies.pod(pod)}) {
      assertThat(ResourceList.requestedBy(copy)).isEqualTo(ResourceList.requestedBy(pod));
      assertThat(copy.getSpec().getSchedulingGates()).isEqualTo(pod.getSpec().getSchedulingGates()).isNotEmpty();
    }
    assertThat(ResourceList.requestedBy(pod).get("cpu")).as("the init container's peak counts").isEqualTo(200_000);
  }
}
