package dev.kiln.datajobs.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.runconfig.ExitCodes;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** fetch against S3Proxy (jclouds' in-memory store), which checks every request's Signature Version 4. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class S3FetchTest {

  static final String ACCESS_KEY = "kiln-test-access";
  static final String SECRET_KEY = "kiln-test-secret/with+odd=characters";

  static BlobStoreContext store;
  static S3Proxy proxy;
  static byte[] shard = new byte[3 << 20];

  @TempDir
  Path dir;

  @BeforeAll
  static void start() throws Exception {
    new Random(7).nextBytes(shard);
    store = ContextBuilder.newBuilder("transient").credentials("unused", "unused").build(BlobStoreContext.class);
    BlobStore blobs = store.getBlobStore();
    blobs.createContainerInLocation(null, "datasets");
    put(blobs, "llava/shards/00000.tar", shard);
    put(blobs, "llava/shards/nested/00001.tar", "second".getBytes(StandardCharsets.UTF_8));
    put(blobs, "llava/shards/with space+plus.json", "{}".getBytes(StandardCharsets.UTF_8));
    put(blobs, "llava/readme.txt", "outside the prefix".getBytes(StandardCharsets.UTF_8));
    for (int i = 0; i < 1001; i++) {
      put(blobs, String.format("many/%04d.txt", i), String.valueOf(i).getBytes(StandardCharsets.UTF_8));
    }
    proxy = S3Proxy.builder().blobStore(blobs).endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY).build();
    proxy.start();
    while (!"STARTED".equals(proxy.getState())) {
      Thread.sleep(10);
    }
  }

  static void put(BlobStore blobs, String key, byte[] content) {
    blobs.putBlob("datasets", blobs.blobBuilder(key).payload(content).contentLength(content.length).build());
  }

  @AfterAll
  static void stop() throws Exception {
    proxy.stop();
    store.close();
  }

  Map<String, String> environment(String secret) {
    return Map.of("AWS_ENDPOINT_URL", "http://127.0.0.1:" + proxy.getPort(), "AWS_ACCESS_KEY_ID", ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY", secret, "AWS_REGION", "us-east-1");
  }

  @Test
  void aPrefixBringsEveryObjectUnderItByKeyBelowThePrefix() throws Exception {
    var r = FetchRuns.fetch(environment(SECRET_KEY), "s3://datasets/llava/shards/", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(Files.readAllBytes(dir.resolve("00000.tar"))).isEqualTo(shard);
    assertThat(dir.resolve("nested/00001.tar")).hasContent("second");
    assertThat(dir.resolve("with space+plus.json")).hasContent("{}");
    assertThat(dir.resolve("readme.txt")).doesNotExist();
    try (var files = Files.walk(dir)) {
      assertThat(files.filter(p -> p.toString().endsWith(".part"))).isEmpty();
    }
  }

  @Test
  void aListingLongerThanOnePageIsFollowedByItsContinuationToken() throws Exception {
    var r = FetchRuns.fetch(environment(SECRET_KEY), "s3://datasets/many/", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    try (var files = Files.list(dir)) {
      assertThat(files.count()).isEqualTo(1001);
    }
    assertThat(dir.resolve("1000.txt")).hasContent("1000");
  }

  @Test
  void oneObjectLandsUnderItsNameAndASecondRunKeepsIt() throws Exception {
    var first = FetchRuns.fetch(environment(SECRET_KEY), "s3://datasets/llava/shards/00000.tar", "--output", dir.toString());
    var second = FetchRuns.fetch(environment(SECRET_KEY), "s3://datasets/llava/shards/00000.tar", "--output", dir.toString());

    assertThat(first.exit()).as(first.err()).isZero();
    assertThat(Files.readAllBytes(dir.resolve("00000.tar"))).isEqualTo(shard);
    assertThat(second.exit()).as(second.err()).isZero();
    assertThat(second.err()).contains("already there");
  }

  @Test
  void aWrongSecretIsRefusedByTheSignatureCheckAndExits78() {
    var r = FetchRuns.fetch(environment("not-the-secret"), "s3://datasets/llava/shards/", "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err().lines()).singleElement().asString()
        .startsWith("fetch: s3://datasets/llava/shards/: access denied (HTTP 403 from http://127.0.0.1:")
        .contains("SignatureDoesNotMatch");
  }

  @Test
  void aMissingObjectIsNotFoundNamingItAndExits65() {
    var r = FetchRuns.fetch(environment(SECRET_KEY), "s3://datasets/llava/shards/99999.tar", "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err().lines()).singleElement().asString()
        .startsWith("fetch: s3://datasets/llava/shards/99999.tar: not found (HTTP 404");
    assertThat(dir.resolve("99999.tar")).doesNotExist();
  }
}
