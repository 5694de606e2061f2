package dev.kiln.trainer.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.api.Canonical;
import dev.kiln.model.weights.SafeTensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints of one stage: {@code step-00000150/} holding {@code model.safetensors}, the
 * optimizer state, {@code state.json} and a {@code manifest.json} with the sha256 of every file.
 * The optimizer state is {@code optimizer.safetensors} by parameter name, or, from sharded ranks,
 * one {@code optimizer-rank-R-of-W.safetensors} per rank (its flat slice of both moments, written
 * by that rank in parallel) with {@code optimizer-layout.json} naming the parameters in flat
 * order; {@link Moments} reads either back a range at a time, so any world size can resume. Weights
 * are written from the tensors' own memory and read back one tensor at a time: the heap never
 * holds the model or its optimizer state.
 * A checkpoint is written under a temporary name, fsynced and renamed, then the {@code latest}
 * pointer is replaced atomically; only the newest {@code keepLast} are kept. Loading takes the
 * newest checkpoint whose checksums verify and falls back to older ones.
 */
public final class CheckpointStore {

  public static final String MODEL = "model.safetensors";
  public static final String OPTIMIZER = "optimizer.safetensors";
  public static final String STATE = "state.json";
  public static final String MANIFEST = "manifest.json";
  public static final String LATEST = "latest";
  public static final String OPTIMIZER_LAYOUT = "optimizer-layout.json";

  private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path dir;
  private final int keepLast;

  public CheckpointStore(Path dir, int keepLast) {
    this.dir = dir;
    this.keepLast = keepLast;
  }

  /** A verified checkpoint: its state, and its tensors read when asked for, a tensor (or a range) at a time. */
  public record Checkpoint(Path path, TrainerState state, String manifestSha256, boolean momentsByName,
      boolean shardedMoments) {

    /** Every weight {@code wanted} accepts, in turn: the heap holds one at a time. */
    public void eachWeight(Predicate<String> wanted, SafeTensors.TensorVisitor visitor) throws IOException {
      SafeTensors.each(path.resolve(MODEL), wanted, visitor);
    }

    /** Every weight at once, for tools and small models (export, evaluation); training uses {@link #eachWeight}. */
    public Map<String, SafeTensors.Tensor> model() {
      try {
        return SafeTensors.read(path.resolve(MODEL));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** AdamW's moments, to be closed after reading. */
    public Moments moments() throws IOException {
      return Moments.of(path, momentsByName, shardedMoments);
    }
  }

  public static String name(long step) {
    return String.format("step-%08d", step);
  }

  /** Writes a checkpoint atomically and returns its folder. */
  public Path save(TrainerState state, Map<String, SafeTensors.Source> model, Map<String, SafeTensors.Source> optimizer)
      throws IOException {
    Path partial = begin(state.step());
    Failpoint.reach("begun", state.step());
    SafeTensors.writeEach(partial.resolve(OPTIMIZER), optimizer, Map.of());
    Failpoint.reach("optimizer-written", state.step());
    writeModel(partial, model);
    Failpoint.reach("model-written", state.step());
    return commit(partial, state);
  }

  /** The folder a checkpoint of {@code step} is written into before it is renamed; every rank agrees on it. */
  public Path partial(long step) {
    return dir.resolve("." + name(step) + ".partial");
  }

  /** Starts a checkpoint: an empty {@link #partial} folder (one rank calls this, before the others write). */
  public Path begin(long step) throws IOException {
    Path partial = partial(step);
    deleteRecursively(partial);
    Files.createDirectories(partial);
    return partial;
  }

  /** Where rank {@code rank} of {@code world} writes its slice of the optimizer state. */
  public static String optimizerShard(int rank, int world) {
    return String.format("optimizer-rank-%05d-of-%05d.safetensors", rank, world);
  }

  public static void writeModel(Path partial, Map<String, SafeTensors.Source> model) throws IOException {
    SafeTensors.writeEach(partial.resolve(MODEL), model, Map.of("format", "pt"));
  }

  /**
   * Finishes a checkpoint whose files are all in {@code partial}: writes the state, checksums
   * every file into the manifest, renames the folder and points {@code latest} at it.
   */
  public Path commit(Path partial, TrainerState state) throws IOException {
    Files.writeString(partial.resolve(STATE), JSON.writeValueAsString(state));
    Failpoint.reach("state-written", state.step());
    Map<String, String> files = new LinkedHashMap<>();
    for (Path file : list(partial)) {
      fsync(file);
      files.put(file.getFileName().toString(), Canonical.sha256(file));
    }
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("formatVersion", TrainerState.FORMAT_VERSION);
    manifest.put("step", state.step());
    manifest.put("files", files);
    Files.writeString(partial.resolve(MANIFEST), JSON.writeValueAsString(manifest));
    fsync(partial.resolve(MANIFEST));
    Failpoint.reach("manifest-written", state.step());
    Path target = dir.resolve(name(state.step()));
    deleteRecursively(target);
    Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
    fsyncDirectory(dir);
    Failpoint.reach("renamed", state.step());
    Path pointer = dir.resolve("." + LATEST + ".partial");
    Files.writeString(pointer, target.getFileName().toString() + "\n");
    fsync(pointer);
    Failpoint.reach("pointer-written", state.step());
    Files.move(pointer, dir.resolve(LATEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(dir);
    Failpoint.reach("pointer-moved", state.step());
    prune(state.step());
    return target;
  }

  private static List<Path> list(Path folder) throws IOException {
    try (Stream<Path> entries = Files.list(folder)) {
      return entries.filter(Files::isRegularFile).sorted().toList();
    }
  }

  /**
   * The newest checkpoint that verifies; corrupt ones are logged and skipped. Empty only when the
   * stage has written none: when there are checkpoints and none verifies, starting over from step 0
   * would silently throw the work away, so that is an error naming each one and why.
   */
  public Optional<Checkpoint> loadLatest() throws NoUsableCheckpointException {
    List<Path> candidates = checkpoints();
    List<String> problems = new ArrayList<>();
    for (Path candidate : candidates) {
      try {
        return Optional.of(load(candidate));
      } catch (IOException | RuntimeException e) {
        LOG.warn("checkpoint {} is unusable ({}); falling back to the previous one", candidate, e.getMessage());
        problems.add(candidate.getFileName() + ": " + e.getMessage());
      }
    }
    if (!candidates.isEmpty()) {
      throw new NoUsableCheckpointException(dir + " holds " + candidates.size() + " checkpoint(s) and none verifies ("
          + String.join("; ", problems) + "); refusing to start over from step 0. Move them away to start over.");
    }
    return Optional.empty();
  }

  /** The stage has checkpoints, but none of them can be resumed. */
  public static final class NoUsableCheckpointException extends IOException {
    public NoUsableCheckpointException(String message) {
      super(message);
    }
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
    for (String required : List.of(MODEL, STATE)) {
      if (!files.has(required)) {
        throw new IOException(manifestFile + ": lists no " + required);
      }
    }
    for (var entry : files.properties()) {
      String expected = entry.getValue().asText();
      String actual = Canonical.sha256(path.resolve(entry.getKey()));
      if (!expected.equals(actual)) {
        throw new IOException(path.resolve(entry.getKey()) + ": sha256 " + actual + " does not match the manifest's "
            + expected);
      }
    }
    TrainerState state = JSON.readValue(path.resolve(STATE).toFile(), TrainerState.class);
    // The headers are read now, so that a checkpoint whose files do not parse is passed over like a corrupt one.
    SafeTensors.locations(path.resolve(MODEL));
    boolean byName = files.has(OPTIMIZER);
    boolean sharded = !byName && files.has(OPTIMIZER_LAYOUT);
    Moments.of(path, byName, sharded).close();
    return new Checkpoint(path, state, manifestSha256(path), byName, sharded);
  }

  /** The parameters' order and sizes in the flat vector that sharded ranks slice. */
  public record OptimizerLayout(int world, int shard, List<String> names, List<Integer> sizes) {}

  public static void writeLayout(Path partial, OptimizerLayout layout) throws IOException {
    Files.writeString(partial.resolve(OPTIMIZER_LAYOUT), JSON.writeValueAsString(layout));
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

  /**
   * Deletes all but the newest {@code keepLast}. Each goes out of sight in one rename before its
   * files are deleted, so a crash never leaves a half-deleted checkpoint among the complete ones.
   */
  private void prune(long step) throws IOException {
    List<Path> leftovers;
    try (Stream<Path> entries = Files.list(dir)) {
      leftovers = entries.filter(p -> p.getFileName().toString().endsWith(".deleting")).toList();
    }
    for (Path leftover : leftovers) {
      deleteRecursively(leftover);
    }
    List<Path> all = checkpoints();
    for (Path old : all.subList(Math.min(keepLast, all.size()), all.size())) {
      Path doomed = dir.resolve("." + old.getFileName() + ".deleting");
      deleteRecursively(doomed);
      Files.move(old, doomed, StandardCopyOption.ATOMIC_MOVE);
      Failpoint.reach("pruning", step);
      deleteRecursively(doomed);
    }
  }

  /** The sha256 of a checkpoint's manifest: the checkpoint's identity in the job's status. */
  public static String manifestSha256(Path checkpoint) throws IOException {
    return Canonical.sha256(checkpoint.resolve(MANIFEST));
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
