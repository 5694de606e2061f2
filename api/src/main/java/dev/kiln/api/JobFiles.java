package dev.kiln.api;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.validation.Violation;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads MultimodalPretrainJobs from YAML or JSON, strictly: an unknown or misspelt field is an
 * error naming the field, as {@code kubectl apply --validate=strict} would report it.
 */
public final class JobFiles {

  private static final ObjectMapper STRICT = JsonMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .build();
  private static final YAMLMapper YAML = new YAMLMapper(new YAMLFactory());

  private JobFiles() {}

  /** Every document of a (possibly multi-document) YAML file, as jobs. */
  public static List<MultimodalPretrainJob> read(Path file) {
    return parse(readString(file), file.toString());
  }

  /** Every document of YAML text, as jobs; {@code origin} names the text in errors. */
  public static List<MultimodalPretrainJob> parse(String yaml, String origin) {
    return documents(yaml, origin).stream().map(document -> fromTree(document, origin)).toList();
  }

  /** The jobs and TrainingQueues of one file, as {@code kiln run} applies them. */
  public record Manifests(List<MultimodalPretrainJob> jobs, List<TrainingQueue> queues) {}

  /** Every document of a YAML file: TrainingQueues checked against their CRD's schema, everything else as jobs. */
  public static Manifests readManifests(Path file) {
    String origin = file.toString();
    List<MultimodalPretrainJob> jobs = new ArrayList<>();
    List<TrainingQueue> queues = new ArrayList<>();
    for (JsonNode document : documents(readString(file), origin)) {
      if (TrainingQueue.KIND.equals(document.path("kind").asText())) {
        queues.add(queueFromTree(document, origin));
      } else {
        jobs.add(fromTree(document, origin));
      }
    }
    return new Manifests(jobs, queues);
  }

  /** Every document of a YAML file as it was written (a tree each), for tools that rewrite a file. */
  public static List<JsonNode> readDocuments(Path file) {
    return documents(readString(file), file.toString());
  }

  /** The file's text; a file that cannot be read is a {@link JobFileException} saying why, in words. */
  private static String readString(Path file) {
    String origin = file.toString();
    if (Files.isDirectory(file)) {
      throw new JobFileException(origin, "(file)", file + " is a folder, not a YAML file");
    }
    try {
      return Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new JobFileException(origin, "(file)", file + " does not exist"
          + (file.toAbsolutePath().getParent() != null && !Files.isDirectory(file.toAbsolutePath().getParent())
              ? " (nor does the folder " + file.toAbsolutePath().getParent() + ")" : ""));
    } catch (AccessDeniedException e) {
      throw new JobFileException(origin, "(file)", file + " cannot be read: permission denied");
    } catch (CharacterCodingException e) {
      throw new JobFileException(origin, "(file)", file + " is not UTF-8 text");
    } catch (IOException e) {
      throw new JobFileException(origin, "(file)", file + " cannot be read: " + e.getMessage());
    }
  }

  private static List<JsonNode> documents(String yaml, String origin) {
    List<JsonNode> found = new ArrayList<>();
    try (var parser = YAML.getFactory().createParser(yaml)) {
      var documents = YAML.readValues(parser, JsonNode.class);
      while (documents.hasNext()) {
        JsonNode document = documents.next();
        if (document != null && !document.isNull() && !document.isEmpty()) {
          found.add(document);
        }
      }
    } catch (IOException e) {
      throw new JobFileException(origin, "(document)", "not valid YAML: " + firstLine(e.getMessage()));
    }
    return found;
  }

  /** One TrainingQueue from a parsed tree: strictly, and as its CRD's schema allows (the first problem is reported). */
  public static TrainingQueue queueFromTree(JsonNode document, String origin) {
    List<Violation> violations = CrdSchema.fromResource(Crds.QUEUES).validate(document, null);
    if (!violations.isEmpty()) {
      throw new JobFileException(origin, violations.getFirst().field(), violations.getFirst().message());
    }
    try {
      return STRICT.treeToValue(document, TrainingQueue.class);
    } catch (com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException e) {
      throw new JobFileException(origin, path(e), "unknown field \"" + e.getPropertyName() + "\"");
    } catch (IOException e) {
      throw new JobFileException(origin, "(document)", firstLine(e.getMessage()));
    }
  }

  /** One job from a parsed tree, checking apiVersion and kind. */
  public static MultimodalPretrainJob fromTree(JsonNode document, String origin) {
    String apiVersion = document.path("apiVersion").asText("");
    String kind = document.path("kind").asText("");
    if (!MultimodalPretrainJob.API_VERSION.equals(apiVersion)) {
      throw new JobFileException(origin, "apiVersion", "expected " + MultimodalPretrainJob.API_VERSION
          + ", found \"" + apiVersion + "\"");
    }
    if (!MultimodalPretrainJob.KIND.equals(kind)) {
      throw new JobFileException(origin, "kind", "expected " + MultimodalPretrainJob.KIND + ", found \"" + kind + "\"");
    }
    try {
      return STRICT.treeToValue(document, MultimodalPretrainJob.class);
    } catch (com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException e) {
      throw new JobFileException(origin, path(e), "unknown field \"" + e.getPropertyName() + "\"");
    } catch (com.fasterxml.jackson.databind.exc.MismatchedInputException e) {
      throw new JobFileException(origin, path(e), firstLine(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new JobFileException(origin, "(document)", firstLine(e.getMessage()));
    }
  }

  private static String path(com.fasterxml.jackson.databind.JsonMappingException e) {
    StringBuilder path = new StringBuilder();
    for (var reference : e.getPath()) {
      if (reference.getFieldName() != null) {
        if (!path.isEmpty()) {
          path.append('.');
        }
        path.append(reference.getFieldName());
      } else if (reference.getIndex() >= 0) {
        path.append('[').append(reference.getIndex()).append(']');
      }
    }
    String full = path.toString();
    // The unknown field itself is the last reference; report the object that holds it.
    if (e instanceof com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException u && full.endsWith(u.getPropertyName())) {
      full = full.substring(0, full.length() - u.getPropertyName().length());
      full = full.endsWith(".") ? full.substring(0, full.length() - 1) : full;
    }
    return full.isEmpty() ? "(root)" : full;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  /** A job file that cannot be read as a MultimodalPretrainJob, located by file and field. */
  public static final class JobFileException extends RuntimeException {

    private final transient Violation violation;

    public JobFileException(String origin, String field, String message) {
      super(origin + ": " + field + ": " + message);
      this.violation = new Violation(field, message);
    }

    /** The problem without the file name, as {@code kiln validate} prints it. */
    public Violation violation() {
      return violation;
    }
  }
}
