package dev.kiln.local;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.concurrent.TimeUnit;

/**
 * The in-memory API server on a loopback port, with {@link ValidatingDispatcher} in front of its
 * store, and the administrator's client (whose credentials it treats as {@code system:masters}).
 */
final class LocalApiServer implements AutoCloseable {

  private final ValidatingDispatcher dispatcher = new ValidatingDispatcher();
  private final RecordlessWebServer web = new RecordlessWebServer();
  private final KubernetesMockServer server;
  private final KubernetesClient admin;

  LocalApiServer() {
    server = new KubernetesMockServer(new Context(), web, new HashMap<>(), dispatcher, false);
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

  /** The web server under the store, for tests of what it keeps. */
  MockWebServer web() {
    return web;
  }

  @Override
  public void close() {
    admin.close();
    server.destroy();
  }

  /**
   * The mock web server, less its record of requests. It keeps every request it serves, headers
   * and body, in a queue for tests to take: a long run of the local cluster (a 1,000-job bench
   * serves hundreds of thousands of requests) held most of a gigabyte that way, and its collector's
   * pauses stalled every client. Each request served here takes one recorded request back out.
   */
  private static final class RecordlessWebServer extends MockWebServer {

    @Override
    public void setDispatcher(Dispatcher dispatcher) {
      super.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest request) {
          forgetOne();
          return dispatcher.dispatch(request);
        }

        @Override
        public void shutdown() {
          dispatcher.shutdown();
        }
      });
    }

    /** Nothing is kept to take: waiting for a request here would wait for ever. */
    @Override
    public RecordedRequest takeRequest() {
      throw new UnsupportedOperationException("the local API server keeps no record of the requests it serves");
    }

    private void forgetOne() {
      try {
        takeRequest(0, TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
