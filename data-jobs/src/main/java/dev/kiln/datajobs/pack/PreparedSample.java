package dev.kiln.datajobs.pack;

import dev.kiln.data.text.SampleTokens;

/** A sample ready to pack: its tokens and its image re-encoded at the encoder's resolution. */
record PreparedSample(String key, String source, SampleTokens tokens, byte[] jpeg, String problem) {

  static PreparedSample bad(String key, String source, String problem) {
    return new PreparedSample(key, source, null, null, problem);
  }

  boolean ok() {
    return problem == null;
  }
}
