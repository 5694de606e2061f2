package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The local garbage collector deletes what a deleted owner leaves, as the cluster's does (background propagation). */
@Timeout(30)
class GarbageCollectorTest {

  private static final String NS = "default";

  private LocalApiServer server;
  private KubernetesClient client;

  @BeforeEach
  void startServer() {
    server = new LocalApiServer();
    client = server.admin();
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  @Test
  void aPassDeletesWhatADeletedOwnerLeftAndNothingOfALiveOneOrOfAnOwnerItDoesNotFollow() {
    Job gone = job("gone");
    Job kept = job("kept");
    client.resource(pod("gone-0", owner("Job", gone))).create();
    client.resource(pod("kept-0", owner("Job", kept))).create();
    client.resource(pod("replica-0", new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("ReplicaSet")
        .withName("web").withUid("not-a-kiln-owner").build())).create();
    client.resource(pod("volcano-0", new OwnerReferenceBuilder().withApiVersion("batch.volcano.sh/v1alpha1")
        .withKind("Job").withName("vc").withUid("another-groups-job").build())).create();
    client.resource(new JobBuilder(jobSpec("of-a-gone-kiln-job")).editMetadata().withOwnerReferences(
        new OwnerReferenceBuilder().withApiVersion("kiln.dev/v1alpha1").withKind("MultimodalPretrainJob")
            .withName("research").withUid("gone-kiln-job").build()).endMetadata().build()).create();
    client.resource(gone).delete();

    new GarbageCollector(client, ClusterReads.over(client)).collectOrphans(Snapshot.read(client));

    assertThat(client.pods().inNamespace(NS).withName("gone-0").get()).as("its Job is gone").isNull();
    assertThat(client.pods().inNamespace(NS).withName("kept-0").get()).as("positive control: its Job lives").isNotNull();
    assertThat(client.pods().inNamespace(NS).withName("replica-0").get()).as("an owner the collector does not follow")
        .isNotNull();
    assertThat(client.pods().inNamespace(NS).withName("volcano-0").get()).as("a Job of another API group").isNotNull();
    assertThat(client.batch().v1().jobs().inNamespace(NS).withName("of-a-gone-kiln-job").get()).isNull();
  }

  private Job job(String name) {
    return client.resource(jobSpec(name)).create();
  }

  private static Job jobSpec(String name) {
    return new JobBuilder().withNewMetadata().withName(name).withNamespace(NS).endMetadata()
        .withNewSpec().withNewTemplate().withNewSpec().addNewContainer().withName("c").withImage("busybox").endContainer()
        .withRestartPolicy("Never").endSpec().endTemplate().endSpec().build();
  }

  private static OwnerReference owner(String kind, Job job) {
    return new OwnerReferenceBuilder().withApiVersion("batch/v1").withKind(kind).withName(job.getMetadata().getName())
        .withUid(job.getMetadata().getUid()).withController(true).build();
  }

  private static Pod pod(String name, OwnerReference owner) {
    return new PodBuilder().withNewMetadata().withName(name).withNamespace(NS).withOwnerReferences(owner).endMetadata()
        .withNewSpec().addNewContainer().withName("c").withImage("busybox").endContainer().endSpec().build();
  }
}
