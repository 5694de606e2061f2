package dev.kiln.datajobs.fetch;

import java.util.List;
import java.util.Map;

/** Where files come from: a hub repository, S3 objects, or one URL. */
interface Source {

  /** The source as the user wrote it. */
  String name();

  /** The files to fetch, with the paths they get under the output folder. */
  List<RemoteFile> files(FetchHttp http);

  /**
   * Reads {@code hf://[datasets/]OWNER/REPO[@REVISION]}, {@code s3://BUCKET/KEY} (or {@code
   * s3://BUCKET/PREFIX/}), or an {@code http(s)://} URL with an optional {@code #sha256=HEX};
   * settings and credentials come from {@code environment}.
   *
   * @throws IllegalArgumentException saying what is wrong with {@code text}
   */
  static Source parse(String text, Map<String, String> environment) {
    int colon = text.indexOf("://");
    String scheme = colon > 0 ? text.substring(0, colon) : "";
    return switch (scheme) {
      case "hf" -> HubRepository.parse(text, environment);
      case "s3" -> S3Objects.parse(text, environment);
      case "http", "https" -> UrlFile.parse(text);
      default -> throw new IllegalArgumentException(
          "not a source: expected hf://OWNER/REPO[@REVISION], s3://BUCKET/KEY, s3://BUCKET/PREFIX/ or https://HOST/PATH");
    };
  }

  /** Whether {@code path} (from a listing) stays inside the folder it is resolved against. */
  static boolean isPlainRelativePath(String path) {
    if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || path.contains("\0")) {
      return false;
    }
    for (String segment : path.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return false;
      }
    }
    return true;
  }
}
