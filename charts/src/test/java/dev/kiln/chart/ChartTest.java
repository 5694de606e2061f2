package dev.kiln.chart;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import dev.kiln.local.ChartRbac;
import dev.kiln.local.OperatorProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The chart as {@code helm install} would apply it, rendered by Helm's own library with several
 * value sets: every object valid against the API server's schemas, every pod Pod-Security
 * restricted, RBAC of least privilege with no wildcard, values landing where they should.
 */
class ChartTest {

  private static final Map<String, Object> DEFAULTS = Map.of();
  private static final Map<String, Object> NAMESPACED = Map.of("watchNamespaces[0]", "team-a",
      "watchNamespaces[1]", "team-b");
  private static final Map<String, Object> CUSTOM = Map.ofEntries(
      Map.entry("images.registry", "registry.example.com/ml/"),
      Map.entry("images.tag", "1.2.3"),
      Map.entry("images.pullPolicy", "Always"),
      Map.entry("replicaCount", "3"),
      Map.entry("metrics.serviceMonitor.enabled", "true"),
      Map.entry("metrics.podMonitor.enabled", "true"),
      Map.entry("metrics.grafanaDashboard.enabled", "true"),
      Map.entry("serviceAccount.name", "trainer-ops"),
      Map.entry("operator.tolerations[0].key", "dedicated"),
      Map.entry("operator.tolerations[0].operator", "Exists"),
      Map.entry("operator.resources.limits.memory", "1Gi"),
      Map.entry("operator.nodeSelector.pool", "system"),
      Map.entry("defaultQueue.spec.gpuQuota", "64"),
      Map.entry("defaultQueue.spec.strategy", "StrictFIFO"),
      Map.entry("gpuRuntimeClassName", "nvidia"));

  static Stream<Arguments> valueSets() {
    return Stream.of(Arguments.of("defaults", DEFAULTS), Arguments.of("namespaced", NAMESPACED),
        Arguments.of("custom", CUSTOM));
  }

  @Test
  void lintsCleanInStrictMode() {
    LintResult lint = new Helm(RenderedChart.CHART).lint().strict().call();
    assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
  }

  @Test
  void shipsTheGeneratedCrdsUnchanged() throws IOException {
    Path generated = RenderedChart.CHART.resolve("../../crds").normalize();
    try (var files = Files.list(generated)) {
      for (Path crd : files.filter(f -> f.toString().endsWith(".yml")).toList()) {
        Path shipped = RenderedChart.CHART.resolve("crds").resolve(crd.getFileName());
        assertThat(shipped).as("charts/kiln/crds/%s must be a copy of crds/%s (./mvnw -pl api test -Dkiln.crd.update=true "
            + "writes both)", crd.getFileName(), crd.getFileName())
            .hasSameBinaryContentAs(crd);
        assertThat(KubernetesSchemas.problem(RenderedChart.parse(Files.readString(shipped)).one("CustomResourceDefinition")))
            .isEmpty();
      }
    }
    try (var files = Files.list(RenderedChart.CHART.resolve("crds"))) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .allSatisfy(name -> assertThat(generated.resolve(name)).exists());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("valueSets")
  void everyObjectIsValidAgainstTheApiServersSchemas(String name, Map<String, Object> values) {
    RenderedChart chart = RenderedChart.render(values);
    assertThat(chart.objects()).isNotEmpty();
    List<String> problems = new ArrayList<>();
    for (JsonNode object : chart.objects()) {
      if (object.path("kind").asText().endsWith("Monitor")) {
        continue;  // prometheus-operator's kinds: checked field by field below
      }
      KubernetesSchemas.problem(object).ifPresent(problems::add);
    }
    assertThat(problems).isEmpty();
  }

  @Test
  void theSchemaCheckRejectsWhatTheApiServerWould() {
    RenderedChart chart = RenderedChart.render(DEFAULTS);
    JsonNode deployment = chart.one("Deployment").deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) deployment.at("/spec/template/spec")).put("hostNetwrk", true);
    assertThat(KubernetesSchemas.problem(deployment)).get().asString().contains("hostNetwrk");
    JsonNode binding = chart.ofKind("ClusterRoleBinding").getFirst().deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) binding).remove("roleRef");
    assertThat(KubernetesSchemas.problem(binding)).get().asString().contains("roleRef");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("valueSets")
  void everyPodPassesPodSecurityRestricted(String name, Map<String, Object> values) {
    RenderedChart chart = RenderedChart.render(values);
    List<JsonNode> podSpecs = chart.where(o -> o.at("/spec/template/spec").isObject()).stream()
        .map(o -> o.at("/spec/template/spec")).toList();
    assertThat(podSpecs).isNotEmpty();
    for (JsonNode pod : podSpecs) {
      assertThat(RestrictedPodSecurity.violations(pod)).isEmpty();
      assertThat(pod.at("/containers/0/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
    }
  }

  @Test
  void theRestrictedCheckRefusesAPodThatRunsAsRoot() {
    JsonNode pod = RenderedChart.render(DEFAULTS).one("Deployment").at("/spec/template/spec").deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) pod.path("securityContext")).put("runAsNonRoot", false);
    ((com.fasterxml.jackson.databind.node.ObjectNode) pod.at("/containers/0/securityContext")).remove("capabilities");
    assertThat(RestrictedPodSecurity.violations(pod))
        .anyMatch(v -> v.contains("runAsNonRoot")).anyMatch(v -> v.contains("drop must include ALL"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("valueSets")
  void rbacHasNoWildcard(String name, Map<String, Object> values) {
    for (JsonNode role : RenderedChart.render(values).where(o -> o.path("kind").asText().endsWith("Role"))) {
      for (JsonNode rule : role.path("rules")) {
        for (String field : List.of("verbs", "resources", "apiGroups")) {
          assertThat(rule.path(field).toString()).as("%s %s", role.at("/metadata/name").asText(), field)
              .doesNotContain("\"*\"");
        }
      }
    }
  }

  @Test
  void namespacedModeWritesWorkloadsOnlyInItsNamespaces() {
    RenderedChart chart = RenderedChart.render(NAMESPACED);
    for (JsonNode clusterRole : chart.ofKind("ClusterRole")) {
      for (JsonNode rule : clusterRole.path("rules")) {
        boolean kilnQueues = rule.path("apiGroups").toString().contains("kiln.dev")
            && rule.path("resources").toString().contains("trainingqueues");
        if (!kilnQueues) {
          assertThat(verbs(rule)).as("ClusterRole %s on %s", clusterRole.at("/metadata/name").asText(),
              rule.path("resources")).isSubsetOf("get", "list", "watch");
        }
      }
    }
    List<JsonNode> workloadRoles = chart.where(o -> o.path("kind").asText().equals("Role")
        && o.at("/metadata/name").asText().endsWith("-workloads"));
    assertThat(workloadRoles).extracting(r -> r.at("/metadata/namespace").asText()).containsExactlyInAnyOrder("team-a", "team-b");
    assertThat(chart.where(o -> o.path("kind").asText().equals("RoleBinding")
        && o.at("/metadata/name").asText().endsWith("-workloads")))
        .extracting(r -> r.at("/metadata/namespace").asText() + ":" + r.at("/subjects/0/namespace").asText())
        .containsExactlyInAnyOrder("team-a:" + RenderedChart.NAMESPACE, "team-b:" + RenderedChart.NAMESPACE);
    assertThat(chart.env("QUARKUS_OPERATOR_SDK_CONTROLLERS_MULTIMODALPRETRAINJOB_NAMESPACES")).isEqualTo("team-a,team-b");

    RenderedChart clusterWide = RenderedChart.render(DEFAULTS);
    assertThat(clusterWide.ofKind("Role")).extracting(r -> r.at("/metadata/name").asText())
        .containsExactly("kiln-leader-election");
    assertThat(clusterWide.env("QUARKUS_OPERATOR_SDK_CONTROLLERS_MULTIMODALPRETRAINJOB_NAMESPACES")).isNull();
  }

  /**
   * What Argo CD or Flux applied stays as applied: the operator may read and (past its TTL) delete
   * a job, and write its status, but never patch or update the job itself, and the local API
   * server enforces exactly these rules on every run.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("valueSets")
  void theOperatorNeverWritesAJobsSpecOrMetadata(String name, Map<String, Object> values) {
    Set<String> granted = new HashSet<>();
    RenderedChart.render(values).where(o -> o.path("kind").asText().endsWith("Role"))
        .forEach(r -> granted.addAll(permissions(r.path("rules"))));
    assertThat(granted).as("positive control: the status is written").contains("patch kiln.dev/multimodalpretrainjobs/status");
    assertThat(granted.stream().filter(p -> p.endsWith(" kiln.dev/multimodalpretrainjobs")))
        .containsExactlyInAnyOrder("get kiln.dev/multimodalpretrainjobs", "list kiln.dev/multimodalpretrainjobs",
            "watch kiln.dev/multimodalpretrainjobs", "delete kiln.dev/multimodalpretrainjobs");
  }

  @Test
  void grantsEveryPermissionTheOperatorDeclares() throws IOException {
    Path generated = Path.of(System.getProperty("kiln.home", "..")).resolve("operator/target/kubernetes/kubernetes.yml");
    assertThat(generated).as("built with the operator").exists();
    Set<String> declared = new HashSet<>();
    for (JsonNode object : RenderedChart.parse(Files.readString(generated)).ofKind("ClusterRole")) {
      if (object.at("/metadata/name").asText().startsWith("multimodalpretrainjob")) {
        declared.addAll(permissions(object.path("rules")));
      }
    }
    // JOSDK's generated rule for the job grants every verb on the job, its status and finalizers; the
    // operator never creates jobs, uses no finalizer, and a status subresource takes only get/patch/update.
    // Nor does it write a job's spec or metadata (see theOperatorNeverWritesAJobsSpecOrMetadata).
    declared.removeIf(p -> p.contains("multimodalpretrainjobs/finalizers") || p.startsWith("create kiln.dev/multimodalpretrainjobs")
        || p.matches("(list|watch|delete|create) .*/status") || p.matches("(patch|update) kiln.dev/multimodalpretrainjobs"));
    assertThat(declared).isNotEmpty();
    for (Map<String, Object> values : List.of(DEFAULTS, NAMESPACED)) {
      RenderedChart chart = RenderedChart.render(values);
      Set<String> granted = new HashSet<>();
      chart.where(o -> o.path("kind").asText().endsWith("Role")).forEach(r -> granted.addAll(permissions(r.path("rules"))));
      Set<String> missing = new HashSet<>(declared);
      missing.removeAll(granted);
      assertThat(missing).as("declared by the operator's @RBACRule but not granted by the chart").isEmpty();
    }
  }

  /**
   * The local cluster authorizes the operator with the chart's RBAC as Helm renders it (kept beside
   * the local API server, which has no Helm); it must be exactly this chart's, in both modes.
   * {@code -Dkiln.rbac.update=true} rewrites the copies.
   */
  @Test
  void theLocalClusterAuthorizesWithExactlyTheChartsRbac() throws IOException {
    Path folder = Path.of(System.getProperty("kiln.home", "..")).resolve("cli/src/main/resources/dev/kiln/local");
    Map<String, Map<String, Object>> renders = Map.of(ChartRbac.CLUSTER_WIDE, DEFAULTS,
        ChartRbac.NAMESPACED, Map.of("watchNamespaces[0]", ChartRbac.WATCHED_PLACEHOLDER));
    Map<String, String> expected = new java.util.TreeMap<>();
    for (var render : renders.entrySet()) {
      StringBuilder yaml = new StringBuilder("# helm template kiln charts/kiln -n " + RenderedChart.NAMESPACE
          + (render.getValue().isEmpty() ? "" : " --set watchNamespaces[0]=" + ChartRbac.WATCHED_PLACEHOLDER)
          + ": the service account, roles and bindings (ChartTest keeps this equal to the chart)\n");
      for (JsonNode object : RenderedChart.render(render.getValue())
          .where(o -> AUTHORIZATION.contains(o.path("kind").asText()))) {
        yaml.append(new YAMLMapper().writeValueAsString(object));
      }
      expected.put(render.getKey(), yaml.toString());
      if (Boolean.getBoolean("kiln.rbac.update")) {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve(render.getKey()), yaml.toString());
      }
    }
    String rewrite = "rewrite with ./mvnw -pl charts test -Dtest=ChartTest -Dkiln.rbac.update=true";
    for (var file : expected.entrySet()) {
      Path copy = folder.resolve(file.getKey());
      assertThat(copy).as("the local cluster's copy of the chart's RBAC; " + rewrite).exists();
      assertThat(Files.readString(copy)).as("%s is stale; %s", copy, rewrite).isEqualTo(file.getValue());
      assertThat(ChartRbac.rendered(file.getKey())).as("the copy packaged with Kiln (./build after rewriting)")
          .isEqualTo(file.getValue());
    }
  }

  private static final Set<String> AUTHORIZATION = Set.of("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
      "RoleBinding");

  @Test
  void imagesAndValuesLandWhereTheyShould() throws IOException {
    RenderedChart chart = RenderedChart.render(CUSTOM);
    JsonNode deployment = chart.one("Deployment");
    JsonNode container = chart.operatorContainer();
    assertThat(container.path("image").asText()).isEqualTo("registry.example.com/ml/kiln-operator:1.2.3");
    assertThat(container.path("imagePullPolicy").asText()).isEqualTo("Always");
    assertThat(chart.env("KILN_OPERATOR_TRAINER_IMAGE")).isEqualTo("registry.example.com/ml/kiln-trainer:1.2.3");
    assertThat(chart.env("KILN_OPERATOR_DATA_JOBS_IMAGE")).isEqualTo("registry.example.com/ml/kiln-data-jobs:1.2.3");
    assertThat(chart.env("KILN_OPERATOR_TRAINER_GPU_IMAGE")).isEqualTo("registry.example.com/ml/kiln-trainer:1.2.3-cuda");
    assertThat(chart.env("KILN_OPERATOR_GPU_RUNTIME_CLASS_NAME")).isEqualTo("nvidia");
    assertThat(chart.env("KILN_OPERATOR_IMAGE_PULL_POLICY")).isEqualTo("Always");
    assertThat(chart.env("KILN_OPERATOR_LEADER_ELECTION_LEASE_NAMESPACE")).isEqualTo(RenderedChart.NAMESPACE);
    assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(3);
    assertThat(deployment.at("/spec/template/spec/serviceAccountName").asText()).isEqualTo("trainer-ops");
    assertThat(chart.one("ServiceAccount").at("/metadata/name").asText()).isEqualTo("trainer-ops");
    assertThat(deployment.at("/spec/template/spec/tolerations/0/key").asText()).isEqualTo("dedicated");
    assertThat(deployment.at("/spec/template/spec/nodeSelector/pool").asText()).isEqualTo("system");
    assertThat(container.at("/resources/limits/memory").asText()).isEqualTo("1Gi");
    assertThat(chart.where(o -> o.path("kind").asText().endsWith("Binding")))
        .allSatisfy(b -> assertThat(b.at("/subjects/0/name").asText()).isEqualTo("trainer-ops"));

    JsonNode queue = chart.one("TrainingQueue");
    assertThat(queue.at("/metadata/name").asText()).isEqualTo("default");
    assertThat(queue.at("/spec/gpuQuota").asInt()).isEqualTo(64);
    assertThat(queue.at("/spec/strategy").asText()).isEqualTo("StrictFIFO");

    JsonNode monitor = chart.one("ServiceMonitor");
    assertThat(monitor.path("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    assertThat(monitor.at("/spec/endpoints/0/path").asText()).isEqualTo("/q/metrics");
    assertThat(monitor.at("/spec/endpoints/0/port").asText())
        .isEqualTo(chart.one("Service").at("/spec/ports/0/name").asText());
    assertThat(monitor.at("/spec/selector/matchLabels")).isEqualTo(deployment.at("/spec/selector/matchLabels"));

    JsonNode podMonitor = chart.one("PodMonitor");
    assertThat(podMonitor.at("/spec/podMetricsEndpoints/0/port").asText()).isEqualTo("metrics");
    assertThat(podMonitor.at("/spec/podMetricsEndpoints/0/path").asText()).isEqualTo("/metrics");
    assertThat(podMonitor.at("/spec/namespaceSelector/any").asBoolean()).isTrue();
    // The trainers' pods as the operator labels them (its golden stage Job), and rank 0 as the Job controller does.
    JsonNode stageJob = new YAMLMapper().readTree(Path.of(System.getProperty("kiln.home", ".."))
        .resolve("operator/src/test/resources/golden/stage-pretrain-1node-gpu.yaml").toFile());
    JsonNode podLabels = stageJob.at("/spec/template/metadata/labels");
    podMonitor.at("/spec/selector/matchLabels").properties().forEach(label -> {
      if (!label.getKey().equals("batch.kubernetes.io/job-completion-index")) {
        assertThat(podLabels.path(label.getKey()).asText()).as(label.getKey()).isEqualTo(label.getValue().asText());
      }
    });
    assertThat(stageJob.at("/spec/completionMode").asText()).isEqualTo("Indexed");
    assertThat(stageJob.at("/spec/template/spec/containers/0/ports").toString()).contains("\"metrics\"");

    JsonNode dashboard = chart.where(o -> o.path("kind").asText().equals("ConfigMap")
        && o.at("/metadata/labels/grafana_dashboard").asText().equals("1")).getFirst();
    String json = dashboard.at("/data/kiln.json").asText();
    assertThat(json).isEqualTo(Files.readString(RenderedChart.CHART.resolve("dashboards/kiln.json")).strip());
    assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json).path("panels")).hasSizeGreaterThan(5);

    RenderedChart defaults = RenderedChart.render(DEFAULTS);
    assertThat(defaults.ofKind("PodMonitor")).isEmpty();
    assertThat(defaults.where(o -> o.at("/metadata/labels/grafana_dashboard").isTextual())).isEmpty();
    String appVersion = new YAMLMapper().readTree(RenderedChart.CHART.resolve("Chart.yaml").toFile()).path("appVersion").asText();
    assertThat(defaults.operatorContainer().path("image").asText()).isEqualTo("ghcr.io/kiln-dev/kiln-operator:" + appVersion);
    assertThat(defaults.ofKind("ServiceMonitor")).isEmpty();
    assertThat(defaults.env("KILN_OPERATOR_TRAINER_GPU_IMAGE")).isEqualTo("ghcr.io/kiln-dev/kiln-trainer:" + appVersion + "-cuda");
    assertThat(defaults.env("KILN_OPERATOR_GPU_RUNTIME_CLASS_NAME")).isNull();
    assertThat(defaults.one("Deployment").at("/spec/replicas").asInt()).isEqualTo(2);
  }

  @Test
  void probesAndMetricsPointAtTheOperatorsEndpoints() {
    RenderedChart chart = RenderedChart.render(DEFAULTS);
    JsonNode container = chart.operatorContainer();
    assertThat(container.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/q/health/live");
    assertThat(container.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/q/health/ready");
    assertThat(container.at("/startupProbe/httpGet/path").asText()).isEqualTo("/q/health/started");
    assertThat(container.at("/ports/0/containerPort").asInt()).isEqualTo(Integer.parseInt(chart.env("QUARKUS_HTTP_PORT")));
    assertThat(chart.one("Service").at("/spec/selector")).isEqualTo(chart.one("Deployment").at("/spec/selector/matchLabels"));
    assertThat(chart.env("KILN_OPERATOR_LEADER_ELECTION_ENABLED")).isEqualTo("true");
  }

  @Test
  void theOperatorRunsWithTheJvmOptionsTheLocalClusterMeasures() {
    RenderedChart chart = RenderedChart.render(DEFAULTS);
    assertThat(chart.env("JAVA_TOOL_OPTIONS")).isEqualTo(String.join(" ", OperatorProcess.JVM_OPTIONS));
    assertThat(chart.env("MALLOC_ARENA_MAX")).isEqualTo(OperatorProcess.MALLOC_ARENAS);
  }

  /** "verb group/resource" for every combination a list of RBAC rules grants. */
  private static Set<String> permissions(JsonNode rules) {
    Set<String> granted = new HashSet<>();
    for (JsonNode rule : rules) {
      for (JsonNode group : rule.path("apiGroups")) {
        for (JsonNode resource : rule.path("resources")) {
          for (JsonNode verb : rule.path("verbs")) {
            granted.add(verb.asText() + " " + group.asText() + "/" + resource.asText());
          }
        }
      }
    }
    return granted;
  }

  private static List<String> verbs(JsonNode rule) {
    List<String> verbs = new ArrayList<>();
    rule.path("verbs").forEach(v -> verbs.add(v.asText()));
    return verbs;
  }
}
