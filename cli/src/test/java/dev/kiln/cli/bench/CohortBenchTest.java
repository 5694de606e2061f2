package dev.kiln.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.local.ApiCommit;
import dev.kiln.local.LocalCluster;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** How the cohort bench dates an admission from the stored changes it reads. */
@Timeout(10)
class CohortBenchTest {

  @Test
  void aPreemptorIsTimedFromItsVictimsReleaseAndAnUnboundVictimPodIsReleasedWhenItsDeletionBegins() {
    CohortBench bench = new CohortBench(2, 1, 1, false, null);
    bench.read(pod(900, "other", null, false, "Succeeded"));  // an unrelated release, long before
    bench.read(job(1_000, "co-00001", null, null));
    Pod victim = podState("co-00001", null, false, "Pending");
    bench.read(new ApiCommit(ms(1_100), "pods", null, Serialization.asJson(victim)));
    bench.read(job(2_000, "co-00001", jobState("co-00001", null), "default/co-00002"));
    bench.read(new ApiCommit(ms(3_000), "pods", Serialization.asJson(victim),
        Serialization.asJson(podState("co-00001", null, true, "Pending"))));
    bench.read(job(3_100, "co-00002", null, null));
    // The Job controller's finalizer comes off a pass later, and the pod is gone.
    bench.read(new ApiCommit(ms(4_000), "pods", Serialization.asJson(podState("co-00001", null, true, "Pending")), null));

    assertThat(bench.admissionLatencies()).filteredOn(l -> l.job().equals("co-00002"))
        .singleElement().satisfies(l -> {
          assertThat(l.from()).isEqualTo("its victims' release");
          assertThat(l.ms()).isEqualTo(100);
        });
  }

  @Test
  void aBoundVictimPodIsReleasedOnlyOnceItHasStopped() {
    CohortBench bench = new CohortBench(2, 1, 1, false, null);
    bench.read(job(1_000, "co-00001", null, null));
    bench.read(pod(1_100, "co-00001", "gpu-0", false, "Running"));
    bench.read(job(2_000, "co-00001", jobState("co-00001", null), "default/co-00002"));
    bench.read(pod(3_000, "co-00001", "gpu-0", true, "Running"));  // terminating: it still holds its GPUs
    bench.read(pod(3_500, "co-00001", "gpu-0", true, "Failed"));
    bench.read(job(3_600, "co-00002", null, null));

    assertThat(bench.admissionLatencies()).filteredOn(l -> l.job().equals("co-00002"))
        .singleElement().satisfies(l -> {
          assertThat(l.from()).isEqualTo("its victims' release");
          assertThat(l.ms()).as("from its stop, not from its deletion").isEqualTo(100);
        });
  }

  private static long ms(long millis) {
    return TimeUnit.MILLISECONDS.toNanos(millis);
  }

  private static ApiCommit pod(long atMillis, String job, String node, boolean deleting, String phase) {
    return new ApiCommit(ms(atMillis), "pods", null, Serialization.asJson(podState(job, node, deleting, phase)));
  }

  private static Pod podState(String job, String node, boolean deleting, String phase) {
    return new PodBuilder()
        .withNewMetadata().withName(job + "-pretrain-a1-0").withNamespace(LocalCluster.NAMESPACE)
          .withLabels(Map.of(LocalCluster.JOB_LABEL, job, LocalCluster.COMPONENT_LABEL, LocalCluster.TRAINER,
              CohortBench.ATTEMPT_LABEL, "1"))
          .withDeletionTimestamp(deleting ? "2026-12-06T00:00:03Z" : null).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("trainer").withNewResources()
          .addToRequests("nvidia.com/gpu", new io.fabric8.kubernetes.api.model.Quantity("8")).endResources()
          .endContainer().endSpec()
        .withNewStatus().withPhase(phase).endStatus()
        .build();
  }

  private static ApiCommit job(long atMillis, String job, String before, String preemptedBy) {
    return new ApiCommit(ms(atMillis), "jobs", before, jobState(job, preemptedBy));
  }

  private static String jobState(String job, String preemptedBy) {
    Job state = new JobBuilder()
        .withNewMetadata().withName(job + "-pretrain-a1").withNamespace(LocalCluster.NAMESPACE)
          .withLabels(Map.of(LocalCluster.JOB_LABEL, job, LocalCluster.COMPONENT_LABEL, LocalCluster.TRAINER,
              CohortBench.ATTEMPT_LABEL, "1"))
          .withAnnotations(preemptedBy == null ? Map.of() : Map.of(CohortBench.PREEMPTED_BY, preemptedBy)).endMetadata()
        .build();
    return Serialization.asJson(state);
  }
}
