package dev.kiln.cli.pin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns a job as it was written (or as a cluster holds it) and the status of its run into the
 * YAML that reproduces that run: {@code spec.reproduce} with every stage's packed manifest, the
 * tokenizer and the initial weights by sha256, and {@code spec.images} with the images the run
 * used, by digest where the kubelet reported one. What cannot be pinned is said, not guessed.
 */
public final class PinnedJob {

  /** The reproducing job, and what was pinned less firmly than asked (by tag, say). */
  public record Result(ObjectNode job, List<String> warnings) {}

  /** Why a run cannot be pinned yet. */
  public static final class NotPinnable extends Exception {
    public NotPinnable(String message) {
      super(message);
    }
  }

  private static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

  private PinnedJob() {}

  /**
   * {@code job}'s tree (its status, server-set metadata and any earlier pins replaced) with pins
   * from {@code status}; {@code rename} gives the reproduction its own name (null keeps it).
   */
  public static Result pin(JsonNode job, MultimodalPretrainJobStatus status, String rename) throws NotPinnable {
    String name = job.at("/metadata/name").asText();
    ReproducibilityStatus record = status == null ? null : status.getReproducibility();
    List<String> stages = new ArrayList<>();
    job.at("/spec/stages").forEach(s -> stages.add(s.path("name").asText()));
    List<String> unpacked = stages.stream()
        .filter(s -> record == null || record.getPackedData().get(s) == null).toList();
    if (!unpacked.isEmpty()) {
      throw new NotPinnable("job " + name + " has no packed data recorded for stage(s) " + String.join(", ", unpacked)
          + " (status.reproducibility.packedData): pin a job once its data is packed, by an operator that records it");
    }
    List<String> warnings = new ArrayList<>();
    if (status.getPhase() == null || !"Succeeded".equals(status.getPhase().name())) {
      warnings.add("job " + name + " is " + status.getPhase() + ", not Succeeded: the pins describe its data, not a finished run");
    }

    ObjectNode pinned = job.deepCopy();
    pinned.remove("status");
    ObjectNode metadata = (ObjectNode) pinned.get("metadata");
    for (String serverSet : List.of("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
        "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers")) {
      metadata.remove(serverSet);
    }
    if (metadata.path("annotations").isObject()) {
      ((ObjectNode) metadata.get("annotations")).remove(LAST_APPLIED);
      if (metadata.get("annotations").isEmpty()) {
        metadata.remove("annotations");
      }
    }
    if (rename != null) {
      metadata.put("name", rename);
    }
    ObjectNode spec = (ObjectNode) pinned.get("spec");
    spec.remove("restartNonce");
    spec.remove("suspend");

    ObjectNode reproduce = JsonNodeFactory.instance.objectNode();
    ArrayNode packed = reproduce.putArray("packedData");
    for (String stage : stages) {
      packed.addObject().put("stage", stage).put("manifestSha256", record.getPackedData().get(stage));
    }
    if (record.getTokenizerSha256() != null) {
      reproduce.put("tokenizerSha256", record.getTokenizerSha256());
    } else {
      warnings.add("the tokenizer's sha256 was not recorded: it is not pinned");
    }
    if (record.getInitialWeightsSha256() != null) {
      reproduce.put("initialWeightsSha256", record.getInitialWeightsSha256());
    } else if (spec.at("/model/initialWeights").isObject()) {
      warnings.add("the initial weights' sha256 was not recorded (no trainer reported starting from them): they are"
          + " not pinned");
    }
    spec.set("reproduce", reproduce);

    ObjectNode images = spec.path("images").isObject() ? (ObjectNode) spec.get("images") : spec.putObject("images");
    pinImage(images, "dataJobs", Set.of("dataJobs"), record, warnings);
    Set<String> trainerRoles = new LinkedHashSet<>();
    stages.forEach(s -> trainerRoles.add("trainer/" + s));
    pinImage(images, "trainer", trainerRoles, record, warnings);
    if (images.isEmpty()) {
      spec.remove("images");
    }
    return new Result(pinned, warnings);
  }

  /** One image field from the roles that used it: their digest, else their reference, when they agree. */
  private static void pinImage(ObjectNode images, String field, Set<String> roles, ReproducibilityStatus record,
      List<String> warnings) {
    Set<String> digests = new LinkedHashSet<>();
    Set<String> references = new LinkedHashSet<>();
    for (String role : roles) {
      String id = record.getImageIds().get(role);
      String digest = id == null ? null : digestReference(id);
      if (digest != null) {
        digests.add(digest);
      }
      if (record.getImages().get(role) != null) {
        references.add(record.getImages().get(role));
      }
    }
    if (digests.size() == 1 && references.size() <= 1) {
      images.put(field, digests.iterator().next());
    } else if (digests.isEmpty() && references.size() == 1) {
      images.put(field, references.iterator().next());
      warnings.add("spec.images." + field + " pinned by tag (" + references.iterator().next()
          + "): no image digest was reported for it");
    } else if (!references.isEmpty()) {
      warnings.add("spec.images." + field + " left as it was: the stages ran different images " + references
          + ", and one field pins one image");
    }
  }

  /**
   * A pullable digest reference from what the kubelet reports ({@code docker-pullable://repo@sha256:...}
   * or {@code repo@sha256:...}), or null: a bare {@code sha256:...} is a local image ID, which no
   * registry serves.
   */
  static String digestReference(String imageId) {
    String id = imageId.replaceFirst("^[a-z-]+://", "");
    return id.indexOf("@sha256:") > 0 ? id : null;
  }
}
