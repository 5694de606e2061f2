package dev.kiln.images.registry;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The CNCF Distribution registry (Debian's {@code docker-registry}) serving plain HTTP on a free loopback
 * port, its storage in a folder of the test: the registry a user pushes to, without TLS or credentials.
 */
final class LocalRegistry implements AutoCloseable {

  static final Path BINARY = Path.of("/usr/bin/docker-registry");
  private static final Duration STARTUP = Duration.ofSeconds(30);

  private final Process process;
  private final Path log;
  private final String address;

  private LocalRegistry(Process process, Path log, String address) {
    this.process = process;
    this.log = log;
    this.address = address;
  }

  /** Starts the registry and returns once {@code GET /v2/} answers; fails, naming the package, without the binary. */
  static LocalRegistry start(Path folder) throws IOException, InterruptedException {
    if (!Files.isExecutable(BINARY)) {
      fail("no registry at " + BINARY + ": .ci/run installs Debian's docker-registry package "
          + "(apt-get install docker-registry); the publish test needs it");
    }
    Files.createDirectories(folder.resolve("storage"));
    String address = "127.0.0.1:" + freePort();
    Path config = Files.writeString(folder.resolve("config.yml"), """
        version: 0.1
        log:
          level: warn
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: %s
        http:
          addr: %s
        """.formatted(folder.resolve("storage").toAbsolutePath(), address));
    Path log = folder.resolve("registry.log");
    Process process = new ProcessBuilder(BINARY.toString(), "serve", config.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    LocalRegistry registry = new LocalRegistry(process, log, address);
    HttpClient http = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + STARTUP.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        fail("the registry exited with " + process.exitValue() + ":\n" + Files.readString(log));
      }
      try {
        HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create("http://" + address + "/v2/"))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
        if (response.statusCode() == 200) {
          return registry;
        }
      } catch (IOException notYetListening) {
        Thread.sleep(100);
      }
    }
    registry.close();
    return fail("the registry did not answer on " + address + " within " + STARTUP.toSeconds() + " s:\n" + Files.readString(log));
  }

  /** host:port, what image references and {@code oci://} URLs start with. */
  String address() {
    return address;
  }

  String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
