package dev.kiln.trainer.parallel;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The key-value store ranks meet through, as torch.distributed's TCPStore: rank 0 serves it on
 * {@code MASTER_PORT}; every rank (rank 0 too) is a client. Clients retry with backoff while the
 * headless Service's DNS record and the listener come up, and give up after a timeout with
 * {@link RendezvousTimeoutException} (a retryable failure: the operator starts a new attempt).
 * Protocol, one line each: {@code SET key value} → {@code OK}; {@code GET key} → the value, once set.
 */
public final class RendezvousStore implements AutoCloseable {

  /** The store did not answer, or a key was not set, in time. */
  public static final class RendezvousTimeoutException extends IOException {
    public RendezvousTimeoutException(String message) {
      super(message);
    }
  }

  private final Socket socket;
  private final BufferedReader in;
  private final PrintWriter out;
  private final Server server;
  private final Duration timeout;

  private RendezvousStore(Socket socket, Server server, Duration timeout) throws IOException {
    this.socket = socket;
    this.server = server;
    this.timeout = timeout;
    // Every wait is bounded: a peer whose pod never starts must not hold this rank forever.
    socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis())));
    this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    this.out = new PrintWriter(socket.getOutputStream(), true, StandardCharsets.UTF_8);
  }

  /** Rank 0: serves the store on {@code port} (0: any free port) of every address, and connects to it. */
  public static RendezvousStore serve(int port, Duration timeout) throws IOException {
    return serve(null, port, timeout);
  }

  /**
   * Rank 0: serves the store on {@code address:port} (the pod IP, so that two pods sharing a host's
   * loopback do not meet; every address when null) and connects to it.
   */
  public static RendezvousStore serve(String address, int port, Duration timeout) throws IOException {
    Server server = new Server(address, port);
    try {
      return new RendezvousStore(connect(address != null ? address : "127.0.0.1", server.port(), timeout), server, timeout);
    } catch (IOException e) {
      server.close();
      throw e;
    }
  }

  /** Any other rank: connects to the store at {@code host:port}, retrying until {@code timeout}. */
  public static RendezvousStore join(String host, int port, Duration timeout) throws IOException {
    return new RendezvousStore(connect(host, port, timeout), null, timeout);
  }

  private static Socket connect(String host, int port, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long backoffMillis = 50;
    IOException last = null;
    while (System.nanoTime() < deadline) {
      Socket socket = new Socket();
      try {
        socket.connect(new InetSocketAddress(host, port), 2000);
        socket.setTcpNoDelay(true);
        return socket;
      } catch (IOException e) {  // DNS not there yet, nobody listening yet: both pass
        last = e;
        socket.close();
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          break;
        }
        backoffMillis = Math.min(2000, backoffMillis * 2);
      }
    }
    throw new RendezvousTimeoutException("rendezvous: no store at " + host + ":" + port + " after " + timeout.toSeconds()
        + " s (" + (last == null ? "interrupted" : last.getMessage()) + ")");
  }

  /** The port the store listens on (rank 0 only). */
  public int port() {
    return server.port();
  }

  public synchronized void set(String key, String value) throws IOException {
    out.println("SET " + key + " " + value);
    expect("OK");
  }

  /** The value of {@code key}, waiting until some rank sets it. */
  public synchronized String get(String key) throws IOException {
    out.println("GET " + key);
    String line;
    try {
      line = in.readLine();
    } catch (SocketTimeoutException e) {
      throw new RendezvousTimeoutException("rendezvous: waited " + timeout.toMillis() / 1000.0 + " s for " + key
          + ", which a rank that has not arrived would set (its pod may be Pending: no room, an image it cannot"
          + " pull, a quota)");
    }
    if (line == null) {
      throw new IOException("rendezvous: the store closed the connection");
    }
    return line;
  }

  private void expect(String reply) throws IOException {
    String line = in.readLine();
    if (!reply.equals(line)) {
      throw new IOException("rendezvous: the store answered " + line + " instead of " + reply);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
    if (server != null) {
      server.close();
    }
  }

  /** The store itself: one thread per client; GET blocks until the key is set. */
  static final class Server implements AutoCloseable {
    private final ServerSocket listener;
    private final Map<String, String> values = new ConcurrentHashMap<>();

    Server(String address, int port) throws IOException {
      listener = new ServerSocket();
      listener.setReuseAddress(true);
      listener.bind(address != null ? new InetSocketAddress(address, port) : new InetSocketAddress(port));
      Thread.ofPlatform().daemon().name("rendezvous-store").start(this::accept);
    }

    int port() {
      return listener.getLocalPort();
    }

    private void accept() {
      while (!listener.isClosed()) {
        try {
          Socket client = listener.accept();
          Thread.ofPlatform().daemon().name("rendezvous-client").start(() -> serve(client));
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket client) {
      try (client;
          BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
          PrintWriter out = new PrintWriter(client.getOutputStream(), true, StandardCharsets.UTF_8)) {
        String line;
        while ((line = in.readLine()) != null) {
          String[] parts = line.split(" ", 3);
          if (parts[0].equals("SET") && parts.length == 3) {
            synchronized (values) {
              values.put(parts[1], parts[2]);
              values.notifyAll();
            }
            out.println("OK");
          } else if (parts[0].equals("GET") && parts.length == 2) {
            String value;
            synchronized (values) {
              while ((value = values.get(parts[1])) == null) {
                values.wait();
              }
            }
            out.println(value);
          } else {
            out.println("ERROR unknown command");
          }
        }
      } catch (IOException | InterruptedException e) {
        // The client went away; its rank's failure is reported by its own process.
      }
    }

    @Override
    public void close() throws IOException {
      listener.close();
    }
  }
}
