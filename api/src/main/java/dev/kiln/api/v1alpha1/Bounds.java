package dev.kiln.api.v1alpha1;

/**
 * Upper bounds the schema declares on strings and lists. The API server estimates the cost of
 * every CEL rule from them (an unbounded string counts as 3 MiB), so each one must be declared.
 */
public final class Bounds {

  /** Stage and source names: DNS labels short enough for child object names. */
  public static final int SHORT_NAME = 20;
  /** Kubernetes object names (DNS subdomains) and other free-form identifiers. */
  public static final int NAME = 253;
  /** Label values: queue names, GPU product names. */
  public static final int LABEL = 63;
  /** Paths and shard patterns on a claim. */
  public static final int PATH = 1024;
  /** Container image references. */
  public static final int IMAGE = 512;
  /** Kubernetes quantities ({@code 100Gi}, {@code 500m}). */
  public static final int QUANTITY = 32;
  /** {@code ReadWriteOncePod}, the longest access mode. */
  public static final int ACCESS_MODE = 16;
  /** Stages' source lists, as many as data sources. */
  public static final int SOURCES = 32;
  /** Stages of one job (the recipe has two), in the spec and the status: bounds what a rule over them may cost. */
  public static final int STAGES = 8;

  /** A sha256 in hex, as Kiln records them. */
  public static final String SHA256_PATTERN = "^[0-9a-f]{64}$";

  /** A non-negative Kubernetes quantity: Kubernetes' own quantity grammar without the minus sign. */
  public static final String QUANTITY_PATTERN =
      "^[+]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

  /** A label key: an optional DNS prefix and /, then a name of at most 63 characters. */
  public static final String LABEL_KEY_PATTERN =
      "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";

  private Bounds() {}
}
