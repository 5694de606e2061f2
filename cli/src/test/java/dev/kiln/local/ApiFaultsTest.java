package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The faults the local API server injects: only into the chosen clients' requests, each kind as a
 * real API server answers it, and expired watches that make an informer list again.
 */
@Timeout(120)
class ApiFaultsTest {

  private LocalApiServer server;
  private KubernetesClient admin;

  @BeforeEach
  void start() {
    server = new LocalApiServer();
    admin = server.admin();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /** A client of the administrator's credentials with its own User-Agent and no retries, so each fault shows. */
  private KubernetesClient client(String agent, int retries) {
    var config = new io.fabric8.kubernetes.client.ConfigBuilder(admin.getConfiguration()).withUserAgent(agent)
        .withRequestRetryBackoffLimit(retries).withRequestRetryBackoffInterval(10).withRequestTimeout(1000).build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  private static ConfigMap configMap(String name) {
    return new ConfigMapBuilder().withNewMetadata().withName(name).withNamespace("default").endMetadata()
        .withData(Map.of("k", "v")).build();
  }

  @Test
  void eachKindIsAnsweredAsARealApiServerAnswersItAndOnlyTheChosenClientsGetThem() {
    admin.resource(configMap("seen")).create();
    server.dispatcher().faults(new ApiFaults(new ApiFaults.Schedule(1, "faulted", 1.0,
        List.of(ApiFaults.Kind.SERVER_ERROR, ApiFaults.Kind.UNAVAILABLE, ApiFaults.Kind.TOO_MANY_REQUESTS),
        Duration.ofSeconds(3))));
    try (KubernetesClient faulted = client("faulted-test", 0)) {
      List<Integer> codes = List.of(0, 1, 2).stream().map(i -> {
        try {
          faulted.configMaps().inNamespace("default").withName("seen").get();
          return 200;
        } catch (KubernetesClientException e) {
          return e.getCode();
        }
      }).toList();
      assertThat(codes).containsExactly(500, 503, 429);
    }
    // Positive control: the administrator's client is never faulted.
    assertThat(admin.configMaps().inNamespace("default").withName("seen").get()).isNotNull();
  }

  @Test
  void aSlowAnswerTakesEffectThoughTheClientGaveUpAndAConflictAnswersOnlyUpdates() {
    ApiFaults faults = new ApiFaults(new ApiFaults.Schedule(1, "faulted", 1.0,
        List.of(ApiFaults.Kind.SLOW), Duration.ofSeconds(4)));
    server.dispatcher().faults(faults);
    try (KubernetesClient faulted = client("faulted-test", 0)) {
      assertThatThrownBy(() -> faulted.resource(configMap("slow")).create()).isInstanceOf(KubernetesClientException.class);
      assertThat(admin.configMaps().inNamespace("default").withName("slow").get()).as("the write took effect").isNotNull();
    }
    server.dispatcher().faults(new ApiFaults(new ApiFaults.Schedule(1, "faulted", 1.0,
        List.of(ApiFaults.Kind.CONFLICT), Duration.ZERO)));
    try (KubernetesClient faulted = client("faulted-test", 0)) {
      ConfigMap current = faulted.configMaps().inNamespace("default").withName("slow").get();
      assertThat(current).as("a read cannot conflict").isNotNull();
      current.getData().put("k", "changed");
      assertThatThrownBy(() -> faulted.resource(current).update())
          .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
    }
    assertThat(faults.injected()).containsEntry(ApiFaults.Kind.SLOW, 1L);
  }

  @Test
  void anExpiredWatchMakesTheInformerListAgainAndMissNothing() {
    ApiFaults faults = new ApiFaults(new ApiFaults.Schedule(1, "faulted", 0.0, List.of(ApiFaults.Kind.WATCH_EXPIRED),
        Duration.ZERO));
    server.dispatcher().faults(faults);
    AtomicInteger added = new AtomicInteger();
    try (KubernetesClient faulted = client("faulted-test", 10);
         SharedIndexInformer<ConfigMap> informer = faulted.configMaps().inNamespace("default").inform(
             new ResourceEventHandler<>() {
               @Override
               public void onAdd(ConfigMap object) {
                 added.incrementAndGet();
               }

               @Override
               public void onUpdate(ConfigMap before, ConfigMap after) {}

               @Override
               public void onDelete(ConfigMap object, boolean finalStateUnknown) {}
             })) {
      admin.resource(configMap("before")).create();
      await().atMost(Duration.ofSeconds(30)).until(() -> informer.getStore().list().size() == 1);

      faults.expireWatches();
      admin.resource(configMap("after")).create();

      await().atMost(Duration.ofSeconds(30)).until(() -> informer.getStore().list().size() == 2);
      assertThat(faults.injected()).containsEntry(ApiFaults.Kind.WATCH_EXPIRED, 1L);
      assertThat(faults.relists()).as("the informer listed again").isPositive();
      assertThat(added.get()).isEqualTo(2);
    }
  }
}
