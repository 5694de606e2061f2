package dev.kiln.trainer.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.model.weights.SafeTensors;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * AdamW's two moments in a checkpoint, read a range at a time, so that resuming never holds the
 * whole optimizer state in the heap (two floats per trained parameter: 12 GB for 1.5B). A rank
 * reads what it keeps: its slice when sharded, each parameter in turn when not, whatever the world
 * size that wrote them. Checkpoints hold them by parameter name ({@code optimizer.safetensors}) or
 * as the sharded ranks' slices of the flat vector ({@code optimizer-layout.json} names its order).
 */
public interface Moments extends AutoCloseable {

  /** A fresh start: no moments. */
  Moments NONE = new Moments() {
    @Override
    public boolean has(String name) {
      return false;
    }

    @Override
    public void read(String name, boolean second, long offset, float[] into, int at, int count) {
      throw new IllegalStateException("no moments for " + name);
    }

    @Override
    public void close() {}
  };

  /** Whether the checkpoint holds both moments of parameter {@code name}. */
  boolean has(String name);

  /** Values {@code offset} to {@code offset + count} of {@code name}'s first (or {@code second}) moment, into {@code into} at {@code at}. */
  void read(String name, boolean second, long offset, float[] into, int at, int count) throws IOException;

  /** As {@link #read}, into native memory: {@code into}'s floats from float {@code at}, a chunk at a time. */
  default void read(String name, boolean second, long offset, MemorySegment into, long at, int count) throws IOException {
    float[] chunk = new float[Math.min(count, 1 << 20)];
    for (int done = 0; done < count; done += chunk.length) {
      int n = Math.min(chunk.length, count - done);
      read(name, second, offset + done, chunk, 0, n);
      MemorySegment.copy(chunk, 0, into, ValueLayout.JAVA_FLOAT, 4L * (at + done), n);
    }
  }

  @Override
  void close() throws IOException;

  /** The moments of checkpoint folder {@code path}: by name, from sharded slices, or none. */
  static Moments of(Path path, boolean byName, boolean sharded) throws IOException {
    if (byName) {
      return new ByName(path.resolve(CheckpointStore.OPTIMIZER));
    }
    return sharded ? new Sharded(path) : NONE;
  }

  /** {@code optimizer.safetensors}: {@code exp_avg.NAME} and {@code exp_avg_sq.NAME}. */
  final class ByName implements Moments {
    private final FileChannel channel;
    private final Map<String, SafeTensors.Location> locations;

    ByName(Path file) throws IOException {
      locations = SafeTensors.locations(file);
      channel = FileChannel.open(file, StandardOpenOption.READ);
    }

    @Override
    public boolean has(String name) {
      return locations.containsKey("exp_avg." + name) && locations.containsKey("exp_avg_sq." + name);
    }

    @Override
    public void read(String name, boolean second, long offset, float[] into, int at, int count) throws IOException {
      SafeTensors.readFloats(channel, locations.get((second ? "exp_avg_sq." : "exp_avg.") + name), offset, into, at, count);
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  /** One slice of the flat vector of every trained value per rank that wrote it, in the layout's order. */
  final class Sharded implements Moments {
    private final CheckpointStore.OptimizerLayout layout;
    private final Map<String, Long> flatOffsets = new HashMap<>();
    private final FileChannel[] channels;
    private final SafeTensors.Location[][] slices;  // [rank][first, second]

    Sharded(Path path) throws IOException {
      layout = new ObjectMapper().readValue(path.resolve(CheckpointStore.OPTIMIZER_LAYOUT).toFile(),
          CheckpointStore.OptimizerLayout.class);
      long at = 0;
      for (int i = 0; i < layout.names().size(); i++) {
        flatOffsets.put(layout.names().get(i), at);
        at += layout.sizes().get(i);
      }
      channels = new FileChannel[layout.world()];
      slices = new SafeTensors.Location[layout.world()][];
      for (int r = 0; r < layout.world(); r++) {
        Path file = path.resolve(CheckpointStore.optimizerShard(r, layout.world()));
        Map<String, SafeTensors.Location> locations = SafeTensors.locations(file);
        slices[r] = new SafeTensors.Location[] {locations.get("exp_avg"), locations.get("exp_avg_sq")};
        if (slices[r][0] == null || slices[r][1] == null) {
          throw new IOException(file + ": no exp_avg and exp_avg_sq");
        }
        channels[r] = FileChannel.open(file, StandardOpenOption.READ);
      }
    }

    @Override
    public boolean has(String name) {
      return flatOffsets.containsKey(name);
    }

    @Override
    public void read(String name, boolean second, long offset, float[] into, int at, int count) throws IOException {
      long flat = flatOffsets.get(name) + offset;
      for (int done = 0; done < count; ) {
        long position = flat + done;
        int rank = Math.toIntExact(position / layout.shard());
        long within = position % layout.shard();
        int n = (int) Math.min(count - done, layout.shard() - within);
        SafeTensors.readFloats(channels[rank], slices[rank][second ? 1 : 0], within, into, at + done, n);
        done += n;
      }
    }

    @Override
    public void close() throws IOException {
      for (FileChannel channel : channels) {
        channel.close();
      }
    }
  }
}
