package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The local API server serves requests without keeping them: a long run does not grow its heap by every request. */
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
}
