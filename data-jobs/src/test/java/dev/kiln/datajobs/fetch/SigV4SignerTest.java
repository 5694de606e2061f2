package dev.kiln.datajobs.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The signer against the worked example in Amazon S3's documentation of Signature Version 4 (GET Object). */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class SigV4SignerTest {

  static final SigV4Signer EXAMPLE_KEY = new SigV4Signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      null, "us-east-1", Clock.systemUTC());

  @Test
  void theDocumentedGetObjectExampleSignsAsPublished() {
    Map<String, String> added = EXAMPLE_KEY.signedHeaders("GET", URI.create("https://examplebucket.s3.amazonaws.com/test.txt"),
        Map.of("Range", "bytes=0-9"), "20130524T000000Z");

    assertThat(added).containsEntry("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
        + "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        .containsEntry("x-amz-date", "20130524T000000Z")
        .containsEntry("x-amz-content-sha256", SigV4Signer.EMPTY_BODY_SHA256)
        .doesNotContainKey("range");
  }

  @Test
  void aSessionTokenIsSentAndSigned() {
    SigV4Signer temporary = new SigV4Signer("AKIAIOSFODNN7EXAMPLE", "secret", "session-token", "eu-west-1", Clock.systemUTC());

    Map<String, String> added = temporary.signedHeaders("HEAD", URI.create("http://127.0.0.1:9000/bucket/key"), Map.of(),
        "20240102T030405Z");

    assertThat(added).containsEntry("x-amz-security-token", "session-token");
    assertThat(added.get("authorization")).contains("/20240102/eu-west-1/s3/aws4_request,")
        .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,");
  }

  @Test
  void keysAndQueriesAreEncodedAsRfc3986WithSlashesKeptInPaths() {
    assertThat(SigV4Signer.encode("a b+c~d/e.tar", true)).isEqualTo("a%20b%2Bc~d/e.tar");
    assertThat(SigV4Signer.encode("shards/", false)).isEqualTo("shards%2F");
    assertThat(SigV4Signer.encode("é", false)).isEqualTo("%C3%A9");
  }
}
