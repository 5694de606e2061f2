package dev.kiln.datajobs.fetch;

import dev.kiln.api.Canonical;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * AWS Signature Version 4 for S3 requests without a body (GET, HEAD): the canonical request (the
 * path as sent, the query sorted and encoded per RFC 3986, every header sent but the ones the HTTP
 * client sets itself), the string to sign, the key derived from the secret for the date, region
 * and {@code s3}, and the {@code Authorization} header.
 */
record SigV4Signer(String accessKeyId, String secretAccessKey, String sessionToken, String region, Clock clock)
    implements RequestAuth {

  static final String EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  @Override
  public void authorize(HttpRequest.Builder request, String method, URI uri, Map<String, String> headers) {
    Map<String, String> signed = signedHeaders(method, uri, headers, STAMP.format(clock.instant()));
    signed.forEach((name, value) -> {
      if (!name.equals("host") && !headers.containsKey(name)) {
        request.header(name, value);
      }
    });
  }

  /**
   * The headers to add to a request ({@code x-amz-date}, {@code x-amz-content-sha256}, the session
   * token, {@code Authorization}), given the ones it carries, at {@code amzDate} (yyyyMMddTHHmmssZ).
   */
  Map<String, String> signedHeaders(String method, URI uri, Map<String, String> headers, String amzDate) {
    TreeMap<String, String> canonical = new TreeMap<>();
    headers.forEach((name, value) -> canonical.put(name.toLowerCase(Locale.ROOT), value.strip().replaceAll("\\s+", " ")));
    canonical.put("host", host(uri));
    canonical.put("x-amz-date", amzDate);
    canonical.put("x-amz-content-sha256", EMPTY_BODY_SHA256);
    if (sessionToken != null && !sessionToken.isBlank()) {
      canonical.put("x-amz-security-token", sessionToken);
    }
    String signedNames = String.join(";", canonical.keySet());
    StringBuilder request = new StringBuilder()
        .append(method).append('\n')
        .append(uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath()).append('\n')
        .append(canonicalQuery(uri.getRawQuery())).append('\n');
    canonical.forEach((name, value) -> request.append(name).append(':').append(value).append('\n'));
    request.append('\n').append(signedNames).append('\n').append(EMPTY_BODY_SHA256);

    String date = amzDate.substring(0, 8);
    String scope = date + "/" + region + "/s3/aws4_request";
    String stringToSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + Canonical.sha256(request.toString().getBytes(StandardCharsets.UTF_8));
    byte[] key = hmac(("AWS4" + secretAccessKey).getBytes(StandardCharsets.UTF_8), date);
    key = hmac(key, region);
    key = hmac(key, "s3");
    key = hmac(key, "aws4_request");
    String signature = HexFormat.of().formatHex(hmac(key, stringToSign));

    TreeMap<String, String> added = new TreeMap<>(canonical);
    added.keySet().removeAll(headers.keySet().stream().map(n -> n.toLowerCase(Locale.ROOT)).toList());
    added.put("authorization", "AWS4-HMAC-SHA256 Credential=" + accessKeyId + "/" + scope + ",SignedHeaders="
        + signedNames + ",Signature=" + signature);
    return added;
  }

  /** The Host header the JDK's client sends: the port only when it is not the scheme's default. */
  private static String host(URI uri) {
    int port = uri.getPort();
    boolean defaultPort = port == -1 || (port == 443 && "https".equals(uri.getScheme()))
        || (port == 80 && "http".equals(uri.getScheme()));
    return uri.getHost().toLowerCase(Locale.ROOT) + (defaultPort ? "" : ":" + port);
  }

  private static String canonicalQuery(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return "";
    }
    List<String[]> pairs = new ArrayList<>();
    for (String pair : rawQuery.split("&")) {
      int eq = pair.indexOf('=');
      String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      pairs.add(new String[] {encode(name), encode(value)});
    }
    pairs.sort((a, b) -> a[0].equals(b[0]) ? a[1].compareTo(b[1]) : a[0].compareTo(b[0]));
    StringBuilder out = new StringBuilder();
    for (String[] pair : pairs) {
      out.append(out.isEmpty() ? "" : "&").append(pair[0]).append('=').append(pair[1]);
    }
    return out.toString();
  }

  /** RFC 3986 percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and '/' where {@code keepSlash}). */
  static String encode(String text, boolean keepSlash) {
    StringBuilder out = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
          || c == '~' || (keepSlash && c == '/')) {
        out.append(c);
      } else {
        out.append('%').append(String.format("%02X", b & 0xff));
      }
    }
    return out.toString();
  }

  static String encode(String text) {
    return encode(text, false);
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every JDK has HmacSHA256", e);
    }
  }

  @Override
  public String toString() {
    return "SigV4Signer[" + accessKeyId + ", " + region + "]";  // never the secret
  }
}
