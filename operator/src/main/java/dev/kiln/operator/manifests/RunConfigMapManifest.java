package dev.kiln.operator.manifests;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import java.util.Map;

/** The stage's run config as a ConfigMap, mounted at /kiln/config/run.json in every rank. */
public final class RunConfigMapManifest {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private RunConfigMapManifest() {}

  public static ConfigMap build(MultimodalPretrainJob job, RunConfig config) {
    return new ConfigMapBuilder()
        .withMetadata(Owners.owned(job, Names.runConfig(job, config.stage()), Labels.stage(job, config.stage())))
        .withData(Map.of(PodPaths.RUN_CONFIG_FILE, json(config)))
        .build();
  }

  public static String json(RunConfig config) {
    try {
      return JSON.writeValueAsString(config) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("run config is plain records", e);
    }
  }
}
