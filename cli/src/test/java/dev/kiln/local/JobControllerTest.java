package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The local Job controller counts pods as a cluster's does: through the tracking finalizer (a pod
 * deleted by an eviction is counted, then gone), the pod failure policy, and retries per index.
 */
class JobControllerTest {

  private static final String NS = "default";

  private LocalApiServer server;
  private KubernetesClient client;
  private JobController controller;

  @BeforeEach
  void startServer() {
    server = new LocalApiServer();
    client = server.admin();
    controller = new JobController(client);
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  @Test
  void aPodEvictedThroughTheApiIsCountedByThePolicyThenGoneAndTheJobSaysWhy() {
    create(job("attempt", 2, 0, null, new PodFailurePolicyBuilder().addNewRule().withAction("FailJob")
        .addNewOnPodCondition().withType("DisruptionTarget").withStatus("True").endOnPodCondition().endRule().build()));
    sync();
    List<Pod> pods = pods();
    assertThat(pods).hasSize(2).allSatisfy(p -> assertThat(p.getMetadata().getFinalizers())
        .contains(JobController.TRACKING_FINALIZER));

    Pod evicted = pods.getFirst();
    client.pods().inNamespace(NS).withName(evicted.getMetadata().getName()).editStatus(p -> {
      p.getStatus().getConditions().add(new PodConditionBuilder().withType("DisruptionTarget").withStatus("True")
          .withReason("EvictionByEvictionAPI").build());
      return p;
    });
    client.pods().inNamespace(NS).withName(evicted.getMetadata().getName()).delete();
    assertThat(client.pods().inNamespace(NS).withName(evicted.getMetadata().getName()).get().getMetadata()
        .getDeletionTimestamp()).as("kept by the finalizer while it stops").isNotNull();
    finish(evicted.getMetadata().getName(), 143);
    sync();

    assertThat(client.pods().inNamespace(NS).withName(evicted.getMetadata().getName()).get()).as("counted, then gone")
        .isNull();
    JobCondition failed = condition("attempt", "Failed");
    assertThat(failed.getReason()).isEqualTo("PodFailurePolicy");
    assertThat(failed.getMessage()).isEqualTo("Pod default/" + evicted.getMetadata().getName()
        + " has condition DisruptionTarget matching FailJob rule at index 0");
    assertThat(client.pods().inNamespace(NS).withName(pods.get(1).getMetadata().getName()).get().getMetadata()
        .getDeletionTimestamp()).as("the rest of the attempt is stopped").isNotNull();
  }

  @Test
  void eachIndexHasItsOwnRetriesIgnoringDisruptionsAndTheJobFailsOnceEveryIndexIsDone() {
    create(job("filter", 2, null, 1, new PodFailurePolicyBuilder()
        .addNewRule().withAction("Ignore").addNewOnPodCondition().withType("DisruptionTarget").withStatus("True")
          .endOnPodCondition().endRule()
        .addNewRule().withAction("FailJob").withNewOnExitCodes().withOperator("In").withValues(65).endOnExitCodes()
          .endRule()
        .build()));
    sync();
    finish(podOfIndex(0).getMetadata().getName(), 0);
    finish(podOfIndex(1).getMetadata().getName(), 1);
    sync();
    assertThat(job("filter").getStatus().getFailed()).isEqualTo(1);
    assertThat(job("filter").getStatus().getFailedIndexes()).as("one retry left").isNull();

    String disrupted = podOfIndex(1).getMetadata().getName();
    client.pods().inNamespace(NS).withName(disrupted).editStatus(p -> {
      p.getStatus().getConditions().add(new PodConditionBuilder().withType("DisruptionTarget").withStatus("True").build());
      return p;
    });
    finish(disrupted, 143);
    sync();
    assertThat(job("filter").getStatus().getFailed()).as("a disruption is not a failure").isEqualTo(1);

    finish(podOfIndex(1).getMetadata().getName(), 1);
    sync();
    sync();

    assertThat(job("filter").getStatus().getFailedIndexes()).isEqualTo("1");
    assertThat(condition("filter", "Failed").getReason()).isEqualTo("FailedIndexes");
    assertThat(pods().stream().filter(p -> JobController.index(p) == 1)).hasSize(3);
  }

  @Test
  void anExitCodeTheInputCausedFailsTheJobWithoutRetries() {
    create(job("pack", 1, 3, null, new PodFailurePolicyBuilder().addNewRule().withAction("FailJob")
        .withNewOnExitCodes().withContainerName("main").withOperator("In").withValues(64, 65, 78).endOnExitCodes()
        .endRule().build()));
    sync();
    finish(pods().getFirst().getMetadata().getName(), 65);
    sync();

    assertThat(condition("pack", "Failed").getMessage()).endsWith("failed with exit code 65 matching FailJob rule at index 0");
    assertThat(pods()).hasSize(1);
  }

  @Test
  void aPodAResourceQuotaRefusesIsAFailedCreateEventOnTheJobAndIsTriedAgain() {
    client.resource(new io.fabric8.kubernetes.api.model.ResourceQuotaBuilder().withNewMetadata().withName("compute")
        .withNamespace(NS).endMetadata().withNewSpec().addToHard("requests.cpu", new io.fabric8.kubernetes.api.model.Quantity("4"))
        .endSpec().build()).create();
    Job bestEffort = job("unrequested", 1, 0, null, null);
    create(bestEffort);
    Job greedy = job("greedy", 1, 0, null, null);
    greedy.getSpec().getTemplate().getSpec().getContainers().getFirst().setResources(
        new io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder()
            .addToRequests("cpu", new io.fabric8.kubernetes.api.model.Quantity("48")).build());
    create(greedy);

    sync();
    sync();

    assertThat(pods()).isEmpty();
    List<String> events = client.v1().events().inNamespace(NS).list().getItems().stream()
        .filter(e -> "FailedCreate".equals(e.getReason()))
        .map(e -> e.getInvolvedObject().getName() + ": " + e.getMessage()).sorted().toList();
    assertThat(events).hasSize(2);
    assertThat(events.get(0)).startsWith("greedy: Error creating: pods \"greedy-").endsWith(" is forbidden: exceeded quota:"
        + " compute, requested: requests.cpu=48, used: requests.cpu=0, limited: requests.cpu=4");
    assertThat(events.get(1)).startsWith("unrequested: Error creating: pods \"unrequested-")
        .endsWith(" is forbidden: failed quota: compute: must specify requests.cpu for: main");

    client.resourceQuotas().inNamespace(NS).withName("compute").delete();
    sync();
    assertThat(pods()).hasSize(2);
  }

  /**
   * Creates Job {@code name}, its pod template changed by {@code template}, beside a plain one, and
   * returns the FailedCreate events once synced (the plain Job's pod created: the positive control).
   */
  private List<String> failedCreatesOf(String name, java.util.function.Consumer<io.fabric8.kubernetes.api.model.PodSpec>
      template) {
    Job named = job(name, 1, 0, null, null);
    template.accept(named.getSpec().getTemplate().getSpec());
    create(named);
    create(job("plain", 1, 0, null, null));

    sync();

    assertThat(pods()).as("positive control: a pod naming no class is created").hasSize(1);
    return client.v1().events().inNamespace(NS).list().getItems().stream()
        .filter(e -> "FailedCreate".equals(e.getReason())).map(e -> e.getInvolvedObject().getName() + ": " + e.getMessage())
        .toList();
  }

  @Test
  void aPodNamingAPriorityClassThatDoesNotExistIsAFailedCreateEventUntilTheClassIsCreated() {
    List<String> events = failedCreatesOf("urgent", pod -> pod.setPriorityClassName("research-urgent"));

    assertThat(events).singleElement().asString().startsWith("urgent: Error creating: pods \"urgent-")
        .endsWith(" is forbidden: no PriorityClass with name research-urgent was found");

    client.scheduling().v1().priorityClasses().resource(new io.fabric8.kubernetes.api.model.scheduling.v1
        .PriorityClassBuilder().withNewMetadata().withName("research-urgent").endMetadata().withValue(100).build()).create();
    sync();
    assertThat(pods()).hasSize(2);
  }

  @Test
  void aPodIsAdmittedWithItsRuntimeClassesOverheadAndSchedulingAndRefusedWhenTheClassIsMissing() {
    List<String> events = failedCreatesOf("sandboxed", pod -> pod.setRuntimeClassName("kata"));

    assertThat(events).singleElement().asString().startsWith("sandboxed: Error creating: pods \"sandboxed-")
        .endsWith(" is forbidden: pod rejected: RuntimeClass \"kata\" not found");

    client.resource(new io.fabric8.kubernetes.api.model.node.v1.RuntimeClassBuilder().withNewMetadata().withName("kata")
        .endMetadata().withHandler("kata").withNewOverhead()
        .addToPodFixed("cpu", new io.fabric8.kubernetes.api.model.Quantity("250m")).endOverhead()
        .withNewScheduling().addToNodeSelector("runtime", "kata").endScheduling().build()).create();
    sync();
    Pod admitted = pods().stream().filter(p -> p.getMetadata().getName().startsWith("sandboxed-")).findFirst().orElseThrow();
    assertThat(admitted.getSpec().getOverhead()).containsEntry("cpu", new io.fabric8.kubernetes.api.model.Quantity("250m"));
    assertThat(admitted.getSpec().getNodeSelector()).containsEntry("runtime", "kata");
    assertThat(dev.kiln.api.scheduling.ResourceList.requestedBy(admitted).milli()).as("what the scheduler counts")
        .containsEntry("cpu", 250L + dev.kiln.api.scheduling.ResourceList.requestedBy(admitted.getSpec().getContainers()
            .getFirst()).milli().getOrDefault("cpu", 0L));
  }

  private void sync() {
    controller.sync(Snapshot.read(client));
  }

  private void create(Job job) {
    client.resource(job).create();
  }

  private Job job(String name) {
    return client.batch().v1().jobs().inNamespace(NS).withName(name).get();
  }

  private JobCondition condition(String job, String type) {
    return job(job).getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElseThrow();
  }

  private List<Pod> pods() {
    List<Pod> pods = new ArrayList<>(client.pods().inNamespace(NS).list().getItems());
    pods.sort(Comparator.comparing(p -> p.getMetadata().getName()));
    return pods;
  }

  /** The live (not yet finished) pod of an index. */
  private Pod podOfIndex(int index) {
    return pods().stream().filter(p -> JobController.index(p) == index && !JobController.terminal(p)).findFirst()
        .orElseThrow();
  }

  /** The kubelet's report: the container exited with {@code exitCode}. */
  private void finish(String pod, int exitCode) {
    client.pods().inNamespace(NS).withName(pod).editStatus(p -> {
      p.getStatus().setPhase(exitCode == 0 ? "Succeeded" : "Failed");
      p.getStatus().setContainerStatuses(List.of(new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
          .withName("main").withNewState().withNewTerminated().withExitCode(exitCode).endTerminated().endState().build()));
      return p;
    });
  }

  private static Job job(String name, int completions, Integer backoffLimit, Integer perIndex,
      io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicy policy) {
    return new JobBuilder().withNewMetadata().withName(name).withNamespace(NS).withUid(name + "-uid").endMetadata()
        .withNewSpec()
          .withCompletionMode(completions > 1 ? "Indexed" : "NonIndexed")
          .withCompletions(completions).withParallelism(completions)
          .withBackoffLimit(backoffLimit).withBackoffLimitPerIndex(perIndex)
          .withPodFailurePolicy(policy)
          .withNewTemplate().withNewSpec().withRestartPolicy("Never")
            .addNewContainer().withName("main").withImage("kiln-data-jobs").endContainer()
          .endSpec().endTemplate()
        .endSpec().build();
  }
}
