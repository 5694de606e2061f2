package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.local.ChartRbac;
import dev.kiln.local.LocalCluster;
import dev.kiln.local.OperatorProcess;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator configured as the chart deploys it. Two processes with leader election, as two
 * replicas of the Deployment: the standby is ready but writes nothing while the leader lives, takes
 * the Lease within its duration when the leader is killed, and carries on the queue without
 * creating any child twice. And the chart's setting of the namespaces to watch, with the Roles it
 * then grants in those namespaces only.
 */
class OperatorDeploymentTest {

  private static final int LEASE_SECONDS = 6;

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path folder;

  @Test
  void theStandbyTakesOverWithinTheLeaseAndNothingIsCreatedTwice() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 1, Map.of(
        "KILN_OPERATOR_LEADER_ELECTION_ENABLED", "true",
        "KILN_OPERATOR_LEADER_ELECTION_LEASE_DURATION_SECONDS", Integer.toString(LEASE_SECONDS),
        "KILN_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE_SECONDS", "4",
        "KILN_OPERATOR_LEADER_ELECTION_RETRY_PERIOD_SECONDS", "1"));
    OperatorProcess leader = harness.cluster().operator();
    await().atMost(LocalClusterHarness.WAIT).until(() -> holds(leader));
    OperatorProcess standby = harness.cluster().addOperatorReplica();
    await().atMost(LocalClusterHarness.WAIT).until(() -> Files.exists(standby.log())
        && Files.readString(standby.log()).contains("Installed features"));

    harness.apply(QueueScenariosTest.job("first", "default", 1));
    harness.awaitPhase("first", JobPhase.Training);
    harness.apply(QueueScenariosTest.job("second", "default", 1));
    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.queuePosition("second") == 1);
    assertThat(holds(leader)).isTrue();
    assertThat(harness.cluster().writesFrom(standby.userAgent())).as("writes by the standby while the leader lives")
        .isZero();
    assertThat(LocalClusterHarness.operatorGet(standby, "/q/health/ready").statusCode()).as("a standby is ready: a rollout must not wait on it")
        .isEqualTo(200);
    assertThat(LocalClusterHarness.operatorGet(standby, "/q/health/live").statusCode()).isEqualTo(200);
    assertThat(leaderGauge(standby)).isEqualTo(0.0);
    assertThat(leaderGauge(leader)).isEqualTo(1.0);

    String leaderIdentity = leader.leaseIdentity().orElseThrow();
    long killed = System.nanoTime();
    leader.stop(true);
    await().atMost(Duration.ofSeconds(LEASE_SECONDS * 3L)).pollInterval(Duration.ofMillis(100))
        .until(() -> holds(standby));
    Duration failover = Duration.ofNanos(System.nanoTime() - killed);
    System.out.printf("failover: the standby held the Lease %d ms after the leader (%s) was killed%n",
        failover.toMillis(), leaderIdentity);
    assertThat(failover).isLessThanOrEqualTo(Duration.ofSeconds(LEASE_SECONDS + 4));
    await().atMost(Duration.ofSeconds(10)).until(() -> leaderGauge(standby) == 1.0);

    harness.awaitReconciles(standby, 2);  // the new leader has reconciled both jobs
    assertThat(harness.queuePosition("second")).isEqualTo(1);
    assertThat(harness.trainerJobNames()).containsExactly("first-pretrain-a1");

    harness.client().resource(harness.get("first")).delete();
    harness.awaitPhase("second", JobPhase.Training);
    await().atMost(Duration.ofSeconds(30)).until(() -> harness.trainerJobNames().equals(List.of("second-pretrain-a1")));
    assertThat(harness.get("second").getStatus().getStages().getFirst().getAttempt()).isEqualTo(1);
  }

  @Test
  void anOperatorToldItsNamespacesRunsJobsThereOnlyWithTheChartsNamespacedRbac() throws Exception {
    harness.start(folder, LocalCluster.Options.in(folder.resolve("cluster")).withGpuNodes(1).withStandInContainers()
        .withWatchNamespaces(List.of("team-a", "team-b")));
    OperatorProcess operator = harness.cluster().operator();
    await().atMost(LocalClusterHarness.WAIT).until(() -> Files.readString(operator.log()).contains("Installed features"));
    assertThat(Files.readString(operator.log())).containsPattern("for namespace\\(s\\): \\[team-[ab], team-[ab]\\]");
    assertThat(harness.client().rbac().roles().inNamespace("team-a").withName("kiln-workloads").get())
        .as("the chart's Role in a watched namespace").isNotNull();
    assertThat(harness.client().rbac().roles().inNamespace(LocalClusterHarness.NS).withName("kiln-workloads").get())
        .isNull();

    harness.apply(QueueScenariosTest.job("elsewhere", "default", 1));
    harness.provideDataClaim("team-a", "tiny-data");
    MultimodalPretrainJob watched = QueueScenariosTest.job("watched", "default", 1);
    watched.getMetadata().setNamespace("team-a");
    harness.apply(watched);
    // The positive control: the operator, authorized only by the Role in team-a, runs the job there.
    await().atMost(LocalClusterHarness.WAIT).until(() -> {
      var job = harness.client().resources(MultimodalPretrainJob.class).inNamespace("team-a").withName("watched").get();
      return job.getStatus() != null && job.getStatus().getPhase() == JobPhase.Training;
    });
    var status = harness.get("elsewhere").getStatus();
    assertThat(status == null ? null : status.getPhase()).as("a job in a namespace the operator does not watch").isNull();
    assertThat(harness.childJobNames()).isEmpty();
    assertThat(Files.readString(operator.log())).doesNotContain("is forbidden");
  }

  /** The operator's {@code kiln_operator_leader} metric. */
  private static double leaderGauge(OperatorProcess operator) {
    return LocalClusterHarness.operatorMetric(operator, "kiln_operator_leader");
  }

  /** The operator holds the Lease under the identity it logged. */
  private boolean holds(OperatorProcess operator) {
    String holder = holder();
    return holder != null && operator.leaseIdentity().map(holder::equals).orElse(false);
  }

  private String holder() {
    Lease lease = harness.client().resources(Lease.class).inNamespace(ChartRbac.OPERATOR_NAMESPACE).withName("kiln-operator").get();
    return lease == null || lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
  }
}
