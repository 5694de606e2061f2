package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The store read by resource answers every read as the plain store does, through creates,
 * updates, patches (labels changed), deletes, a name used in two namespaces, cluster-scoped
 * objects and label selectors: the same operations against both, then the same reads compared.
 */
@Timeout(60)
class IndexedCrudDispatcherTest {

  private KubernetesMockServer plainServer;
  private KubernetesMockServer indexedServer;
  private IndexedCrudDispatcher indexedDispatcher;
  private KubernetesClient plain;
  private KubernetesClient indexed;

  @BeforeEach
  void start() {
    plainServer = server(new KubernetesCrudDispatcher());
    indexedDispatcher = new IndexedCrudDispatcher();
    indexedServer = server(indexedDispatcher);
    plain = plainServer.createClient();
    indexed = indexedServer.createClient();
  }

  private static KubernetesMockServer server(KubernetesCrudDispatcher dispatcher) {
    KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher,
        false);
    server.init(InetAddress.getLoopbackAddress(), 0);
    return server;
  }

  @AfterEach
  void stop() {
    plain.close();
    indexed.close();
    plainServer.destroy();
    indexedServer.destroy();
  }

  @Test
  void everyReadAnswersAsThePlainStoreDoes() {
    for (KubernetesClient client : List.of(plain, indexed)) {
      for (String namespace : List.of("a", "b")) {
        client.resource(new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build()).create();
        for (int i = 0; i < 5; i++) {
          client.pods().inNamespace(namespace).resource(pod("p" + i, i % 2 == 0 ? "trainer" : "data")).create();
          client.configMaps().inNamespace(namespace).resource(configMap("p" + i)).create();
        }
      }
      client.resource(new NodeBuilder().withNewMetadata().withName("p1").endMetadata().build()).create();
      client.pods().inNamespace("a").withName("p1").edit(p -> {
        p.getMetadata().getLabels().put("role", "trainer");
        return p;
      });
      client.pods().inNamespace("b").withName("p2").patch(PatchContext.of(PatchType.JSON_MERGE),
          "{\"metadata\":{\"labels\":{\"role\":\"data\"}}}");
      client.pods().inNamespace("b").withName("p3").editStatus(p -> {
        p.getStatus().setPhase("Running");
        return p;
      });
      client.pods().inNamespace("a").withName("p4").delete();
      client.configMaps().inNamespace("b").withName("p0").delete();
      client.pods().inNamespace("a").resource(pod("p4", "data")).create();
    }

    List<Function<KubernetesClient, Object>> reads = List.of(
        c -> names(c.pods().inAnyNamespace().list().getItems()),
        c -> names(c.pods().inNamespace("a").list().getItems()),
        c -> names(c.pods().inNamespace("b").withLabel("role", "trainer").list().getItems()),
        c -> names(c.pods().inAnyNamespace().withLabel("role", "data").list().getItems()),
        c -> names(c.pods().inAnyNamespace().withoutLabel("role", "data").list().getItems()),
        c -> names(c.configMaps().inAnyNamespace().list().getItems()),
        c -> names(c.nodes().list().getItems()),
        c -> names(c.namespaces().list().getItems()),
        c -> names(c.secrets().inNamespace("a").list().getItems()),
        c -> names(c.resourceQuotas().inAnyNamespace().list().getItems()),
        c -> names(c.pods().inNamespace("a").withLabel("role", "none").list().getItems()),
        c -> c.pods().inNamespace("b").withLabel("role", "none").list().getMetadata().getResourceVersion(),
        c -> String.valueOf(c.raw(c.getMasterUrl() + "apis/batch/v1")),
        c -> String.valueOf(c.raw(c.getMasterUrl() + "api/v1")),
        c -> labelsOf(c.pods().inNamespace("a").withName("p1").get()),
        c -> labelsOf(c.pods().inNamespace("b").withName("p2").get()),
        c -> c.pods().inNamespace("b").withName("p3").get().getStatus().getPhase(),
        c -> String.valueOf(c.pods().inNamespace("a").withName("missing").get()),
        c -> String.valueOf(c.configMaps().inNamespace("b").withName("p0").get()),
        c -> c.configMaps().inNamespace("a").withName("p0").get().getData(),
        c -> c.nodes().withName("p1").get().getMetadata().getName());
    for (var read : reads) {
      assertThat(read.apply(indexed)).isEqualTo(read.apply(plain));
    }
    // Positive control: the reads tell the stores apart when they hold different objects.
    indexed.pods().inNamespace("a").withName("p0").delete();
    assertThat(reads.getFirst().apply(indexed)).isNotEqualTo(reads.getFirst().apply(plain));
  }

  @Test
  void theLocalNodeReadsTheStoreAsTheStoreListsIt() {
    for (KubernetesClient client : List.of(plain, indexed)) {
      for (String namespace : List.of("a", "b")) {
        client.resource(new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build()).create();
        for (int i = 0; i < 3; i++) {
          client.pods().inNamespace(namespace).resource(pod("p" + i, "data")).create();
          client.configMaps().inNamespace(namespace).resource(configMap("c" + i)).create();
          client.batch().v1().jobs().inNamespace(namespace).resource(new JobBuilder().withNewMetadata()
              .withName("j" + i).endMetadata().build()).create();
        }
      }
      client.resource(new NodeBuilder().withNewMetadata().withName("n1").endMetadata().build()).create();
      client.pods().inNamespace("b").withName("p1").editStatus(p -> {
        p.getStatus().setPhase("Running");
        return p;
      });
      client.pods().inNamespace("a").withName("p2").delete();
      client.configMaps().inNamespace("b").withName("c0").delete();
    }

    ClusterReads store = ClusterReads.from(indexedDispatcher);
    ClusterReads api = ClusterReads.over(plain);
    for (Class<? extends HasMetadata> type : List.of(Pod.class, Node.class, ConfigMap.class, Job.class)) {
      assertThat(names(store.list(type))).as(type.getSimpleName()).containsExactlyInAnyOrderElementsOf(
          names(api.list(type)));
    }
    assertThat(names(store.list(Pod.class))).containsExactlyInAnyOrder("a/p0", "a/p1", "b/p0", "b/p1", "b/p2");
    assertThat(store.list(Pod.class)).filteredOn(p -> p.getMetadata().getName().equals("p1")
        && p.getMetadata().getNamespace().equals("b")).singleElement()
        .satisfies(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Running"));
  }

  @Test
  void aReaderOfTheStoreNeverMissesAnObjectWhileItIsUpdated() throws Exception {
    indexed.resource(new NamespaceBuilder().withNewMetadata().withName("a").endMetadata().build()).create();
    indexed.pods().inNamespace("a").resource(pod("p0", "data")).create();
    AtomicBoolean writing = new AtomicBoolean(true);
    Thread writer = new Thread(() -> {
      try {
        for (int i = 0; i < 300; i++) {
          String value = "v" + i;
          indexed.pods().inNamespace("a").withName("p0").edit(p -> {
            p.getMetadata().getLabels().put("round", value);
            return p;
          });
        }
      } finally {
        writing.set(false);
      }
    });
    writer.start();
    int reads = 0;
    Set<String> statesSeen = new HashSet<>();
    while (writing.get()) {
      List<String> states = indexedDispatcher.storedStates("pods");
      assertThat(states).as("read " + reads).hasSize(1);
      statesSeen.add(states.getFirst());
      reads++;
    }
    writer.join(TimeUnit.SECONDS.toMillis(30));
    // Positive control: the reads did overlap the updates (they saw the pod change).
    assertThat(statesSeen).hasSizeGreaterThan(1);
  }

  @Test
  void aWatcherThatCannotBeToldOfAChangeDoesNotKeepItFromTheWatchersAfterIt() throws Exception {
    Field field = KubernetesCrudDispatcher.class.getDeclaredField("watchEventListeners");
    field.setAccessible(true);
    @SuppressWarnings("unchecked")
    Set<Object> watchers = (Set<Object>) field.get(indexedDispatcher);
    // Telling it throws, as telling a watch that is being closed does (its sender is already shut down).
    watchers.add("a watch being closed");
    BlockingQueue<String> heard = new LinkedBlockingQueue<>();
    try (Watch watch = indexed.pods().inNamespace("a").watch(new Watcher<Pod>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        heard.add(action + " " + pod.getMetadata().getName());
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      indexed.pods().inNamespace("a").resource(pod("p0", "data")).create();
      indexed.pods().inNamespace("a").withName("p0").delete();
      assertThat(heard.poll(10, TimeUnit.SECONDS)).isEqualTo("ADDED p0");
      assertThat(heard.poll(10, TimeUnit.SECONDS)).isEqualTo("DELETED p0");
    }
    assertThat(indexed.pods().inNamespace("a").list().getItems()).as("the index forgot it too").isEmpty();
  }

  @Test
  void aCollectionIsToldFromADiscoveryDocument() {
    assertThat(IndexedCrudDispatcher.listPath("/api/v1/namespaces/a/resourcequotas")).isTrue();
    assertThat(IndexedCrudDispatcher.listPath("/api/v1/pods?labelSelector=role%3Dnone")).isTrue();
    assertThat(IndexedCrudDispatcher.listPath("/api/v1/namespaces")).isTrue();
    assertThat(IndexedCrudDispatcher.listPath("/apis/kiln.dev/v1alpha1/trainingqueues")).isTrue();
    assertThat(IndexedCrudDispatcher.listPath("/apis/batch/v1/namespaces/a/jobs?limit=500")).isTrue();
    assertThat(IndexedCrudDispatcher.listPath("/apis/kiln.dev/v1alpha1")).isFalse();
    assertThat(IndexedCrudDispatcher.listPath("/apis/kiln.dev")).isFalse();
    assertThat(IndexedCrudDispatcher.listPath("/api/v1?timeout=32s")).isFalse();
    assertThat(IndexedCrudDispatcher.listPath("/apis")).isFalse();
  }

  private static Pod pod(String name, String role) {
    return new PodBuilder().withNewMetadata().withName(name).addToLabels("role", role).endMetadata()
        .withNewSpec().addNewContainer().withName("main").withImage("kiln").endContainer().endSpec()
        .withNewStatus().withPhase("Pending").endStatus().build();
  }

  private static ConfigMap configMap(String name) {
    return new ConfigMapBuilder().withNewMetadata().withName(name).endMetadata().addToData("key", name).build();
  }

  private static List<String> names(List<? extends HasMetadata> objects) {
    return objects.stream().map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()).toList();
  }

  private static Map<String, String> labelsOf(HasMetadata object) {
    return object.getMetadata().getLabels();
  }
}
