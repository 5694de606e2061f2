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

  Path plan() {
    return root.resolve("plan.bin");
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
    Path temporary = file.resolveSibling("." + file.getFileName() + ".partial");
    Files.write(temporary, bytes);
    Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  void writePlan(PackingPlan plan) throws IOException {
    Path temporary = plan().resolveSibling(".plan.bin.partial");
    try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(temporary), 1 << 20))) {
      out.writeInt(plan.capacity());
      out.writeLong(plan.itemTokens());
      out.writeInt(plan.bins().size());
      for (PackingPlan.Bin bin : plan.bins()) {
        out.writeInt(bin.used());
        out.writeInt(bin.items().size());
        for (int item : bin.items()) {
          out.writeInt(item);
        }
      }
      out.writeInt(plan.oversize().size());
      for (int item : plan.oversize()) {
        out.writeInt(item);
      }
    }
    Files.move(temporary, plan(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  PackingPlan readPlan() throws IOException {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(plan()), 1 << 20))) {
      int capacity = in.readInt();
      long itemTokens = in.readLong();
      List<PackingPlan.Bin> bins = new ArrayList<>();
      for (int b = 0, count = in.readInt(); b < count; b++) {
        int used = in.readInt();
        Integer[] items = new Integer[in.readInt()];
        for (int i = 0; i < items.length; i++) {
          items[i] = in.readInt();
        }
        bins.add(new PackingPlan.Bin(List.of(items), used));
      }
      List<Integer> oversize = new ArrayList<>();
      for (int i = 0, count = in.readInt(); i < count; i++) {
        oversize.add(in.readInt());
      }
      return new PackingPlan(capacity, bins, oversize, itemTokens);
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
