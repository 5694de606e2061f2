package dev.kiln.datajobs.fetch;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A digest the source publishes for a file: its sha256, or for a file a hub keeps in git (not
 * LFS) the git blob id, the sha1 of {@code "blob SIZE\0"} followed by the content.
 */
record Checksum(Kind kind, String hex) {

  /** How the digest is computed. */
  enum Kind { SHA256, GIT_BLOB_SHA1 }

  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern SHA1_HEX = Pattern.compile("[0-9a-f]{40}");

  Checksum {
    hex = hex.toLowerCase(Locale.ROOT);
  }

  /** A sha256 from 64 hex digits, or null when {@code value} is not one (an ETag of another kind). */
  static Checksum sha256OrNull(String value) {
    if (value == null) {
      return null;
    }
    String hex = value.strip().toLowerCase(Locale.ROOT);
    return SHA256_HEX.matcher(hex).matches() ? new Checksum(Kind.SHA256, hex) : null;
  }

  /** A git blob id from 40 hex digits, or null. */
  static Checksum gitBlobOrNull(String value) {
    if (value == null) {
      return null;
    }
    String hex = value.strip().toLowerCase(Locale.ROOT);
    return SHA1_HEX.matcher(hex).matches() ? new Checksum(Kind.GIT_BLOB_SHA1, hex) : null;
  }

  /** A digest ready for the content of a file of {@code size} bytes. */
  MessageDigest start(long size) {
    try {
      if (kind == Kind.SHA256) {
        return MessageDigest.getInstance("SHA-256");
      }
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      sha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
      return sha1;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has " + kind, e);
    }
  }

  static String hex(MessageDigest digest) {
    return HexFormat.of().formatHex(digest.digest());
  }

  String label() {
    return kind == Kind.SHA256 ? "sha256" : "git blob id";
  }

  @Override
  public String toString() {
    return label() + " " + hex;
  }
}
