package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceRule;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The local API server authorizes the operator's service account with the chart's RBAC (here in
 * watchNamespaces mode, team-a) the way a real one does: allowed only what a bound rule names,
 * refused with the API server's own 403 message, and an unknown token is nobody.
 */
@Timeout(60)
class RbacAuthorizationTest {

  private LocalApiServer server;
  private KubernetesClient admin;
  private KubernetesClient operator;

  @BeforeEach
  void installTheChartsRbac() throws Exception {
    server = new LocalApiServer();
    admin = server.admin();
    admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("default").endMetadata().build()).create();
    ChartRbac.install(admin, List.of("team-a"));
    operator = clientWithToken(server.dispatcher().serviceAccountToken(ChartRbac.OPERATOR_NAMESPACE, ChartRbac.SERVICE_ACCOUNT));
  }

  @AfterEach
  void stop() {
    operator.close();
    server.close();
  }

  @Test
  void theOperatorWritesWorkloadsInAWatchedNamespaceOnly() {
    assertThat(operator.batch().v1().jobs().inNamespace("team-a").resource(job("prep")).create()).isNotNull();

    assertThatThrownBy(() -> operator.batch().v1().jobs().inNamespace("default").resource(job("prep")).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(403);
          assertThat(e.getStatus().getReason()).isEqualTo("Forbidden");
          assertThat(e.getStatus().getMessage()).isEqualTo("jobs.batch is forbidden: User "
              + "\"system:serviceaccount:kiln-system:kiln\" cannot create resource \"jobs\" in API group \"batch\" "
              + "in the namespace \"default\"");
        });
    assertThat(admin.batch().v1().jobs().inNamespace("default").list().getItems()).isEmpty();
  }

  @Test
  void clusterWideItReadsButDoesNotWrite() {
    assertThat(operator.pods().inAnyNamespace().list().getItems()).isEmpty();
    assertThat(operator.batch().v1().jobs().inAnyNamespace().list().getItems()).isEmpty();
    assertThatThrownBy(() -> operator.nodes().withName("gpu-0").delete())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getStatus().getMessage())
            .isEqualTo("nodes \"gpu-0\" is forbidden: User \"system:serviceaccount:kiln-system:kiln\" cannot delete "
                + "resource \"nodes\" in API group \"\" at the cluster scope"));
    assertThatThrownBy(() -> operator.configMaps().inNamespace("team-a").withName("x").delete())
        .as("the chart grants no delete on ConfigMaps: the job's owner reference removes them")
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
    assertThat(operator.configMaps().inNamespace("team-a").resource(new ConfigMapBuilder().withNewMetadata()
        .withName("x").endMetadata().build()).create()).isNotNull();
  }

  @Test
  void aStatusSubresourceNeedsItsOwnRuleAndLeasesLiveInTheReleasesNamespace() {
    ApiRequest status = ApiRequest.of("PATCH", "/apis/kiln.dev/v1alpha1/namespaces/team-a/multimodalpretrainjobs/j/status");
    RbacAuthorizer authorizer = new RbacAuthorizer(this::items);
    RbacAuthorizer.User kiln = RbacAuthorizer.User.serviceAccount(ChartRbac.OPERATOR_NAMESPACE, ChartRbac.SERVICE_ACCOUNT);
    assertThat(authorizer.forbidden(kiln, status)).isEmpty();
    assertThat(authorizer.forbidden(kiln,
        ApiRequest.of("PATCH", "/apis/kiln.dev/v1alpha1/namespaces/default/multimodalpretrainjobs/j/status"))).isPresent();
    assertThat(authorizer.forbidden(kiln,
        ApiRequest.of("PATCH", "/apis/coordination.k8s.io/v1/namespaces/kiln-system/leases/kiln-operator"))).isEmpty();
    assertThat(authorizer.forbidden(kiln,
        ApiRequest.of("PATCH", "/apis/coordination.k8s.io/v1/namespaces/team-a/leases/kiln-operator"))).isPresent();
    assertThat(authorizer.forbidden(kiln, ApiRequest.of("GET", "/apis"))).as("discovery, from the bootstrap policy")
        .isEmpty();
    assertThat(authorizer.forbidden(kiln, ApiRequest.of("GET", "/metrics"))).get()
        .isEqualTo("forbidden: User \"system:serviceaccount:kiln-system:kiln\" cannot get path \"/metrics\"");
    assertThat(authorizer.forbidden(RbacAuthorizer.User.serviceAccount("team-a", "default"), status))
        .as("another service account").isPresent();
  }

  @Test
  void aRulesReviewAnswersWhatTheCallerMayDo() {
    SelfSubjectRulesReview review = operator.authorization().v1().selfSubjectRulesReview().create(
        new SelfSubjectRulesReviewBuilder().withNewSpec().withNamespace(ChartRbac.OPERATOR_NAMESPACE).endSpec().build());
    List<ResourceRule> rules = review.getStatus().getResourceRules();
    assertThat(rules).anySatisfy(r -> assertThat(r.getResources()).contains("leases"));
    assertThat(rules).allSatisfy(r -> assertThat(r.getVerbs()).doesNotContain("*"));
    SelfSubjectRulesReview elsewhere = operator.authorization().v1().selfSubjectRulesReview().create(
        new SelfSubjectRulesReviewBuilder().withNewSpec().withNamespace("default").endSpec().build());
    assertThat(elsewhere.getStatus().getResourceRules()).noneSatisfy(r -> assertThat(r.getResources()).contains("leases"));
  }

  @Test
  void anUnknownTokenIsNobody() {
    try (KubernetesClient stranger = clientWithToken("not-a-token")) {
      assertThatThrownBy(() -> stranger.pods().inNamespace("default").list())
          .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(401));
    }
  }

  @Test
  void requestsReadAsTheApiServerReadsThem() {
    assertThat(ApiRequest.of("GET", "/api/v1/namespaces/a/pods?watch=true&resourceVersion=5"))
        .isEqualTo(new ApiRequest("watch", true, "", "pods", "", "a", "", "/api/v1/namespaces/a/pods"));
    assertThat(ApiRequest.of("GET", "/apis/batch/v1/jobs").verb()).isEqualTo("list");
    assertThat(ApiRequest.of("DELETE", "/api/v1/namespaces/a/pods").verb()).isEqualTo("deletecollection");
    assertThat(ApiRequest.of("PUT", "/api/v1/namespaces/a/finalize"))
        .isEqualTo(new ApiRequest("update", true, "", "namespaces", "finalize", "a", "a", "/api/v1/namespaces/a/finalize"));
    assertThat(ApiRequest.of("GET", "/api/v1/namespaces/a").qualifiedResource()).isEqualTo("namespaces");
    assertThat(ApiRequest.of("POST", "/api/v1/namespaces/a/pods/p/eviction").qualifiedResource()).isEqualTo("pods/eviction");
    assertThat(ApiRequest.of("GET", "/apis/kiln.dev/v1alpha1").resourceRequest()).isFalse();
  }

  private List<com.fasterxml.jackson.databind.JsonNode> items(String path) {
    try {
      var list = new com.fasterxml.jackson.databind.ObjectMapper().readTree(admin.raw(server.url(path)));
      List<com.fasterxml.jackson.databind.JsonNode> items = new java.util.ArrayList<>();
      list.path("items").forEach(items::add);
      return items;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private KubernetesClient clientWithToken(String token) {
    return new KubernetesClientBuilder().withConfig(new ConfigBuilder().withMasterUrl(server.url("/"))
        .withOauthToken(token).withNamespace(ChartRbac.OPERATOR_NAMESPACE).withHttp2Disable(true).withRequestRetryBackoffLimit(0)
        .build()).build();
  }

  private static io.fabric8.kubernetes.api.model.batch.v1.Job job(String name) {
    return new JobBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec().withNewTemplate().withNewSpec()
        .addNewContainer().withName("c").withImage("busybox").endContainer().withRestartPolicy("Never").endSpec()
        .endTemplate().endSpec().build();
  }
}
