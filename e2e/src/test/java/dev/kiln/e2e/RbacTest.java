package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator runs as the chart's service account and the local API server authorizes each of its
 * requests against the chart's RBAC, as a real one does: take one rule away (an administrator
 * editing the ClusterRole) and the job says which request was refused; put it back and the job runs.
 */
class RbacTest {

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path folder;

  @Test
  void aRuleTakenFromTheChartsRoleStopsTheJobVisiblyAndPuttingItBackLetsItRun() throws Exception {
    harness.startWithStandIns(folder, "tiny-data", 1);
    ClusterRole granted = workloadsRole();
    harness.client().resource(without(granted, "batch", "jobs", "create")).update();

    harness.apply(QueueScenariosTest.job("refused", "default", 1));
    await().atMost(LocalClusterHarness.WAIT).until(() -> synced("refused").filter(c -> c.getStatus().equals("False")).isPresent());
    Condition synced = synced("refused").orElseThrow();
    assertThat(synced.getReason()).isEqualTo("Forbidden");
    assertThat(synced.getMessage()).contains("jobs.batch is forbidden: User \"system:serviceaccount:kiln-system:kiln\" "
        + "cannot create resource \"jobs\" in API group \"batch\" in the namespace \"default\"");
    // Events are written in the background: this one follows the condition shortly.
    await().atMost(LocalClusterHarness.WAIT).untilAsserted(() -> assertThat(harness.client().v1().events()
        .inNamespace(LocalClusterHarness.NS).list().getItems()).extracting(Event::getReason).contains("Forbidden"));
    assertThat(harness.childJobNames()).isEmpty();

    harness.client().resource(workloadsRole().edit().withRules(granted.getRules()).build()).update();
    await().atMost(Duration.ofSeconds(90)).until(() -> phase("refused") == JobPhase.Training);
    assertThat(synced("refused").orElseThrow().getStatus()).isEqualTo("True");
  }

  private ClusterRole workloadsRole() {
    return harness.client().rbac().clusterRoles().withName("kiln-workloads").get();
  }

  /** The role with {@code verb} taken from its rule on {@code group/resource}. */
  private static ClusterRole without(ClusterRole role, String group, String resource, String verb) {
    List<PolicyRule> rules = new ArrayList<>();
    boolean found = false;
    for (PolicyRule rule : role.getRules()) {
      if (rule.getApiGroups().contains(group) && rule.getResources().contains(resource) && rule.getVerbs().contains(verb)) {
        found = true;
        List<String> verbs = new ArrayList<>(rule.getVerbs());
        verbs.remove(verb);
        rules.add(new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder(rule).withVerbs(verbs).build());
      } else {
        rules.add(rule);
      }
    }
    assertThat(found).as("the chart grants %s %s/%s", verb, group, resource).isTrue();
    return role.edit().withRules(rules).build();
  }

  private Optional<Condition> synced(String job) {
    MultimodalPretrainJob current = harness.get(job);
    return current == null || current.getStatus() == null ? Optional.empty()
        : current.getStatus().getConditions().stream().filter(c -> "Synced".equals(c.getType())).findFirst();
  }

  private JobPhase phase(String job) {
    MultimodalPretrainJob current = harness.get(job);
    return current == null || current.getStatus() == null ? null : current.getStatus().getPhase();
  }
}
