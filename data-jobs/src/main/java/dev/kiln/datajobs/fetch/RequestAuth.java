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

  /** {@code Authorization: Bearer token} for requests to {@code host} only: a redirect to a CDN must not carry the token. */
  static RequestAuth bearer(String token, String host) {
    if (token == null || token.isBlank()) {
      return NONE;
    }
    return (request, method, uri, headers) -> {
      if (host.equalsIgnoreCase(uri.getHost())) {
        request.header("Authorization", "Bearer " + token.strip());
      }
    };
  }
}
