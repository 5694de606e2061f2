package dev.kiln.datajobs.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.http.HttpHeaders;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** How an S3 source is read from its text and the environment, and which checksums a download can check. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class S3ObjectsTest {

  @Test
  void theS3EndpointWinsOverTheGeneralOneAndAwsIsTheDefault() {
    S3Objects minio = S3Objects.parse("s3://weights/qwen/", Map.of("AWS_ENDPOINT_URL", "http://general:9000",
        "AWS_ENDPOINT_URL_S3", "http://minio:9000/"));
    S3Objects aws = S3Objects.parse("s3://weights/qwen/model.safetensors", Map.of("AWS_DEFAULT_REGION", "eu-west-1"));

    assertThat(minio.objectUri("qwen/a b.json")).hasToString("http://minio:9000/weights/qwen/a%20b.json");
    assertThat(minio.isPrefix()).isTrue();
    assertThat(minio.auth()).isSameAs(RequestAuth.NONE);
    assertThat(aws.endpoint()).hasToString("https://s3.eu-west-1.amazonaws.com");
    assertThat(aws.isPrefix()).isFalse();
  }

  @Test
  void credentialsMakeASigner() {
    S3Objects signed = S3Objects.parse("s3://weights", Map.of("AWS_ACCESS_KEY_ID", "id", "AWS_SECRET_ACCESS_KEY", "secret",
        "AWS_REGION", "ap-south-1"));

    assertThat(signed.isPrefix()).isTrue();
    assertThat(signed.auth()).isInstanceOfSatisfying(SigV4Signer.class, s -> assertThat(s.region()).isEqualTo("ap-south-1"));
  }

  @Test
  void aBucketNameS3CannotHaveIsRefused() {
    assertThatThrownBy(() -> S3Objects.parse("s3://Not_A_Bucket/key", Map.of()))
        .hasMessage("'Not_A_Bucket' is not an S3 bucket name");
  }

  @Test
  void aWholeObjectSha256IsCheckedAndAMultipartCompositeIsNot() {
    HttpHeaders whole = headers(Map.of("x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    HttpHeaders composite = headers(Map.of("x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3"));
    HttpHeaders typed = headers(Map.of("x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "x-amz-checksum-type", "COMPOSITE"));

    assertThat(S3Objects.WHOLE_OBJECT_SHA256.apply(whole))
        .isEqualTo(new Checksum(Checksum.Kind.SHA256, SigV4Signer.EMPTY_BODY_SHA256));
    assertThat(S3Objects.WHOLE_OBJECT_SHA256.apply(composite)).isNull();
    assertThat(S3Objects.WHOLE_OBJECT_SHA256.apply(typed)).isNull();
    assertThat(S3Objects.WHOLE_OBJECT_SHA256.apply(headers(Map.of()))).isNull();
  }

  static HttpHeaders headers(Map<String, String> values) {
    Map<String, List<String>> multi = new java.util.HashMap<>();
    values.forEach((k, v) -> multi.put(k, List.of(v)));
    return HttpHeaders.of(multi, (k, v) -> true);
  }
}
