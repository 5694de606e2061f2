package dev.kiln.datajobs.fetch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A Hugging Face hub repository at a revision, reached the way {@code huggingface_hub} reaches
 * it: the file list (with sizes and LFS sha256) from {@code GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true},
 * each file from {@code {endpoint}/{repo}/resolve/{commit}/{path}} at the commit the revision
 * named when listed (so a branch that moves mid-fetch does not mix two commits), {@code HF_TOKEN}
 * as a bearer token to the hub only. Datasets are under {@code /api/datasets} and {@code /datasets/}.
 * Files land under {@code OUTPUT/NAME/}, NAME the repository's name in lower case (the folder
 * names Kiln's job examples give weights).
 */
record HubRepository(String name, URI endpoint, boolean dataset, String repo, String revision, String token)
    implements Source {

  static final String DEFAULT_ENDPOINT = "https://huggingface.co";
  private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");

  static HubRepository parse(String text, Map<String, String> environment) {
    String rest = text.substring("hf://".length());
    boolean dataset = false;
    if (rest.startsWith("datasets/")) {
      dataset = true;
      rest = rest.substring("datasets/".length());
    } else if (rest.startsWith("models/")) {
      rest = rest.substring("models/".length());
    }
    int at = rest.indexOf('@');
    String repo = at < 0 ? rest : rest.substring(0, at);
    String revision = at < 0 ? "main" : rest.substring(at + 1);
    if (repo.endsWith("/")) {
      repo = repo.substring(0, repo.length() - 1);
    }
    if (!REPO_ID.matcher(repo).matches()) {
      throw new IllegalArgumentException("expected hf://OWNER/REPO[@REVISION] or hf://datasets/OWNER/REPO[@REVISION]");
    }
    if (revision.isBlank()) {
      throw new IllegalArgumentException("an empty revision after @");
    }
    String endpoint = environment.getOrDefault("HF_ENDPOINT", "");
    URI base = URI.create((endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.strip()).replaceAll("/+$", ""));
    if (base.getHost() == null) {
      throw new IllegalArgumentException("HF_ENDPOINT " + endpoint + " is not a URL");
    }
    return new HubRepository(text, base, dataset, repo, revision, environment.get("HF_TOKEN"));
  }

  /** The folder under the output the repository's files land in. */
  String folder() {
    return repo.substring(repo.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
  }

  @Override
  public List<RemoteFile> files(FetchHttp http) {
    RequestAuth auth = RequestAuth.bearer(token, endpoint);
    URI api = URI.create(endpoint + "/api/" + (dataset ? "datasets/" : "models/") + repo + "/revision/"
        + quote(revision) + "?blobs=true");
    JsonNode info;
    try {
      info = new ObjectMapper().readTree(http.text(api, auth, Map.of("Accept", "application/json")));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new FetchFailure(ExitCodes.DATA, "the hub's answer from " + FetchHttp.printable(api) + " is not JSON");
    }
    String commit = info.path("sha").asText(revision);
    List<RemoteFile> files = new ArrayList<>();
    for (JsonNode sibling : info.path("siblings")) {
      String path = sibling.path("rfilename").asText("");
      if (!Source.isPlainRelativePath(path)) {
        throw new FetchFailure(ExitCodes.DATA, "the hub lists a file named '" + path + "', which cannot be a path under the output");
      }
      JsonNode lfs = sibling.path("lfs");
      long size = lfs.has("size") ? lfs.get("size").asLong() : sibling.path("size").asLong(-1);
      Checksum checksum = lfs.isObject() ? Checksum.sha256OrNull(lfs.path("sha256").asText(null))
          : Checksum.gitBlobOrNull(sibling.path("blobId").asText(null));
      URI resolve = URI.create(endpoint + (dataset ? "/datasets/" : "/") + repo + "/resolve/" + quote(commit) + "/"
          + quotePath(path));
      files.add(new RemoteFile(folder() + "/" + path, resolve, auth, size, checksum, LFS_ETAG));
    }
    if (files.isEmpty()) {
      throw new FetchFailure(ExitCodes.DATA, "the hub lists no files at revision " + revision);
    }
    return files;
  }

  /**
   * An LFS file's sha256 as the hub gives it on the resolve response (before any redirect to its
   * storage): {@code X-Linked-Etag}, else {@code ETag}; a git file's ETag is no sha256 and is left out.
   */
  static final Function<HttpHeaders, Checksum> LFS_ETAG = headers -> Checksum.sha256OrNull(etag(
      headers.firstValue("X-Linked-Etag").or(() -> headers.firstValue("ETag")).orElse(null)));

  private static String etag(String value) {
    if (value == null) {
      return null;
    }
    String tag = value.strip();
    if (tag.startsWith("W/")) {
      tag = tag.substring(2);
    }
    return tag.replace("\"", "");
  }

  private static String quote(String segment) {
    return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static String quotePath(String path) {
    StringBuilder out = new StringBuilder();
    for (String segment : path.split("/")) {
      out.append(out.isEmpty() ? "" : "/").append(quote(segment));
    }
    return out.toString();
  }
}
