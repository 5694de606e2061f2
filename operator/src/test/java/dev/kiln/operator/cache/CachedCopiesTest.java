package dev.kiln.operator.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.operator.TestJobs;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
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

  @Test
  void aCompactedObjectReadsAsItDidAndSharesItsEmptiesAndRepeatedStrings() {
    var job = TestJobs.example("open-qwen2vl.yaml");
    var stageJob = StageJobManifest.build(job, 0, 1, OperatorSettings.defaults("0.1.0"));
    // As an informer receives it: read from JSON, every string its own.
    Pod pod = Serialization.unmarshal(Serialization.asJson(new PodBuilder()
        .withMetadata(stageJob.getSpec().getTemplate().getMetadata())
        .withSpec(stageJob.getSpec().getTemplate().getSpec()).build()), Pod.class);
    String before = Serialization.asJson(pod);

    Pod compacted = CachedCopies.compact(Serialization.unmarshal(before, Pod.class));

    assertThat(Serialization.asJson(compacted)).isEqualTo(before);
    assertThat(compacted.getSpec().getHostAliases()).as("an empty list").isSameAs(List.of());
    assertThat(compacted.getMetadata().getFinalizers()).as("in a nested object").isSameAs(List.of());
    String labelValue = compacted.getMetadata().getLabels().values().iterator().next();
    assertThat(labelValue).isSameAs(new String(labelValue.toCharArray()).intern());
    assertThat(pod.getMetadata().getLabels().values().iterator().next())
        .as("positive control: an uncompacted copy's value is its own string").isNotSameAs(labelValue);
    assertThat(compacted.getMetadata().getLabels()).as("labels, read-only and in their order")
        .isInstanceOf(ArrayMap.class).containsExactlyEntriesOf(pod.getMetadata().getLabels());
    assertThat(pod.getMetadata().getLabels()).as("positive control: as read, a map of its own").isNotInstanceOf(ArrayMap.class);
    assertThatThrownBy(() -> compacted.getSpec().getContainers().add(new io.fabric8.kubernetes.api.model.Container()))
        .as("a list, read-only").isInstanceOf(UnsupportedOperationException.class);
    assertThat(compacted.getSpec().getContainers()).hasSameSizeAs(pod.getSpec().getContainers());
    assertThat(Serialization.asJson(CachedCopies.compact(compacted))).as("compacted twice").isEqualTo(before);
  }

  @Test
  void anArrayMapIsTheMapItWasMadeFromReadOnly() {
    Map<String, String> labels = new java.util.LinkedHashMap<>();
    labels.put("kiln.dev/job", "research-1");
    labels.put("app.kubernetes.io/component", "trainer");
    labels.put("batch.kubernetes.io/job-completion-index", "0");

    Map<String, String> copy = ArrayMap.copyOf(labels);

    assertThat(copy).isEqualTo(labels).hasSameHashCodeAs(labels).containsExactlyEntriesOf(labels);
    assertThat(copy.get("app.kubernetes.io/component")).isEqualTo("trainer");
    assertThat(copy.get("kiln.dev/stage")).isNull();
    assertThat(copy.get(null)).isNull();
    assertThat(copy.containsKey("kiln.dev/job")).isTrue();
    assertThat(copy.containsKey("kiln.dev/stage")).isFalse();
    assertThatThrownBy(() -> copy.put("kiln.dev/stage", "pretrain")).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> copy.entrySet().iterator().next().setValue("x")).isInstanceOf(UnsupportedOperationException.class);
    assertThat(ArrayMap.copyOf(Map.of())).isEmpty();
  }

  @Test
  void aStoreForgetsAnObjectOnceAnUpdateMakesItNotWorthKeeping() {
    var store = CachedCopies.store(CachedCopies::planningPod, p -> !"Succeeded".equals(p.getStatus().getPhase()));
    Pod running = new PodBuilder().withNewMetadata().withName("pack-0").withNamespace("team").endMetadata()
        .withStatus(new PodStatusBuilder().withPhase("Running").build()).build();
    Pod succeeded = new PodBuilder(running).editStatus().withPhase("Succeeded").endStatus().build();

    assertThat(store.put("team/pack-0", running)).isNull();
    assertThat(store.get("team/pack-0")).as("kept while running").isNotNull();
    assertThat(store.put("team/pack-0", succeeded)).as("what it held, for the update's handlers").isNotNull()
        .extracting(p -> p.getStatus().getPhase()).isEqualTo("Running");
    assertThat(store.get("team/pack-0")).isNull();
    assertThat(store.put("team/pack-0", succeeded)).as("a later update finds nothing").isNull();
  }

  @Test
  void aJobsPlanningCopyKeepsWhatAQueuePlanReads() {
    var job = TestJobs.example("open-qwen2vl.yaml");
    job.getMetadata().setGeneration(3L);
    var status = new dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus();
    status.setPhase(dev.kiln.api.v1alpha1.JobPhase.Queued);
    status.setQueue(new dev.kiln.api.v1alpha1.QueueStatus("research", 4, "waiting for 8 GPUs"));
    var stage = new dev.kiln.api.v1alpha1.StageStatus();
    stage.setName("pretrain");
    stage.setRequeueTime("2026-12-05T14:00:00Z");
    stage.setJobName("job-pretrain-1");
    status.setStages(List.of(stage));
    status.setMessage("a long message no plan reads");
    job.setStatus(status);

    var copy = CachedCopies.planningJob(job);

    assertThat(copy.getMetadata().getGeneration()).isEqualTo(3L);
    assertThat(copy.getSpec()).isEqualTo(job.getSpec());
    assertThat(copy.getStatus().getPhase()).isEqualTo(dev.kiln.api.v1alpha1.JobPhase.Queued);
    assertThat(copy.getStatus().getQueue()).isEqualTo(status.getQueue());
    assertThat(copy.getStatus().getStages()).singleElement()
        .satisfies(s -> assertThat(s.getRequeueTime()).isEqualTo("2026-12-05T14:00:00Z"))
        .satisfies(s -> assertThat(s.getJobName()).isNull());
    assertThat(copy.getStatus().getMessage()).isNull();
  }
}
