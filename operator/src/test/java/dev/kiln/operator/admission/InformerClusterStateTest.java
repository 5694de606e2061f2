package dev.kiln.operator.admission;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.FakeCluster;
import dev.kiln.operator.TestJobs;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@EnableKubernetesMockClient(crud = true)
@Timeout(60)
class InformerClusterStateTest {

  KubernetesClient client;
  KubernetesMockServer server;

  @Test
  void aDeletedJobIsReportedSoThatItsReservationsGoAtOnce() {
    new FakeCluster(client, server).registerCrd();
    List<String> deleted = new CopyOnWriteArrayList<>();
    InformerClusterState state = new InformerClusterState(client, () -> { }, job -> deleted.add(job.getMetadata().getName()));
    MultimodalPretrainJob job = TestJobs.example("quickstart.yaml");
    job.getMetadata().setUid(null);
    client.resource(job).create();
    await().atMost(Duration.ofSeconds(10)).until(() -> state.jobs().size() == 1);
    assertThat(deleted).as("not for a job that is created").isEmpty();

    client.resource(job).delete();

    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(deleted).containsExactly("quickstart"));
    assertThat(state.jobs()).isEmpty();
  }
}
