package dev.kiln.datajobs.filter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A set of 128-bit sample uids (DataComp's 32-hex-digit uids), from DFN's released {@code .npy}
 * (sorted pairs of little-endian uint64: high, low) or a text file with one hex uid per line.
 * Stored as two sorted long arrays; lookups are binary searches.
 */
public final class UidSet {

  private static final Pattern DESCR = Pattern.compile("'descr':\\s*(\\[[^]]*]|'[^']*')");
  private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");

  private final long[] high;
  private final long[] low;

  private UidSet(long[] high, long[] low) {
    this.high = high;
    this.low = low;
  }

  public static UidSet load(Path file) {
    try {
      byte[] bytes = Files.readAllBytes(file);
      return file.toString().endsWith(".npy") ? fromNpy(bytes, file) : fromText(new String(bytes, StandardCharsets.UTF_8), file);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot read uid list: " + e.getMessage(), e);
    }
  }

  public int size() {
    return high.length;
  }

  /** Whether the 32-hex-digit uid is in the set; false for anything that is not a uid. */
  public boolean contains(String uid) {
    long[] pair = parse(uid);
    if (pair == null) {
      return false;
    }
    int lo = 0;
    int hi = high.length - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = compare(high[mid], low[mid], pair[0], pair[1]);
      if (c == 0) {
        return true;
      }
      if (c < 0) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return false;
  }

  /** {@code 0a1b...} (32 hex digits) as {high, low}; null when malformed. */
  static long[] parse(String uid) {
    if (uid == null || uid.length() != 32) {
      return null;
    }
    try {
      return new long[] {Long.parseUnsignedLong(uid.substring(0, 16), 16), Long.parseUnsignedLong(uid.substring(16), 16)};
    } catch (NumberFormatException e) {
      return null;
    }
  }

  static UidSet fromNpy(byte[] bytes, Path file) {
    if (bytes.length < 10 || (bytes[0] & 0xff) != 0x93 || !new String(bytes, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
      throw new IllegalArgumentException(file + ": not a .npy file (bad magic)");
    }
    int major = bytes[6];
    ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int headerLength = major == 1 ? Short.toUnsignedInt(buffer.getShort(8)) : buffer.getInt(8);
    int dataStart = (major == 1 ? 10 : 12) + headerLength;
    String header = new String(bytes, major == 1 ? 10 : 12, headerLength, StandardCharsets.ISO_8859_1);
    Matcher descr = DESCR.matcher(header);
    Matcher shape = SHAPE.matcher(header);
    Matcher fortran = FORTRAN.matcher(header);
    if (!descr.find() || !shape.find()) {
      throw new IllegalArgumentException(file + ": .npy header without descr or shape: " + header.strip());
    }
    String type = descr.group(1).replace(" ", "");
    String[] dims = Arrays.stream(shape.group(1).split(",")).map(String::strip).filter(s -> !s.isEmpty()).toArray(String[]::new);
    boolean pairsStruct = type.matches("\\[\\('[^']*','<u8'\\),\\('[^']*','<u8'\\)]");
    boolean matrix = type.equals("'<u8'") && dims.length == 2 && dims[1].equals("2");
    if (!pairsStruct && !matrix) {
      throw new IllegalArgumentException(file + ": expected uint64 pairs (DFN uid format), found descr " + type
          + " shape (" + shape.group(1) + ")");
    }
    if (matrix && fortran.find() && fortran.group(1).equals("True")) {
      throw new IllegalArgumentException(file + ": Fortran-ordered arrays are not supported");
    }
    long count = Long.parseLong(dims[0]);
    if (dataStart + count * 16 > bytes.length) {
      throw new IllegalArgumentException(file + ": truncated: header says " + count + " uids");
    }
    long[] high = new long[(int) count];
    long[] low = new long[(int) count];
    for (int i = 0; i < count; i++) {
      high[i] = buffer.getLong(dataStart + 16 * i);
      low[i] = buffer.getLong(dataStart + 16 * i + 8);
    }
    return sorted(high, low);
  }

  static UidSet fromText(String text, Path file) {
    List<long[]> pairs = new ArrayList<>();
    int line = 0;
    for (String raw : text.split("\n")) {
      line++;
      String uid = raw.strip();
      if (uid.isEmpty() || uid.startsWith("#")) {
        continue;
      }
      long[] pair = parse(uid);
      if (pair == null) {
        throw new IllegalArgumentException(file + ":" + line + ": not a 32-hex-digit uid: \"" + uid + "\"");
      }
      pairs.add(pair);
    }
    long[] high = new long[pairs.size()];
    long[] low = new long[pairs.size()];
    for (int i = 0; i < pairs.size(); i++) {
      high[i] = pairs.get(i)[0];
      low[i] = pairs.get(i)[1];
    }
    return sorted(high, low);
  }

  /** Sorts (released lists are sorted already, but a hand-made one may not be). */
  private static UidSet sorted(long[] high, long[] low) {
    Integer[] order = new Integer[high.length];
    boolean alreadySorted = true;
    for (int i = 0; i < high.length; i++) {
      order[i] = i;
      if (i > 0 && compare(high[i - 1], low[i - 1], high[i], low[i]) > 0) {
        alreadySorted = false;
      }
    }
    if (alreadySorted) {
      return new UidSet(high, low);
    }
    Arrays.sort(order, (a, b) -> compare(high[a], low[a], high[b], low[b]));
    long[] h = new long[high.length];
    long[] l = new long[low.length];
    for (int i = 0; i < order.length; i++) {
      h[i] = high[order[i]];
      l[i] = low[order[i]];
    }
    return new UidSet(h, l);
  }

  private static int compare(long h1, long l1, long h2, long l2) {
    int c = Long.compareUnsigned(h1, h2);
    return c != 0 ? c : Long.compareUnsigned(l1, l2);
  }
}
