package dev.kiln.datajobs.pack;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.packing.PackingPlan;
import dev.kiln.data.webdataset.Problems;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What each pack step leaves under {@code <output>/.work} for the next: the prepared part of each
 * prepare task, the plan, and the shards each write task wrote. Every file appears whole or not at
 * all, so a retried task, or a step run again, starts from what is complete.
 */
final class PackWork {

  /** An input shard as the manifest records it; {@code sha256} null when it could not be read to the end. */
  record InputShard(String path, String sha256) {}

  /** What a prepare task read besides its samples, and the settings it was run with. */
  record PreparedTask(String settings, long samplesRead, Map<String, Long> bad, Map<String, List<String>> badExamples,
      List<InputShard> inputs) {}

  /** The plan step's totals over every task, for the manifest, and the settings it was run with. */
  record PlanSummary(String settings, long samplesRead, int samples, int sequences, long tokens, Map<String, Long> bad,
      Map<String, List<String>> badExamples, List<InputShard> inputs) {

    Problems problems() {
      return Problems.of(bad, badExamples);
    }
  }

  /** A packed shard as the manifest records it. */
  record Shard(String name, long sequences, long bytes, String sha256) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path root;

  PackWork(Path output) {
    this.root = output.resolve(".work");
  }

  Path root() {
    return root;
  }

  Path part(int task) {
    return root.resolve("prepare").resolve(String.format("task-%05d", task));
  }

  /** Where a prepare task writes before its part is complete. */
  Path partialPart(int task) {
    return root.resolve("prepare").resolve(String.format(".task-%05d.partial", task));
  }

  Path preparedTask(int task) {
    return part(task).resolve("task.json");
  }

  Path planSummary() {
    return root.resolve("plan.json");
  }

  Path written(int task) {
    return root.resolve("write").resolve(String.format("task-%05d.json", task));
  }

  /** Moves a finished part into place, replacing what an earlier try of the task left. */
  void completePart(int task) throws IOException {
    deleteTree(part(task));
    Files.move(partialPart(task), part(task), StandardCopyOption.ATOMIC_MOVE);
  }

  <T> T read(Path file, Class<T> type) throws IOException {
    return JSON.readValue(file.toFile(), type);
  }

  void write(Path file, Object value) throws IOException {
    writeAtomically(file, JSON.writeValueAsBytes(value));
  }

  static void writeAtomically(Path file, byte[] bytes) throws IOException {
    Files.createDirectories(file.getParent());
    Files.write(temporary(file), bytes);
    complete(file);
  }

  /** Where {@code file} is written before it is complete. */
  private static Path temporary(Path file) {
    return file.resolveSibling("." + file.getFileName() + ".partial");
  }

  /** Moves {@code file}'s temporary into place in one step. */
  private static void complete(Path file) throws IOException {
    Files.move(temporary(file), file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Where write task {@code task} finds its part of the plan. */
  Path planSlice(int task) {
    return root.resolve("plan").resolve(String.format("task-%05d.bin", task));
  }

  /** One write task's part of the plan: its first shard's number, and each of its sequences' samples, located. */
  record PlanSlice(int firstShard, int firstSequence, List<List<PreparedPart.Reader.Location>> sequences) {}

  /**
   * Writes each write task's part of the plan, its samples already located in the prepared parts,
   * so that a task reads only its own sequences and their records, whatever the number of tasks.
   */
  void writePlanSlices(PackingPlan plan, int tasks, int shardSize, PreparedPart.Reader samples) throws IOException {
    int shards = (plan.bins().size() + shardSize - 1) / shardSize;
    for (int task = 0; task < tasks; task++) {
      int[] range = PackCommand.share(shards, task, tasks);
      int from = range[0] * shardSize;
      int to = Math.min(plan.bins().size(), range[1] * shardSize);
      Path slice = planSlice(task);
      Files.createDirectories(slice.getParent());
      try (DataOutputStream out = new DataOutputStream(
          new BufferedOutputStream(Files.newOutputStream(temporary(slice)), 1 << 20))) {
        out.writeInt(range[0]);
        out.writeInt(from);
        out.writeInt(Math.max(0, to - from));
        for (int b = from; b < to; b++) {
          List<Integer> items = plan.bins().get(b).items();
          out.writeInt(items.size());
          for (int item : items) {
            PreparedPart.Reader.Location location = samples.locate(item);
            out.writeInt(location.part());
            out.writeLong(location.offset());
          }
        }
      }
      complete(slice);
    }
  }

  PlanSlice readPlanSlice(int task) throws IOException {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(planSlice(task)), 1 << 20))) {
      int firstShard = in.readInt();
      int firstSequence = in.readInt();
      List<List<PreparedPart.Reader.Location>> sequences = new ArrayList<>();
      for (int b = 0, count = in.readInt(); b < count; b++) {
        List<PreparedPart.Reader.Location> items = new ArrayList<>();
        for (int i = 0, n = in.readInt(); i < n; i++) {
          items.add(new PreparedPart.Reader.Location(in.readInt(), in.readLong()));
        }
        sequences.add(items);
      }
      return new PlanSlice(firstShard, firstSequence, sequences);
    }
  }

  /**
   * Removes the work folder once the manifest is written: first moved aside in one step, so a
   * finish retried after a kill mid-way finds either all of it or none.
   */
  void clear() throws IOException {
    Path aside = root.resolveSibling(".work.cleared");
    deleteTree(aside);
    Files.move(root, aside, StandardCopyOption.ATOMIC_MOVE);
    deleteTree(aside);
  }

  static void deleteTree(Path folder) throws IOException {
    if (!Files.exists(folder)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(folder)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
