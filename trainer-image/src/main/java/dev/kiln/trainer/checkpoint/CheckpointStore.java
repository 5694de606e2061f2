package dev.kiln.trainer.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.model.weights.SafeTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints of one stage: {@code step-00000150/} holding {@code model.safetensors},
 * {@code optimizer.safetensors}, {@code state.json} and a {@code manifest.json} with the sha256
 * of each. A checkpoint is written under a temporary name, fsynced and renamed, then the
 * {@code latest} pointer is replaced atomically; only the newest {@code keepLast} are kept.
 * Loading takes the newest checkpoint whose checksums verify and falls back to older ones.
 */
public final class CheckpointStore {

  public static final String MODEL = "model.safetensors";
  public static final String OPTIMIZER = "optimizer.safetensors";
  public static final String STATE = "state.json";
  public static final String MANIFEST = "manifest.json";
  public static final String LATEST = "latest";

  private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path dir;
  private final int keepLast;

  public CheckpointStore(Path dir, int keepLast) {
    this.dir = dir;
    this.keepLast = keepLast;
  }

  /** A verified checkpoint. */
  public record Checkpoint(Path path, TrainerState state, Map<String, SafeTensors.Tensor> model,
      Map<String, SafeTensors.Tensor> optimizer, String manifestSha256) {}

  public static String name(long step) {
    return String.format("step-%08d", step);
  }

  /** Writes a checkpoint atomically and returns its folder. */
  public Path save(TrainerState state, Map<String, SafeTensors.Tensor> model, Map<String, SafeTensors.Tensor> optimizer)
      throws IOException {
    Files.createDirectories(dir);
    Path target = dir.resolve(name(state.step()));
    Path temporary = dir.resolve("." + name(state.step()) + ".partial");
    deleteRecursively(temporary);
    Files.createDirectories(temporary);
    SafeTensors.write(temporary.resolve(MODEL), model, Map.of("format", "pt"));
    SafeTensors.write(temporary.resolve(OPTIMIZER), optimizer, Map.of());
    Files.writeString(temporary.resolve(STATE), JSON.writeValueAsString(state));
    Map<String, String> files = new LinkedHashMap<>();
    for (String file : List.of(MODEL, OPTIMIZER, STATE)) {
      fsync(temporary.resolve(file));
      files.put(file, sha256(temporary.resolve(file)));
    }
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("formatVersion", TrainerState.FORMAT_VERSION);
    manifest.put("step", state.step());
    manifest.put("files", files);
    Files.writeString(temporary.resolve(MANIFEST), JSON.writeValueAsString(manifest));
    fsync(temporary.resolve(MANIFEST));
    deleteRecursively(target);
    Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
    fsyncDirectory(dir);
    Path pointer = dir.resolve("." + LATEST + ".partial");
    Files.writeString(pointer, target.getFileName().toString() + "\n");
    fsync(pointer);
    Files.move(pointer, dir.resolve(LATEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(dir);
    prune();
    return target;
  }

  /** The newest checkpoint that verifies, if any; corrupt ones are logged and skipped. */
  public Optional<Checkpoint> loadLatest() {
    for (Path candidate : checkpoints()) {
      try {
        return Optional.of(load(candidate));
      } catch (IOException | RuntimeException e) {
        LOG.warn("checkpoint {} is unusable ({}); falling back to the previous one", candidate, e.getMessage());
      }
    }
    return Optional.empty();
  }

  /** Loads and verifies one checkpoint folder (or a stage folder's {@code latest}). */
  public static Checkpoint load(Path path) throws IOException {
    if (Files.isRegularFile(path.resolve(LATEST)) && !Files.exists(path.resolve(MANIFEST))) {
      path = path.resolve(Files.readString(path.resolve(LATEST)).strip());
    }
    Path manifestFile = path.resolve(MANIFEST);
    var manifest = JSON.readTree(manifestFile.toFile());
    if (manifest.path("formatVersion").asInt() != TrainerState.FORMAT_VERSION) {
      throw new IOException(manifestFile + ": unknown checkpoint format " + manifest.path("formatVersion"));
    }
    var files = manifest.get("files");
    for (String file : List.of(MODEL, OPTIMIZER, STATE)) {
      String expected = files.path(file).asText();
      String actual = sha256(path.resolve(file));
      if (!expected.equals(actual)) {
        throw new IOException(path.resolve(file) + ": sha256 " + actual + " does not match the manifest's " + expected);
      }
    }
    TrainerState state = JSON.readValue(path.resolve(STATE).toFile(), TrainerState.class);
    return new Checkpoint(path, state, SafeTensors.read(path.resolve(MODEL)), SafeTensors.read(path.resolve(OPTIMIZER)),
        manifestSha256(path));
  }

  /** Complete checkpoint folders, newest first. */
  public List<Path> checkpoints() {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.filter(p -> p.getFileName().toString().startsWith("step-") && Files.isDirectory(p))
          .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private void prune() throws IOException {
    List<Path> all = checkpoints();
    for (Path old : all.subList(Math.min(keepLast, all.size()), all.size())) {
      deleteRecursively(old);
    }
  }

  /** The sha256 of a checkpoint's manifest: the checkpoint's identity in the job's status. */
  public static String manifestSha256(Path checkpoint) throws IOException {
    return sha256(checkpoint.resolve(MANIFEST));
  }

  static String sha256(Path file) throws IOException {
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void fsync(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.force(true);
    }
  }

  private static void fsyncDirectory(Path directory) {
    try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some filesystems refuse to open directories for sync; the rename is still atomic there.
    }
  }

  static void deleteRecursively(Path path) throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    List<Path> all = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(path)) {
      walk.forEach(all::add);
    }
    for (int i = all.size() - 1; i >= 0; i--) {
      Files.deleteIfExists(all.get(i));
    }
  }
}
