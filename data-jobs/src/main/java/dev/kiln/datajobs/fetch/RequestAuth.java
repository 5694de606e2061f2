package dev.kiln.datajobs.fetch;

import java.net.URI;
import java.net.http.HttpRequest;
import java.util.Map;

/** Adds a source's credentials to one HTTP request; called again for every redirect hop and retry. */
interface RequestAuth {

  RequestAuth NONE = (request, method, uri, headers) -> {};

  /**
   * Sets the credentials on {@code request}, a {@code method} to {@code uri} that carries
   * {@code headers} (already set on it).
   */
  void authorize(HttpRequest.Builder request, String method, URI uri, Map<String, String> headers);

  /**
   * {@code Authorization: Bearer token} for requests to {@code server}'s host and port only: a
   * redirect to a CDN must not carry the token.
   */
  static RequestAuth bearer(String token, URI server) {
    if (token == null || token.isBlank()) {
      return NONE;
    }
    return (request, method, uri, headers) -> {
      if (server.getHost().equalsIgnoreCase(uri.getHost()) && port(server) == port(uri)) {
        request.header("Authorization", "Bearer " + token.strip());
      }
    };
  }

  private static int port(URI uri) {
    return uri.getPort() != -1 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
  }
}
