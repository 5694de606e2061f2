package dev.kiln.datajobs;

import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.data.webdataset.ShardReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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

  /**
   * What is wrong with the shards before any is read: none at all, or some that do not exist
   * (named, up to {@value #NAMED}); empty when every one is there. {@code input} is what the user gave.
   */
  public static Optional<String> missing(String input, List<Path> shards) {
    if (shards.isEmpty()) {
      return Optional.of("no shards in " + input + " (a folder needs *.tar files in it; a pattern like"
          + " dir/{00000..00009}.tar names them)");
    }
    List<Path> absent = shards.stream().filter(shard -> !Files.exists(shard)).toList();
    if (absent.isEmpty()) {
      return Optional.empty();
    }
    String named = String.join(", ", absent.stream().limit(NAMED).map(Path::toString).toList())
        + (absent.size() > NAMED ? " and " + (absent.size() - NAMED) + " more" : "");
    return Optional.of((absent.size() == shards.size() ? "none of the " + shards.size() + " input shard(s) of " + input
        + " exist" : absent.size() + " of the " + shards.size() + " input shards of " + input + " do not exist") + ": "
        + named);
  }

  static final int NAMED = 3;

  /** The shards of task {@code index}: a contiguous group of {@code perTask}. */
  public static List<Path> task(List<Path> shards, int index, int perTask) {
    int from = Math.min(shards.size(), index * perTask);
    int to = Math.min(shards.size(), from + perTask);
    return shards.subList(from, to);
  }
}
