package dev.kiln.datajobs.fetch;

import dev.kiln.api.runconfig.ExitCodes;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.SAXException;

/**
 * One S3 object ({@code s3://BUCKET/KEY}, kept under its last name) or every object under a prefix
 * ({@code s3://BUCKET/PREFIX/}, kept by key relative to the prefix), path-style at
 * {@code AWS_ENDPOINT_URL_S3} or {@code AWS_ENDPOINT_URL} (else AWS in {@code AWS_REGION}), listed
 * with ListObjectsV2 and signed with {@link SigV4Signer}; anonymous without {@code
 * AWS_ACCESS_KEY_ID}. Each object's HEAD asks for its {@code x-amz-checksum-sha256}, checked when the
 * store has a whole-object one.
 */
record S3Objects(String name, URI endpoint, String bucket, String key, RequestAuth auth) implements Source {

  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  private static final Map<String, String> CHECKSUM_MODE = Map.of("x-amz-checksum-mode", "ENABLED");

  static S3Objects parse(String text, Map<String, String> environment) {
    String rest = text.substring("s3://".length());
    int slash = rest.indexOf('/');
    String bucket = slash < 0 ? rest : rest.substring(0, slash);
    String key = slash < 0 ? "" : rest.substring(slash + 1);
    if (!BUCKET.matcher(bucket).matches()) {
      throw new IllegalArgumentException("'" + bucket + "' is not an S3 bucket name");
    }
    String region = first(environment, "AWS_REGION", "AWS_DEFAULT_REGION", "us-east-1");
    String endpoint = first(environment, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "https://s3." + region + ".amazonaws.com");
    URI base = URI.create(endpoint.strip().replaceAll("/+$", ""));
    if (base.getHost() == null) {
      throw new IllegalArgumentException("the S3 endpoint " + endpoint + " is not a URL");
    }
    String accessKey = environment.get("AWS_ACCESS_KEY_ID");
    RequestAuth auth = accessKey == null || accessKey.isBlank() ? RequestAuth.NONE
        : new SigV4Signer(accessKey.strip(), environment.getOrDefault("AWS_SECRET_ACCESS_KEY", "").strip(),
            environment.get("AWS_SESSION_TOKEN"), region, Clock.systemUTC());
    return new S3Objects(text, base, bucket, key, auth);
  }

  private static String first(Map<String, String> environment, String name, String fallback, String otherwise) {
    for (String candidate : new String[] {name, fallback}) {
      String value = environment.get(candidate);
      if (value != null && !value.isBlank()) {
        return value.strip();
      }
    }
    return otherwise;
  }

  boolean isPrefix() {
    return key.isEmpty() || key.endsWith("/");
  }

  @Override
  public List<RemoteFile> files(FetchHttp http) {
    List<RemoteFile> files = new ArrayList<>();
    if (!isPrefix()) {
      files.add(described(http, key, key.substring(key.lastIndexOf('/') + 1)));
      return files;
    }
    for (String objectKey : list(http)) {
      if (objectKey.endsWith("/")) {
        continue;  // a folder marker, no file
      }
      String path = objectKey.substring(key.length());
      if (!Source.isPlainRelativePath(path)) {
        throw new FetchFailure(ExitCodes.DATA, "the object s3://" + bucket + "/" + objectKey
            + " has a key that cannot be a path under the output");
      }
      files.add(described(http, objectKey, path));
    }
    if (files.isEmpty()) {
      throw FetchFailure.notFound("no objects under s3://" + bucket + "/" + key);
    }
    return files;
  }

  private RemoteFile described(FetchHttp http, String objectKey, String path) {
    URI uri = objectUri(objectKey);
    HttpHeaders head;
    try {
      head = http.head(uri, auth, CHECKSUM_MODE);
    } catch (FetchFailure e) {
      throw e.about("s3://" + bucket + "/" + objectKey);
    }
    long size = head.firstValueAsLong("Content-Length").orElse(-1);
    return new RemoteFile(path, uri, auth, size, WHOLE_OBJECT_SHA256.apply(head), RemoteFile.NO_CHECKSUM_IN_RESPONSE);
  }

  /**
   * {@code x-amz-checksum-sha256} (base64), when it is the digest of the whole object: a multipart
   * upload's composite checksum ({@code ...-N}, or {@code x-amz-checksum-type: COMPOSITE}) is a
   * digest of the parts' digests, which a download cannot recompute.
   */
  static final Function<HttpHeaders, Checksum> WHOLE_OBJECT_SHA256 = headers -> {
    String value = headers.firstValue("x-amz-checksum-sha256").orElse(null);
    if (value == null || value.contains("-") || headers.firstValue("x-amz-checksum-type").orElse("").equals("COMPOSITE")) {
      return null;
    }
    try {
      byte[] digest = Base64.getDecoder().decode(value.strip());
      return digest.length == 32 ? new Checksum(Checksum.Kind.SHA256, HexFormat.of().formatHex(digest)) : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  };

  URI objectUri(String objectKey) {
    return URI.create(endpoint + "/" + bucket + "/" + SigV4Signer.encode(objectKey, true));
  }

  /** Every key under the prefix, ListObjectsV2 page after page. */
  private List<String> list(FetchHttp http) {
    List<String> keys = new ArrayList<>();
    String token = null;
    do {
      String query = "list-type=2&prefix=" + SigV4Signer.encode(key)
          + (token == null ? "" : "&continuation-token=" + SigV4Signer.encode(token));
      URI uri = URI.create(endpoint + "/" + bucket + "?" + query);
      Document page;
      try {
        page = parseXml(http.text(uri, auth, Map.of()));
      } catch (FetchFailure e) {
        throw e.about(name);
      }
      NodeList contents = page.getElementsByTagName("Contents");
      for (int i = 0; i < contents.getLength(); i++) {
        keys.add(text((Element) contents.item(i), "Key"));
      }
      boolean truncated = "true".equals(text(page.getDocumentElement(), "IsTruncated"));
      token = truncated ? text(page.getDocumentElement(), "NextContinuationToken") : null;
    } while (token != null && !token.isEmpty());
    return keys;
  }

  private static String text(Element parent, String tag) {
    NodeList nodes = parent.getElementsByTagName(tag);
    return nodes.getLength() == 0 ? null : nodes.item(0).getTextContent();
  }

  private Document parseXml(String xml) {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      return factory.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    } catch (ParserConfigurationException | SAXException | IOException e) {
      throw new FetchFailure(ExitCodes.DATA, "the listing of " + name + " is not S3's XML: " + e.getMessage());
    }
  }
}
