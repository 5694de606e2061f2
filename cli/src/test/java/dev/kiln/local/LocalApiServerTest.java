package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The local API server serves requests without keeping them (a long run does not grow its heap by
 * every request), and tells listeners of each change when it stores it.
 */
@Timeout(60)
class LocalApiServerTest {

  @Test
  void servedRequestsAreNotKept() throws InterruptedException {
    try (LocalApiServer server = new LocalApiServer()) {
      var admin = server.admin();
      admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("team").endMetadata().build()).create();
      for (int i = 0; i < 50; i++) {
        admin.configMaps().inNamespace("team").resource(new ConfigMapBuilder().withNewMetadata().withName("cm-" + i)
            .endMetadata().addToData("payload", "x".repeat(4096)).build()).create();
        admin.configMaps().inNamespace("team").withName("cm-" + i).get();
      }

      // Positive control: the web server did see every request (and one served request may still be held).
      assertThat(server.web().getRequestCount()).isGreaterThanOrEqualTo(101);
      int kept = 0;
      while (server.web().takeRequest(0, TimeUnit.NANOSECONDS) != null) {
        kept++;
      }
      assertThat(kept).as("requests still recorded after 101 served").isLessThanOrEqualTo(1);
    }
  }

  @Test
  void everyStoredChangeIsToldWithTheObjectBeforeAndAfter() {
    try (LocalApiServer server = new LocalApiServer()) {
      List<ApiCommit> commits = new CopyOnWriteArrayList<>();
      server.dispatcher().onCommit(commits::add);
      var admin = server.admin();
      admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("team").endMetadata().build()).create();
      var configMaps = admin.configMaps().inNamespace("team");
      long before = System.nanoTime();
      configMaps.resource(new ConfigMapBuilder().withNewMetadata().withName("cm").endMetadata().addToData("v", "1").build())
          .create();
      configMaps.withName("cm").edit(cm -> new ConfigMapBuilder(cm).addToData("v", "2").build());
      configMaps.withName("cm").delete();
      long after = System.nanoTime();

      List<ApiCommit> ofTheMap = commits.stream().filter(c -> c.resource().equals("configmaps")).toList();
      assertThat(ofTheMap).hasSize(3);
      assertThat(ofTheMap).allSatisfy(c -> assertThat(c.nanoTime()).isBetween(before, after));
      assertThat(ofTheMap).extracting(ApiCommit::nanoTime).isSorted();
      assertThat(ofTheMap.get(0).before()).isNull();
      assertThat(ofTheMap.get(0).after()).contains("\"v\":\"1\"");
      assertThat(ofTheMap.get(1).before()).contains("\"v\":\"1\"");
      assertThat(ofTheMap.get(1).after()).contains("\"v\":\"2\"");
      assertThat(ofTheMap.get(2).before()).contains("\"v\":\"2\"");
      assertThat(ofTheMap.get(2).after()).isNull();
      // The namespace, created before, was told too, as a resource of its own.
      assertThat(commits).extracting(ApiCommit::resource).contains("namespaces");
    }
  }
}
