package dev.kiln.images;

import java.time.Instant;

/** What every Kiln image shares: the user it runs as, its file times, its platform. */
public final class Images {

  /** The non-root user (and group) every Kiln image runs as, as distroless images name it: nonroot. */
  public static final int NONROOT = 65532;
  /** File times and the creation time of every image: fixed, so equal inputs give equal digests. */
  public static final Instant EPOCH = Instant.parse("2026-01-01T00:00:00Z");

  private Images() {}
}
