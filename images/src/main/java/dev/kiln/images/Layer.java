package dev.kiln.images;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * One image layer: files, folders and symbolic links at absolute paths of the image, written as a
 * gzipped tar whose bytes depend only on its contents (sorted entries, fixed times, owner root
 * unless told otherwise), so that the same inputs give the same digest on every machine.
 */
public final class Layer {

  /** An entry of the layer: its content comes from a file of the build, from bytes, or it is a folder or link. */
  private record Entry(Path source, byte[] bytes, String linkTarget, boolean directory, int mode, int owner) {}

  private final String name;
  private final Map<String, Entry> entries = new TreeMap<>();

  public Layer(String name) {
    this.name = name;
  }

  public String name() {
    return name;
  }

  /** Adds a folder of the build and everything under it at {@code target}, keeping links and executable bits. */
  public Layer addTree(Path source, String target) {
    try (Stream<Path> walk = Files.walk(source)) {
      for (Path path : walk.sorted().toList()) {
        String relative = source.relativize(path).toString().replace('\\', '/');
        String at = relative.isEmpty() ? target : join(target, relative);
        if (Files.isSymbolicLink(path)) {
          put(at, new Entry(null, null, Files.readSymbolicLink(path).toString(), false, 0777, 0));
        } else if (Files.isDirectory(path)) {
          put(at, new Entry(null, null, null, true, 0755, 0));
        } else {
          put(at, new Entry(path, null, null, false, executable(path) ? 0755 : 0644, 0));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + source, e);
    }
    return this;
  }

  public Layer addFile(String target, byte[] content, int mode) {
    put(target, new Entry(null, content, null, false, mode, 0));
    return this;
  }

  /** A folder owned by {@code owner} (user and group), for example /tmp (mode 01777). */
  public Layer addDirectory(String target, int mode, int owner) {
    put(target, new Entry(null, null, null, true, mode, owner));
    return this;
  }

  public Layer addSymlink(String target, String pointsTo) {
    put(target, new Entry(null, null, pointsTo, false, 0777, 0));
    return this;
  }

  private void put(String path, Entry entry) {
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("image paths are absolute: " + path);
    }
    if (path.equals("/")) {
      return;  // the root exists in every image; an entry for it would have an empty name
    }
    for (String parent = parentOf(path); parent != null && !parent.equals("/"); parent = parentOf(parent)) {
      entries.putIfAbsent(parent, new Entry(null, null, null, true, 0755, 0));
    }
    entries.put(path, entry);
  }

  /** The written layer: the gzipped tar in a file, and the digests an image manifest and config name it by. */
  public record Blob(String name, Path file, String digest, String diffId, long size) {}

  /** Writes the layer into {@code folder} as {@code <sha256>.tar.gz}. */
  public Blob write(Path folder) {
    MessageDigest uncompressed = sha256();
    MessageDigest compressed = sha256();
    Path partial;
    try {
      Files.createDirectories(folder);
      partial = Files.createTempFile(folder, name, ".partial");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write layer " + name + " into " + folder, e);
    }
    try (OutputStream file = new DigestOutputStream(Files.newOutputStream(partial), compressed);
        GZIPOutputStream gzip = new GZIPOutputStream(new java.io.BufferedOutputStream(file, 1 << 16), 1 << 16);
        DigestOutputStream digesting = new DigestOutputStream(gzip, uncompressed);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(nonClosing(digesting))) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      tar.setAddPaxHeadersForNonAsciiNames(true);
      for (Map.Entry<String, Entry> item : entries.entrySet()) {
        writeEntry(tar, item.getKey().substring(1), item.getValue());
      }
      tar.finish();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write layer " + name, e);
    }
    String digest = hex(compressed.digest());
    try {
      long size = Files.size(partial);
      Path blob = Files.move(partial, folder.resolve(digest + ".tar.gz"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      return new Blob(name, blob, "sha256:" + digest, "sha256:" + hex(uncompressed.digest()), size);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write layer " + name, e);
    }
  }

  private static void writeEntry(TarArchiveOutputStream tar, String path, Entry entry) throws IOException {
    TarArchiveEntry tarEntry;
    if (entry.directory()) {
      tarEntry = new TarArchiveEntry(path + "/");
    } else if (entry.linkTarget() != null) {
      tarEntry = new TarArchiveEntry(path, TarConstants.LF_SYMLINK);
      tarEntry.setLinkName(entry.linkTarget());
    } else {
      tarEntry = new TarArchiveEntry(path);
      tarEntry.setSize(entry.bytes() != null ? entry.bytes().length : Files.size(entry.source()));
    }
    tarEntry.setMode((entry.directory() ? 040000 : entry.linkTarget() != null ? 0120000 : 0100000) | entry.mode());
    tarEntry.setModTime(Images.EPOCH.toEpochMilli());
    tarEntry.setUserId(entry.owner());
    tarEntry.setGroupId(entry.owner());
    tarEntry.setUserName("");
    tarEntry.setGroupName("");
    tar.putArchiveEntry(tarEntry);
    if (!entry.directory() && entry.linkTarget() == null) {
      if (entry.bytes() != null) {
        tar.write(entry.bytes());
      } else {
        Files.copy(entry.source(), tar);
      }
    }
    tar.closeArchiveEntry();
  }

  private static boolean executable(Path path) throws IOException {
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
      return permissions.contains(PosixFilePermission.OWNER_EXECUTE);
    } catch (UnsupportedOperationException e) {
      return false;
    }
  }

  private static String join(String folder, String relative) {
    return folder.endsWith("/") ? folder + relative : folder + "/" + relative;
  }

  private static String parentOf(String path) {
    int slash = path.lastIndexOf('/');
    return slash <= 0 ? null : path.substring(0, slash);
  }

  /** The tar stream must not close the digest and gzip streams under it before they are read. */
  private static OutputStream nonClosing(OutputStream out) {
    return new java.io.FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        flush();
      }
    };
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String hex(byte[] digest) {
    return HexFormat.of().formatHex(digest);
  }
}
