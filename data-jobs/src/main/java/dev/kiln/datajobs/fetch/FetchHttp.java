package dev.kiln.datajobs.fetch;

import dev.kiln.api.runconfig.ExitCodes;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP side of fetch: GET and HEAD with a source's credentials, redirects followed by hand (so
 * the first response's headers, where a hub puts a file's digest, stay readable and credentials
 * are set per hop), statuses sorted into failures a retry can fix ({@link Transient}: 5xx, 429,
 * 408, a dropped connection) and those it cannot ({@link FetchFailure}).
 */
final class FetchHttp implements AutoCloseable {

  private static final int MAX_REDIRECTS = 10;
  private static final Pattern JSON_ERROR = Pattern.compile("\"error\"\\s*:\\s*\"([^\"]{1,200})\"");

  private final HttpClient client;
  private final Retries retries;

  FetchHttp(Retries retries) {
    this.client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofSeconds(30)).build();
    this.retries = retries;
  }

  Retries retries() {
    return retries;
  }

  /** How many times a transient failure is tried again, and the wait before the first retry (doubling, at most 30 s). */
  record Retries(int attempts, Duration firstWait) {

    Duration waitBefore(int retry) {
      long millis = firstWait.toMillis() << Math.min(retry - 1, 16);
      return Duration.ofMillis(Math.min(millis, 30_000));
    }

    void sleepBefore(int retry) {
      try {
        Thread.sleep(waitBefore(retry));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new FetchFailure(ExitCodes.FAILURE, "interrupted");
      }
    }
  }

  /** A failure that may pass: the server was busy or the connection dropped. */
  static final class Transient extends IOException {
    Transient(String message) {
      super(message);
    }
  }

  /** A response after redirects: its status and headers, and the headers of the response to the URI first asked. */
  record Response(URI uri, int status, HttpHeaders headers, HttpHeaders firstHeaders, InputStream body)
      implements AutoCloseable {

    long contentLength() {
      return headers.firstValueAsLong("Content-Length").orElse(-1);
    }

    @Override
    public void close() throws IOException {
      body.close();
    }
  }

  /**
   * One request (no retry), following redirects; a 2xx or 416 comes back, anything else is thrown.
   *
   * @throws Transient for what a retry may fix
   * @throws FetchFailure for what it cannot
   */
  Response open(String method, URI uri, RequestAuth auth, Map<String, String> headers) throws IOException {
    URI current = uri;
    HttpHeaders first = null;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpRequest.Builder request = HttpRequest.newBuilder(current).method(method, HttpRequest.BodyPublishers.noBody())
          .timeout(Duration.ofMinutes(2)).header("Accept-Encoding", "identity");
      headers.forEach(request::header);
      auth.authorize(request, method, current, headers);
      HttpResponse<InputStream> response;
      try {
        response = client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      } catch (IOException e) {
        throw new Transient(describe(e) + " (" + printable(current) + ")");
      }
      if (first == null) {
        first = response.headers();
      }
      int status = response.statusCode();
      if (status >= 300 && status < 400 && response.headers().firstValue("Location").isPresent()) {
        response.body().close();
        current = current.resolve(response.headers().firstValue("Location").get());
        continue;
      }
      if (status / 100 == 2 || status == 416) {
        return new Response(current, status, response.headers(), first, response.body());
      }
      String detail = errorDetail(response);
      String what = "HTTP " + status + " from " + printable(current) + detail;
      if (status >= 500 || status == 429 || status == 408) {
        throw new Transient(what);
      }
      throw switch (status) {
        case 404, 410 -> FetchFailure.notFound("not found (" + what + ")");
        case 401, 403 -> FetchFailure.denied("access denied (" + what + "): check the credentials");
        default -> new FetchFailure(ExitCodes.DATA, what);
      };
    }
    throw new FetchFailure(ExitCodes.DATA, "more than " + MAX_REDIRECTS + " redirects from " + printable(uri));
  }

  /** The whole body of a small response (a listing), retried like a download. */
  String text(URI uri, RequestAuth auth, Map<String, String> headers) {
    for (int attempt = 1; ; attempt++) {
      try (Response response = open("GET", uri, auth, headers)) {
        return new String(response.body().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        if (attempt >= retries.attempts()) {
          throw new FetchFailure(ExitCodes.FAILURE, describe(e) + " (" + attempt + " attempts)");
        }
        retries.sleepBefore(attempt);
      }
    }
  }

  /** The headers of a HEAD request, retried like a download. */
  HttpHeaders head(URI uri, RequestAuth auth, Map<String, String> headers) {
    for (int attempt = 1; ; attempt++) {
      try (Response response = open("HEAD", uri, auth, headers)) {
        return response.headers();
      } catch (IOException e) {
        if (attempt >= retries.attempts()) {
          throw new FetchFailure(ExitCodes.FAILURE, describe(e) + " (" + attempt + " attempts)");
        }
        retries.sleepBefore(attempt);
      }
    }
  }

  @Override
  public void close() {
    client.close();
  }

  /** A URI fit for a message: no query (a presigned URL's query is a credential). */
  static String printable(URI uri) {
    return uri.getScheme() + "://" + uri.getRawAuthority() + (uri.getRawPath() == null ? "" : uri.getRawPath());
  }

  static String describe(IOException e) {
    String message = e.getMessage();
    String kind = e.getClass().getSimpleName();
    return message == null || message.isBlank() ? kind : message.lines().findFirst().orElse(kind);
  }

  /** What an error body says, when it is short: S3's XML {@code <Code>}, a hub's JSON {@code error}, a line of text. */
  private static String errorDetail(HttpResponse<InputStream> response) {
    try (InputStream body = response.body()) {
      byte[] bytes = body.readNBytes(300);
      String text = new String(bytes, StandardCharsets.UTF_8).strip();
      int code = text.indexOf("<Code>");
      if (code >= 0 && text.indexOf("</Code>", code) > 0) {
        return ": " + text.substring(code + 6, text.indexOf("</Code>", code));
      }
      Matcher error = JSON_ERROR.matcher(text);
      if (error.find()) {
        return ": " + error.group(1);
      }
      String line = text.lines().findFirst().orElse("");
      return line.isEmpty() || line.startsWith("<") ? "" : ": " + (line.length() > 160 ? line.substring(0, 160) + "..." : line);
    } catch (IOException e) {
      return "";
    }
  }
}
