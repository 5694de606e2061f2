package dev.kiln.datajobs.fetch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A loopback server shaped like the Hugging Face hub: {@code /api/{models|datasets}/{repo}/revision/{rev}}
 * answers the file list ({@code sha}, {@code siblings} with sizes, blob ids and LFS sha256),
 * {@code /[datasets/]{repo}/resolve/{commit}/{path}} answers a git file itself (ETag: its blob id)
 * and redirects an LFS file (X-Linked-Etag: its sha256) to a second server standing in for the
 * CDN, which honours ranges and can be told to cut transfers short or answer 503.
 */
final class FakeHub implements AutoCloseable {

  static final String COMMIT = "4f1c0a9e2b7d3c5a6e8f9012a3b4c5d6e7f80911";

  /** A file of a repository; {@code lfs} ones are served by the CDN. */
  record File(String path, byte[] content, boolean lfs) {}

  /** A repository as the hub lists it; {@code listsDigests} false leaves sizes and digests out of the list. */
  record Repo(String kind, String id, String revision, List<File> files, boolean listsDigests,
      Map<String, String> wrongDigests) {}

  final HttpServer hub;
  final HttpServer cdn;
  final Map<String, Repo> repos = new ConcurrentHashMap<>();
  final Map<String, byte[]> corruptOnCdn = new ConcurrentHashMap<>();
  final List<String> requests = new CopyOnWriteArrayList<>();
  /** Bytes the CDN sends of each of its next responses before dropping the connection (consumed in order). */
  final List<Integer> cuts = new CopyOnWriteArrayList<>();
  final AtomicInteger unavailable = new AtomicInteger();
  /** Sizes the file list gives instead of the true ones, by path. */
  final Map<String, Long> listedSizes = new ConcurrentHashMap<>();

  FakeHub() throws IOException {
    InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    hub = HttpServer.create(loopback, 0);
    cdn = HttpServer.create(loopback, 0);
    hub.createContext("/", this::hub);
    cdn.createContext("/", this::cdn);
    hub.start();
    cdn.start();
  }

  String endpoint() {
    return "http://127.0.0.1:" + hub.getAddress().getPort();
  }

  void add(Repo repo) {
    repos.put(repo.kind() + "/" + repo.id(), repo);
  }

  static File git(String path, String content) {
    return new File(path, content.getBytes(StandardCharsets.UTF_8), false);
  }

  static File lfs(String path, byte[] content) {
    return new File(path, content, true);
  }

  static String sha256(byte[] content) {
    return digest("SHA-256", new byte[0], content);
  }

  static String gitBlobId(byte[] content) {
    return digest("SHA-1", ("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII), content);
  }

  private static String digest(String algorithm, byte[] header, byte[] content) {
    try {
      MessageDigest digest = MessageDigest.getInstance(algorithm);
      digest.update(header);
      return HexFormat.of().formatHex(digest.digest(content));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final Pattern API = Pattern.compile("/api/(models|datasets)/(.+)/revision/([^/]+)");
  private static final Pattern RESOLVE = Pattern.compile("/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)");

  private void hub(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      requests.add("hub " + exchange.getRequestMethod() + " " + exchange.getRequestURI() + " auth="
          + exchange.getRequestHeaders().getFirst("Authorization"));
      Matcher api = API.matcher(path);
      Matcher resolve = RESOLVE.matcher(path);
      if (api.matches()) {
        Repo repo = repos.get(api.group(1) + "/" + api.group(2));
        if (repo == null || !repo.revision().equals(api.group(3))) {
          send(exchange, 404, Map.of(), "{\"error\":\"Repository not found\"}".getBytes(StandardCharsets.UTF_8));
          return;
        }
        send(exchange, 200, Map.of("Content-Type", "application/json"), listing(repo));
      } else if (resolve.matches()) {
        Repo repo = repos.get((resolve.group(1) != null ? "datasets" : "models") + "/" + resolve.group(2));
        File file = repo == null || !resolve.group(3).equals(COMMIT) ? null
            : repo.files().stream().filter(f -> f.path().equals(resolve.group(4))).findFirst().orElse(null);
        if (file == null || file.path().contains("missing")) {
          send(exchange, 404, Map.of("X-Error-Code", "EntryNotFound"), "{\"error\":\"Entry not found\"}".getBytes(StandardCharsets.UTF_8));
          return;
        }
        String sha256 = repo.wrongDigests().getOrDefault(file.path(), sha256(file.content()));
        if (file.lfs()) {
          exchange.getResponseHeaders().add("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/blobs/" + sha256(file.content()));
          exchange.getResponseHeaders().add("X-Linked-Etag", "\"" + sha256 + "\"");
          exchange.getResponseHeaders().add("X-Linked-Size", String.valueOf(file.content().length));
          exchange.getResponseHeaders().add("X-Repo-Commit", COMMIT);
          exchange.getResponseHeaders().add("ETag", "W/\"" + gitBlobId("pointer".getBytes(StandardCharsets.UTF_8)) + "\"");
          exchange.sendResponseHeaders(302, -1);
        } else {
          send(exchange, 200, Map.of("ETag", "\"" + gitBlobId(file.content()) + "\"", "X-Repo-Commit", COMMIT), file.content());
        }
      } else {
        send(exchange, 404, Map.of(), new byte[0]);
      }
    }
  }

  private byte[] listing(Repo repo) throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode info = mapper.createObjectNode().put("id", repo.id()).put("sha", COMMIT);
    ArrayNode siblings = info.putArray("siblings");
    for (File file : repo.files()) {
      ObjectNode sibling = siblings.addObject().put("rfilename", file.path());
      if (repo.listsDigests()) {
        String sha256 = repo.wrongDigests().getOrDefault(file.path(), sha256(file.content()));
        sibling.put("size", file.lfs() ? 134 : file.content().length);
        sibling.put("blobId", file.lfs() ? gitBlobId("pointer".getBytes(StandardCharsets.UTF_8)) : gitBlobId(file.content()));
        if (file.lfs()) {
          long size = listedSizes.getOrDefault(file.path(), (long) file.content().length);
          sibling.putObject("lfs").put("sha256", sha256).put("size", size).put("pointerSize", 134);
        }
      }
    }
    return mapper.writeValueAsBytes(info);
  }

  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

  private void cdn(HttpExchange exchange) throws IOException {
    try (exchange) {
      String range = exchange.getRequestHeaders().getFirst("Range");
      requests.add("cdn " + exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " range=" + range
          + " auth=" + exchange.getRequestHeaders().getFirst("Authorization"));
      if (unavailable.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        send(exchange, 503, Map.of(), "<Error><Code>SlowDown</Code></Error>".getBytes(StandardCharsets.UTF_8));
        return;
      }
      String sha256 = exchange.getRequestURI().getPath().substring("/blobs/".length());
      byte[] content = repos.values().stream().flatMap(r -> r.files().stream()).map(File::content)
          .filter(c -> sha256(c).equals(sha256)).findFirst().orElse(null);
      if (content == null) {
        send(exchange, 404, Map.of(), new byte[0]);
        return;
      }
      content = corruptOnCdn.getOrDefault(sha256, content);
      int from = 0;
      Matcher m = range == null ? null : RANGE.matcher(range);
      Map<String, String> headers = new LinkedHashMap<>(Map.of("ETag", "\"cdn-etag\"", "Accept-Ranges", "bytes"));
      int status = 200;
      if (m != null && m.matches()) {
        from = Integer.parseInt(m.group(1));
        if (from >= content.length) {
          send(exchange, 416, Map.of("Content-Range", "bytes */" + content.length), new byte[0]);
          return;
        }
        status = 206;
        headers.put("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
      }
      byte[] body = java.util.Arrays.copyOfRange(content, from, content.length);
      if (!cuts.isEmpty()) {
        int cut = Math.min(cuts.removeFirst(), body.length);
        headers.forEach(exchange.getResponseHeaders()::add);
        exchange.sendResponseHeaders(status, body.length);
        OutputStream out = exchange.getResponseBody();
        out.write(body, 0, cut);
        out.flush();
        // Closing with bytes still owed drops the connection: the client sees the transfer end early.
        return;
      }
      send(exchange, status, headers, body);
    }
  }

  private static void send(HttpExchange exchange, int status, Map<String, String> headers, byte[] body) throws IOException {
    headers.forEach(exchange.getResponseHeaders()::add);
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
    if (!head && body.length > 0) {
      exchange.getResponseBody().write(body);
    }
  }

  @Override
  public void close() {
    hub.stop(0);
    cdn.stop(0);
  }
}
