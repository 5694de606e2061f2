package dev.kiln.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Faults the local API server injects into the requests of the clients a test or benchmark
 * chooses (by User-Agent), on a seeded schedule: what a real API server does under load or during
 * an upgrade. Each request is faulted with the schedule's probability; the kind is the next in
 * turn of those that fit the request. Open watches are ended on demand with the error a real
 * API server sends when their resourceVersion has been compacted away (410 Expired), so the
 * client's informers must list again. Optimistic locking needs no injection: the store refuses a
 * write carrying a stale resourceVersion with 409 under its own write lock, as etcd's
 * compare-and-swap does.
 */
public final class ApiFaults implements AutoCloseable {

  /** What goes wrong with one request or watch. */
  public enum Kind {
    /** 500 InternalError; nothing was done. */
    SERVER_ERROR,
    /** 503 ServiceUnavailable; nothing was done (an API server restarting behind its load balancer). */
    UNAVAILABLE,
    /** 429 TooManyRequests with Retry-After (API Priority and Fairness shedding load); nothing was done. */
    TOO_MANY_REQUESTS,
    /** Done, but answered only after the client has given up waiting: a write the client cannot know took effect. */
    SLOW,
    /** 409 Conflict to an update carrying a resourceVersion, as when another writer got there first. */
    CONFLICT,
    /** An open watch ended with 410 Expired: the client must list again. */
    WATCH_EXPIRED
  }

  /**
   * When and how: requests from clients whose User-Agent starts with {@code agentPrefix} are
   * faulted with probability {@code rate} (kinds in turn from {@code kinds}; a slow answer comes
   * {@code slowBy} late); their open watches end when {@link #expireWatches} says.
   */
  public record Schedule(long seed, String agentPrefix, double rate, List<Kind> kinds, Duration slowBy) {

    public Schedule {
      if (rate < 0 || rate > 1) {
        throw new IllegalArgumentException("rate must be between 0 and 1, not " + rate);
      }
      kinds = List.copyOf(kinds);
    }

    /** Every kind of fault, for the clients whose User-Agent starts with {@code agentPrefix}. */
    public static Schedule everyKind(long seed, String agentPrefix, double rate, Duration slowBy) {
      return new Schedule(seed, agentPrefix, rate, List.of(Kind.values()), slowBy);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Schedule schedule;
  private final Random random;
  private int turn;
  private int updateTurn;
  private final Map<Kind, AtomicLong> injected = new EnumMap<>(Kind.class);
  private final Set<WebSocket> openWatches = ConcurrentHashMap.newKeySet();
  /** Collections whose watch was ended, and lists of them since: the relists that a watch's end forced. */
  private final Set<String> expiredCollections = ConcurrentHashMap.newKeySet();
  private final AtomicLong relists = new AtomicLong();
  private volatile boolean closed;

  ApiFaults(Schedule schedule) {
    this.schedule = schedule;
    this.random = new Random(schedule.seed());
    for (Kind kind : Kind.values()) {
      injected.put(kind, new AtomicLong());
    }
  }

  public Schedule schedule() {
    return schedule;
  }

  /** How many faults of each kind were injected so far. */
  public Map<Kind, Long> injected() {
    Map<Kind, Long> counts = new EnumMap<>(Kind.class);
    injected.forEach((kind, count) -> counts.put(kind, count.get()));
    return counts;
  }

  /** Lists, by the faulted clients, of a collection whose watch had been ended: proof that their informers relisted. */
  public long relists() {
    return relists.get();
  }

  /** Stops injecting; watches opened since stay open. */
  @Override
  public void close() {
    closed = true;
  }

  boolean targets(String agent) {
    return !closed && agent.startsWith(schedule.agentPrefix());
  }

  /**
   * The fault for one request, if it gets one. {@code update} says it is a PUT carrying a
   * resourceVersion, the only request a conflict can answer.
   */
  synchronized Optional<Kind> next(String method, String path, boolean update) {
    if ("GET".equals(method) && expiredCollections.contains(collection(path))) {
      relists.incrementAndGet();
    }
    List<Kind> fitting = schedule.kinds().stream()
        .filter(kind -> kind != Kind.WATCH_EXPIRED && (kind != Kind.CONFLICT || update)).toList();
    if (fitting.isEmpty() || random.nextDouble() >= schedule.rate()) {
      return Optional.empty();
    }
    // An update is rarer than a read: half of its faults are the conflict only it can get.
    Kind kind = update && fitting.contains(Kind.CONFLICT) && updateTurn++ % 2 == 0 ? Kind.CONFLICT
        : fitting.get(turn++ % fitting.size());
    injected.get(kind).incrementAndGet();
    return Optional.of(kind);
  }

  /** A watch's upgrade, its socket followed so that it can be ended. */
  MockResponse watched(MockResponse upgrade, String path) {
    WebSocketListener inner = upgrade.getWebSocketListener();
    if (inner == null) {
      return upgrade;
    }
    return new MockResponse().withWebSocketUpgrade(new TrackedWatch(inner, collection(path)));
  }

  /**
   * Ends every open watch of the faulted clients with 410 Expired, as a real API server ends a
   * compacted one, at the moment the test or benchmark chooses (a timer would miss the watches of
   * an operator that restarts every few seconds); returns how many it ended.
   */
  public int expireWatches() {
    int ended = 0;
    for (WebSocket socket : List.copyOf(openWatches)) {
      openWatches.remove(socket);
      ObjectNode event = JSON.createObjectNode().put("type", "ERROR");
      event.putObject("object").put("kind", "Status").put("apiVersion", "v1").put("status", "Failure")
          .put("message", "too old resource version: 1 (2)").put("reason", "Expired").put("code", 410)
          .putObject("metadata");
      try {
        expiredCollections.add(collection(socket.request().getPath()));
        socket.send(event.toString());
        socket.close(1000, "watch expired");
        injected.get(Kind.WATCH_EXPIRED).incrementAndGet();
        ended++;
      } catch (RuntimeException closedMeanwhile) {
        // its client went away (an operator killed) before it could be ended: nothing to expire
      }
    }
    return ended;
  }

  private static String collection(String path) {
    return path.replaceFirst("\\?.*", "");
  }

  /** The store's watch listener, with its socket kept while it is open. */
  private final class TrackedWatch extends WebSocketListener {
    private final WebSocketListener inner;
    private final String collection;

    TrackedWatch(WebSocketListener inner, String collection) {
      this.inner = inner;
      this.collection = collection;
    }

    @Override
    public void onBeforeAccept(WebSocket webSocket, Response response) {
      inner.onBeforeAccept(webSocket, response);
    }

    @Override
    public void onOpen(WebSocket webSocket, Response response) {
      openWatches.add(webSocket);
      inner.onOpen(webSocket, response);
    }

    @Override
    public void onMessage(WebSocket webSocket, String text) {
      inner.onMessage(webSocket, text);
    }

    @Override
    public void onMessage(WebSocket webSocket, byte[] bytes) {
      inner.onMessage(webSocket, bytes);
    }

    @Override
    public void onClosing(WebSocket webSocket, int code, String reason) {
      openWatches.remove(webSocket);
      inner.onClosing(webSocket, code, reason);
    }

    @Override
    public void onClosed(WebSocket webSocket, int code, String reason) {
      openWatches.remove(webSocket);
      inner.onClosed(webSocket, code, reason);
    }

    @Override
    public void onFailure(WebSocket webSocket, Throwable error, Response response) {
      openWatches.remove(webSocket);
      inner.onFailure(webSocket, error, response);
    }

    @Override
    public String toString() {
      return "watch of " + collection;
    }
  }
}
