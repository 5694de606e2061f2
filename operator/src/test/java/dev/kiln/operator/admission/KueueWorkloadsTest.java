package dev.kiln.operator.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Workload's conditions, as Kueue's releases write them, read into why a stage Job waits. */
@Timeout(10)
class KueueWorkloadsTest {

  @Test
  void aQueueThatIsMissingOrStoppedIsAWaitOnlyAPersonEndsInEveryReleasesWords() {
    for (String reason : List.of("Inadmissible", "Misconfigured", "Suspended")) {
      var wait = KueueWorkloads.of(workload(true, condition("QuotaReserved", "False", reason,
          "ClusterQueue team-a is stopped")), "j-pretrain-a1", "team-a");
      assertThat(wait.stalled()).as(reason).isTrue();
      assertThat(wait.reason()).isEqualTo("KueueInadmissible");
      assertThat(wait.message()).isEqualTo("Kueue cannot admit Job j-pretrain-a1 (LocalQueue team-a): ClusterQueue team-a"
          + " is stopped");
    }
    for (String reason : List.of("Pending", "WaitingForQuota", "ExceedsMaxQuota")) {
      assertThat(KueueWorkloads.of(workload(true, condition("QuotaReserved", "False", reason, "no room")), "j", "q")
          .stalled()).as("positive control: " + reason + " waits for quota").isFalse();
    }
  }

  @Test
  void quotaReservedButNotAdmittedWaitsForAdmissionChecksAndAnEvictionSaysWhy() {
    var checks = KueueWorkloads.of(workload(true, condition("QuotaReserved", "True", "QuotaReserved", "Quota reserved"),
        condition("Admitted", "False", "UnsatisfiedChecks", "The workload has not all admission checks ready")), "j", "q");
    assertThat(checks.message()).isEqualTo("Kueue reserved quota for Job j (LocalQueue q); waiting for its admission checks:"
        + " The workload has not all admission checks ready");
    assertThat(checks.stalled()).isFalse();

    var evicted = workload(true, condition("Evicted", "True", "PodsReadyTimeout", "Exceeded the PodsReady timeout ns/w"));
    assertThat(KueueWorkloads.evictedBecause(evicted)).isEqualTo("PodsReadyTimeout: Exceeded the PodsReady timeout ns/w");
    assertThat(KueueWorkloads.of(evicted, "j", "q").message()).isEqualTo("waiting for Kueue to admit Job j (LocalQueue q):"
        + " evicted (PodsReadyTimeout: Exceeded the PodsReady timeout ns/w), queued again");
  }

  @Test
  void noWorkloadApiIsKueueMissingAndNoWorkloadAfterTheGraceIsKueueNotManagingTheJob() {
    assertThat(KueueWorkloads.without(false, Duration.ZERO, "j", "q", "ns").reason()).isEqualTo("KueueNotManaging");
    assertThat(KueueWorkloads.without(true, Duration.ofSeconds(30), "j", "q", "ns").stalled()).isFalse();
    assertThat(KueueWorkloads.without(true, Duration.ofMinutes(5), "j", "q", "ns").stalled()).isTrue();
  }

  @SafeVarargs
  private static GenericKubernetesResource workload(boolean active, Map<String, Object>... conditions) {
    return new GenericKubernetesResourceBuilder().withApiVersion("kueue.x-k8s.io/v1beta2").withKind("Workload")
        .withNewMetadata().withName("job-j-5c2e1").withNamespace("ns").endMetadata()
        .withAdditionalProperties(Map.of("spec", Map.of("active", active), "status",
            Map.of("conditions", List.of(conditions))))
        .build();
  }

  private static Map<String, Object> condition(String type, String status, String reason, String message) {
    return Map.of("type", type, "status", status, "reason", reason, "message", message);
  }
}
