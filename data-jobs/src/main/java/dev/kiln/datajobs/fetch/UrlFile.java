package dev.kiln.datajobs.fetch;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** One file at an {@code http(s)://} URL, kept under its file name; {@code #sha256=HEX} names its digest. */
record UrlFile(String name, URI uri, Checksum checksum) implements Source {

  static UrlFile parse(String text) {
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not a URL: " + e.getReason());
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("a URL needs a host");
    }
    Checksum checksum = null;
    if (uri.getRawFragment() != null) {
      String fragment = uri.getRawFragment();
      checksum = fragment.startsWith("sha256=") ? Checksum.sha256OrNull(fragment.substring(7)) : null;
      if (checksum == null) {
        throw new IllegalArgumentException("the only fragment a URL may carry is #sha256= and 64 hex digits");
      }
    }
    URI withoutFragment = URI.create(text.substring(0, text.indexOf('#') < 0 ? text.length() : text.indexOf('#')));
    if (fileName(withoutFragment).isEmpty()) {
      throw new IllegalArgumentException("a URL must end in a file name");
    }
    return new UrlFile(text, withoutFragment, checksum);
  }

  private static String fileName(URI uri) {
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    String last = path.substring(path.lastIndexOf('/') + 1);
    return URLDecoder.decode(last.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  @Override
  public List<RemoteFile> files(FetchHttp http) {
    String path = fileName(uri);
    if (!Source.isPlainRelativePath(path)) {
      throw new IllegalArgumentException("the URL's file name " + path + " is not one a file can have");
    }
    long size = -1;
    try {
      size = http.head(uri, RequestAuth.NONE, Map.of()).firstValueAsLong("Content-Length").orElse(-1);
    } catch (FetchFailure e) {
      // Only a hint: some servers refuse HEAD, and a presigned URL is signed for GET alone. The GET says what is wrong.
    }
    return List.of(new RemoteFile(path, uri, RequestAuth.NONE, size, checksum, RemoteFile.NO_CHECKSUM_IN_RESPONSE));
  }
}
