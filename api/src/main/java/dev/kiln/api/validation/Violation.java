package dev.kiln.api.validation;

/** One problem with a job, located by its field path ({@code spec.stages[1].initFrom}). */
public record Violation(String field, String message) {

  @Override
  public String toString() {
    return field + ": " + message;
  }
}
