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
  void aPodsCopyKeepsWhatTheOperatorReadsInObjectsNoLargerThanTheirContents() {
    var job = TestJobs.example("open-qwen2vl.yaml");
    var stageJob = StageJobManifest.build(job, 0, 1, OperatorSettings.defaults("0.1.0"));
    Pod built = new PodBuilder()
        .withMetadata(stageJob.getSpec().getTemplate().getMetadata())
        .editMetadata().withName("rank-0").withNamespace("team").withUid("u-1").withResourceVersion("42")
          .withCreationTimestamp("2026-12-06T12:00:00Z").withDeletionTimestamp("2026-12-06T12:05:00Z")
          .addToAnnotations("kiln.dev/planned-node", "node-3")
          .addNewOwnerReference().withApiVersion("batch/v1").withKind("Job").withName("job-pre-1").withUid("u-0")
            .withController(true).endOwnerReference()
        .endMetadata()
        .withSpec(stageJob.getSpec().getTemplate().getSpec())
        .editSpec().withNodeName("node-3").addToNodeSelector("kubernetes.io/hostname", "node-3")
          .withOverhead(Map.of("memory", new Quantity("1Gi"))).endSpec()
        .withNewStatus().withPhase("Failed").withReason("Evicted").withMessage("the node was low on memory")
          .withPodIP("10.0.0.7").withStartTime("2026-12-06T12:00:01Z").withQosClass("Burstable")
          .addNewCondition().withType("DisruptionTarget").withStatus("True").withReason("TerminationByKubelet")
            .withMessage("evicted").withLastTransitionTime("2026-12-06T12:04:00Z").endCondition()
          .addNewContainerStatus().withName("trainer").withImage("trainer:1").withImageID("trainer@sha256:ab")
            .withRestartCount(0).withNewState().withNewTerminated().withExitCode(137).withReason("OOMKilled")
              .withMessage("{\"loss\":1.5}").withFinishedAt("2026-12-06T12:04:30Z").endTerminated().endState()
            .withNewLastState().withNewWaiting().withReason("ContainerCreating").endWaiting().endLastState()
          .endContainerStatus()
        .endStatus()
        .build();
    // As an informer receives it: read from JSON, every string its own.
    Pod pod = Serialization.unmarshal(Serialization.asJson(built), Pod.class);

    Pod copy = CachedCopies.pod(pod);

    assertThat(copy.getMetadata()).usingRecursiveComparison()
        .comparingOnlyFields("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
            "deletionTimestamp", "labels", "annotations", "ownerReferences")
        .isEqualTo(pod.getMetadata());
    assertThat(copy.getSpec()).usingRecursiveComparison()
        .comparingOnlyFields("nodeName", "nodeSelector", "schedulingGates", "overhead",
            "containers.name", "containers.resources", "containers.ports", "initContainers.name",
            "initContainers.resources", "initContainers.restartPolicy")
        .isEqualTo(pod.getSpec());
    assertThat(copy.getSpec().getSchedulingGates()).as("the stage pod's gate").isNotEmpty();
    assertThat(copy.getStatus()).usingRecursiveComparison()
        .comparingOnlyFields("phase", "reason", "message", "podIP", "startTime", "conditions", "containerStatuses.name",
            "containerStatuses.imageID", "containerStatuses.state", "containerStatuses.lastState")
        .isEqualTo(pod.getStatus());
    assertThat(copy.getStatus().getQosClass()).as("what no one reads is left out").isNull();
    assertThat(CachedCopies.planningPod(pod).getStatus()).usingRecursiveComparison().comparingOnlyFields("phase")
        .isEqualTo(pod.getStatus());

    assertThat(growable(copy, "pod")).isEmpty();
    assertThat(growable(pod, "pod")).as("positive control: as read, the pod's lists and maps are its own")
        .contains("pod.metadata.labels", "pod.spec.tolerations", "pod.status.conditions[0].additionalProperties");
    String labelValue = copy.getMetadata().getLabels().values().iterator().next();
    assertThat(labelValue).isSameAs(new String(labelValue.toCharArray()).intern());
  }

  @Test
  void aJobsCopyKeepsItsStatusAndSuspendWithoutItsTemplate() {
    var job = TestJobs.example("open-qwen2vl.yaml");
    var built = new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder(
            StageJobManifest.build(job, 0, 1, OperatorSettings.defaults("0.1.0")))
        .editMetadata().withNamespace("team").withUid("u-2").withResourceVersion("7").endMetadata()
        .editSpec().withSuspend(true).withParallelism(2).withCompletions(2).endSpec()
        .withNewStatus().withActive(1).withReady(1).withSucceeded(1).withFailed(0).withTerminating(0)
          .withStartTime("2026-12-06T12:00:00Z").withCompletedIndexes("1")
          .addNewCondition().withType("FailureTarget").withStatus("True").withReason("PodFailurePolicy")
            .withMessage("Pod team/rank-0 has condition DisruptionTarget").withLastTransitionTime("2026-12-06T12:01:00Z")
          .endCondition()
        .endStatus()
        .build();
    var stageJob = Serialization.unmarshal(Serialization.asJson(built), io.fabric8.kubernetes.api.model.batch.v1.Job.class);

    var copy = CachedCopies.job(stageJob);

    assertThat(copy.getMetadata()).usingRecursiveComparison()
        .comparingOnlyFields("name", "namespace", "uid", "resourceVersion", "labels", "annotations", "ownerReferences")
        .isEqualTo(stageJob.getMetadata());
    assertThat(copy.getSpec()).usingRecursiveComparison().comparingOnlyFields("suspend", "parallelism", "completions")
        .isEqualTo(stageJob.getSpec());
    assertThat(copy.getSpec().getTemplate()).isNull();
    assertThat(copy.getStatus()).usingRecursiveComparison().ignoringFields("uncountedTerminatedPods")
        .isEqualTo(stageJob.getStatus());
    assertThat(growable(copy, "job")).isEmpty();
    assertThat(growable(stageJob, "job")).as("positive control").contains("job.status.conditions");
  }

  /** Where in a model object a list or map can still grow (a mutable one), each as a path. */
  private static List<String> growable(Object object, String path) {
    List<String> found = new java.util.ArrayList<>();
    if (object instanceof List<?> list) {
      if (list instanceof java.util.ArrayList<?>) {
        found.add(path);
      }
      for (int i = 0; i < list.size(); i++) {
        found.addAll(growable(list.get(i), path + "[" + i + "]"));
      }
    } else if (object instanceof Map<?, ?> map) {
      if (!(map instanceof ArrayMap<?, ?>) && map != Map.of()) {
        found.add(path);
      }
      map.forEach((key, value) -> found.addAll(growable(value, path + "." + key)));
    } else if (object != null && object.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      for (Class<?> type = object.getClass(); type != Object.class; type = type.getSuperclass()) {
        for (var field : type.getDeclaredFields()) {
          if (!java.lang.reflect.Modifier.isStatic(field.getModifiers())) {
            field.setAccessible(true);
            try {
              found.addAll(growable(field.get(object), path + "." + field.getName()));
            } catch (IllegalAccessException e) {
              throw new AssertionError(e);
            }
          }
        }
      }
    }
    return found;
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

    Map<String, String> copy = ArrayMap.copyOf(labels, String::intern, value -> value);

    assertThat(copy).isEqualTo(labels).hasSameHashCodeAs(labels).containsExactlyEntriesOf(labels);
    assertThat(copy.get("app.kubernetes.io/component")).isEqualTo("trainer");
    assertThat(copy.get("kiln.dev/stage")).isNull();
    assertThat(copy.get(null)).isNull();
    assertThat(copy.containsKey("kiln.dev/job")).isTrue();
    assertThat(copy.containsKey("kiln.dev/stage")).isFalse();
    assertThatThrownBy(() -> copy.put("kiln.dev/stage", "pretrain")).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> copy.entrySet().iterator().next().setValue("x")).isInstanceOf(UnsupportedOperationException.class);
    assertThat(ArrayMap.copyOf(Map.of(), key -> key, value -> value)).isEmpty();
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
