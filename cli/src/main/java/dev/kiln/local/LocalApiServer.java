package dev.kiln.local;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.util.HashMap;

/**
 * The in-memory API server on a loopback port, with {@link ValidatingDispatcher} in front of its
 * store, and the administrator's client (whose credentials it treats as {@code system:masters}).
 */
final class LocalApiServer implements AutoCloseable {

  private final ValidatingDispatcher dispatcher = new ValidatingDispatcher();
  private final KubernetesMockServer server;
  private final KubernetesClient admin;

  LocalApiServer() {
    server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init(InetAddress.getLoopbackAddress(), 0);
    admin = server.createClient();
    dispatcher.administrator(admin.getConfiguration().getOauthToken());
  }

  ValidatingDispatcher dispatcher() {
    return dispatcher;
  }

  /** The administrator's client: the local node, the Job controller, the tests and {@code kiln run} use it. */
  KubernetesClient admin() {
    return admin;
  }

  /** The server's URL for a path, for clients of other users. */
  String url(String path) {
    return server.url(path);
  }

  @Override
  public void close() {
    admin.close();
    server.destroy();
  }
}
