package dev.kiln.datajobs.fetch;

import java.net.URI;
import java.net.http.HttpHeaders;
import java.util.function.Function;

/**
 * One file of a source: where it lands under the output folder, how to GET it, and what the
 * source says about it (size, digest); a digest the source only gives in the download's response
 * headers comes from {@code checksumInResponse}.
 *
 * @param path where it lands, relative to the output folder, {@code /}-separated
 * @param size bytes, or -1 when the source did not say
 * @param checksum the digest the listing gave, or null
 * @param checksumInResponse reads a digest from the headers of the first response to {@code uri}, or gives null
 */
record RemoteFile(String path, URI uri, RequestAuth auth, long size, Checksum checksum,
    Function<HttpHeaders, Checksum> checksumInResponse) {

  static final Function<HttpHeaders, Checksum> NO_CHECKSUM_IN_RESPONSE = headers -> null;

  RemoteFile withSizeAndChecksum(long newSize, Checksum newChecksum) {
    return new RemoteFile(path, uri, auth, newSize, newChecksum, checksumInResponse);
  }
}
