package dev.kiln.local;

/**
 * A change the local API server has just stored, as an audit log's last stage records it: when
 * ({@link System#nanoTime}), of which resource (its plural, {@code pods}), and the object's JSON
 * before and after (null: it did not exist, or no longer does).
 */
public record ApiCommit(long nanoTime, String resource, String before, String after) {}
