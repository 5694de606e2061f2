package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.Map;
import java.util.TreeMap;

/** Everything needed to re-run this job bit for bit. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ReproducibilityStatus {

  @JsonPropertyDescription("sha256 of the spec the run started with.")
  private String configHash;
  @JsonPropertyDescription("sha256 of spec.model when the first stage started; the model may not change after.")
  private String modelHash;

  @JsonPropertyDescription("sha256 of each stage's packed manifest.json, by stage, as its pack Job reported it.")
  private Map<String, String> packedData = new TreeMap<>();
  @JsonPropertyDescription("sha256 of the tokenizer file the data was packed with.")
  private String tokenizerSha256;
  @JsonPropertyDescription("sha256 of spec.model.initialWeights, as the trainer that started from them reported it.")
  private String initialWeightsSha256;
  @JsonPropertyDescription("Image references used, by role.")
  private Map<String, String> images = new TreeMap<>();
  @JsonPropertyDescription("The images the kubelet ran, by role, as it reports them (a digest reference where the runtime gives one).")
  private Map<String, String> imageIds = new TreeMap<>();

  public String getConfigHash() {
    return configHash;
  }

  public void setConfigHash(String configHash) {
    this.configHash = configHash;
  }

  public String getModelHash() {
    return modelHash;
  }

  public void setModelHash(String modelHash) {
    this.modelHash = modelHash;
  }

  public Map<String, String> getPackedData() {
    return packedData;
  }

  public void setPackedData(Map<String, String> packedData) {
    this.packedData = packedData;
  }

  public String getTokenizerSha256() {
    return tokenizerSha256;
  }

  public void setTokenizerSha256(String tokenizerSha256) {
    this.tokenizerSha256 = tokenizerSha256;
  }

  public String getInitialWeightsSha256() {
    return initialWeightsSha256;
  }

  public void setInitialWeightsSha256(String initialWeightsSha256) {
    this.initialWeightsSha256 = initialWeightsSha256;
  }

  public Map<String, String> getImages() {
    return images;
  }

  public void setImages(Map<String, String> images) {
    this.images = images;
  }

  public Map<String, String> getImageIds() {
    return imageIds;
  }

  public void setImageIds(Map<String, String> imageIds) {
    this.imageIds = imageIds;
  }
}
