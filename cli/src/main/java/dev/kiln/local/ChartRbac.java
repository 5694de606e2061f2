package dev.kiln.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The authorization a cluster gives Kiln's operator: the ServiceAccount, Roles, ClusterRoles and
 * bindings that {@code helm install kiln charts/kiln -n kiln-system} renders (kept in this
 * package's resources as Helm rendered them; the chart's tests fail when they differ), plus the
 * API server's own bootstrap policy that every authenticated user has (discovery, and asking what
 * it may do).
 */
public final class ChartRbac {

  /** The release's namespace and service account, as the chart's defaults name them. */
  public static final String OPERATOR_NAMESPACE = "kiln-system";
  public static final String SERVICE_ACCOUNT = "kiln";

  /** The chart rendered with its defaults: the operator runs jobs in every namespace. */
  public static final String CLUSTER_WIDE = "chart-rbac.yaml";
  /**
   * The chart rendered with {@code watchNamespaces: [kiln-watched]}: its Role and RoleBinding in
   * {@link #WATCHED_PLACEHOLDER} are what each watched namespace gets.
   */
  public static final String NAMESPACED = "chart-rbac-namespaced.yaml";
  public static final String WATCHED_PLACEHOLDER = "kiln-watched";

  private ChartRbac() {}

  /**
   * Authorization as a cluster with Kiln's chart installed has it: the release's namespace and the
   * watched ones, the API server's bootstrap policy, then the chart's service account, roles and
   * bindings for the namespaces the operator watches (none: all).
   */
  public static void install(KubernetesClient client, List<String> watchNamespaces) {
    List<String> namespaces = new ArrayList<>(List.of(OPERATOR_NAMESPACE));
    namespaces.addAll(watchNamespaces);
    for (String namespace : namespaces) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .createOr(NonDeletingOperation::update);
    }
    bootstrapPolicy().forEach(object -> client.resource(object).create());
    objects(client, watchNamespaces).forEach(object -> client.resource(object).create());
  }

  /** The objects the chart creates for authorization, for the namespaces the operator watches (none: all). */
  private static List<HasMetadata> objects(KubernetesClient client, List<String> watchNamespaces) {
    String file = watchNamespaces.isEmpty() ? CLUSTER_WIDE : NAMESPACED;
    List<HasMetadata> rendered = client.load(new ByteArrayInputStream(rendered(file).getBytes(StandardCharsets.UTF_8)))
        .items();
    List<HasMetadata> objects = new ArrayList<>();
    for (HasMetadata object : rendered) {
      if (!WATCHED_PLACEHOLDER.equals(object.getMetadata().getNamespace())) {
        objects.add(object);
        continue;
      }
      for (String namespace : watchNamespaces) {
        HasMetadata copy = Serialization.clone(object);
        copy.getMetadata().setNamespace(namespace);
        objects.add(copy);
      }
    }
    return objects;
  }

  /** The chart's RBAC as Helm rendered it, one of {@link #CLUSTER_WIDE} and {@link #NAMESPACED}. */
  public static String rendered(String file) {
    try (InputStream in = ChartRbac.class.getResourceAsStream(file)) {
      if (in == null) {
        throw new IllegalStateException("the chart's rendered RBAC " + file + " is not packaged with Kiln");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * What every API server grants every authenticated user from its start (upstream's bootstrap
   * policy): discovery ({@code system:discovery}) and reviewing its own access ({@code system:basic-user}).
   */
  private static List<HasMetadata> bootstrapPolicy() {
    List<HasMetadata> objects = new ArrayList<>();
    objects.add(new ClusterRoleBuilder().withNewMetadata().withName("system:discovery").endMetadata()
        .addNewRule().withNonResourceURLs("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
            "/openapi/*", "/readyz", "/version", "/version/").withVerbs("get").endRule()
        .build());
    objects.add(new ClusterRoleBuilder().withNewMetadata().withName("system:basic-user").endMetadata()
        .addNewRule().withApiGroups("authorization.k8s.io")
            .withResources("selfsubjectaccessreviews", "selfsubjectrulesreviews").withVerbs("create").endRule()
        .addNewRule().withApiGroups("authentication.k8s.io").withResources("selfsubjectreviews").withVerbs("create")
            .endRule()
        .build());
    for (String role : List.of("system:discovery", "system:basic-user")) {
      objects.add(new ClusterRoleBindingBuilder().withNewMetadata().withName(role).endMetadata()
          .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName(role).endRoleRef()
          .addNewSubject().withApiGroup("rbac.authorization.k8s.io").withKind("Group").withName("system:authenticated")
            .endSubject()
          .build());
    }
    return objects;
  }
}
