package dev.kiln.datajobs;

import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.data.webdataset.ShardReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns command-line inputs into shard lists: a brace pattern ({@code ccs/{00000..01302}.tar})
 * or a folder (every {@code *.tar} in it, sorted). Each input is a source, named after its folder.
 */
public final class Inputs {

  /** One input: its source name and its shards, in order. */
  public record Source(String name, List<Path> shards) {}

  private Inputs() {}

  public static List<Source> resolve(List<String> inputs) {
    List<Source> sources = new ArrayList<>();
    for (String input : inputs) {
      sources.add(resolve(input));
    }
    return sources;
  }

  public static Source resolve(String input) {
    return resolve(input, PodRoot.fromEnvironment());
  }

  /** One input, its paths read as a pod sees them ({@code /kiln/data/...}) and mapped through {@code root}. */
  public static Source resolve(String input, PodRoot root) {
    String name = null;
    String spec = input;
    int equals = input.indexOf('=');
    if (equals > 0 && !input.substring(0, equals).contains("/")) {
      name = input.substring(0, equals);
      spec = input.substring(equals + 1);
    }
    Path path = root.resolve(spec);
    List<Path> shards;
    if (Files.isDirectory(path)) {
      shards = ShardReader.shardsIn(path);
      name = name != null ? name : path.getFileName().toString();
    } else {
      shards = ShardPattern.expand(spec).stream().map(root::resolve).toList();
      Path parent = Path.of(spec).getParent();
      name = name != null ? name : parent != null ? parent.getFileName().toString() : "input";
    }
    return new Source(name, shards);
  }

  /** The shards of task {@code index}: a contiguous group of {@code perTask}. */
  public static List<Path> task(List<Path> shards, int index, int perTask) {
    int from = Math.min(shards.size(), index * perTask);
    int to = Math.min(shards.size(), from + perTask);
    return shards.subList(from, to);
  }
}
