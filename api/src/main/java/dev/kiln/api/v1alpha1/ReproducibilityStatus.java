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

  @JsonPropertyDescription("sha256 of the packed data manifest.")
  private String dataManifestHash;
  @JsonPropertyDescription("Image references used, by role.")
  private Map<String, String> images = new TreeMap<>();

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

  public String getDataManifestHash() {
    return dataManifestHash;
  }

  public void setDataManifestHash(String dataManifestHash) {
    this.dataManifestHash = dataManifestHash;
  }

  public Map<String, String> getImages() {
    return images;
  }

  public void setImages(Map<String, String> images) {
    this.images = images;
  }
}
