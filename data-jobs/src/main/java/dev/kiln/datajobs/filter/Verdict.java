package dev.kiln.datajobs.filter;

/** What a filter says about one sample: keep it, drop it, or it is unusable (with a reason). */
public record Verdict(Kind kind, String reason, Double score) {

  /** The three outcomes. */
  public enum Kind { KEEP, DROP, BAD }

  public static Verdict keep(Double score) {
    return new Verdict(Kind.KEEP, null, score);
  }

  public static Verdict drop(Double score) {
    return new Verdict(Kind.DROP, null, score);
  }

  public static Verdict bad(String reason) {
    return new Verdict(Kind.BAD, reason, null);
  }
}
