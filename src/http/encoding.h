/*
 * encoding.h - content codings of responses: which one a client accepts (Accept-Encoding
 * with q-values), which bodies are worth compressing, and compressing one (gzip through
 * zlib, zstd through libzstd).
 *
 * Compression is done once per representation, never per request: the response cache
 * (http/cache.h) keeps each compressed variant beside the identity body, and the theme's
 * static files are compressed once at start (site/theme.h). Small bodies (under
 * ENCODING_MIN_BYTES) and types that are already compressed (images, fonts, archives)
 * are sent as they are.
 *
 * A compressed variant is a different representation: its strong ETag is the identity's
 * with a suffix ("abc" -> "abc-gz"), and every response that could have been compressed
 * says Vary: Accept-Encoding.
 * Threads: any (no state).
 */
#ifndef ONEFILE_HTTP_ENCODING_H
#define ONEFILE_HTTP_ENCODING_H
#include <stddef.h>

enum encoding { ENCODING_IDENTITY, ENCODING_GZIP, ENCODING_ZSTD, ENCODING_COUNT };

#define ENCODING_MIN_BYTES 1024 /* below, a body fits a packet or two: nothing to gain */
#define ENCODING_ALL ((1u << ENCODING_GZIP) | (1u << ENCODING_ZSTD))

/* The best coding among `available` (a mask of 1u << ENCODING_*) that the Accept-Encoding
   value allows (NULL: none sent), by q-value; zstd before gzip at an equal q. Returns
   ENCODING_IDENTITY when nothing else is acceptable (identity is always served, even when
   the client excluded it: a 406 helps nobody). */
enum encoding encoding_choose(const char *accept_encoding, unsigned available);
/* Whether a body of this content type and length is worth compressing: text, JSON, XML,
   JavaScript, SVG of at least ENCODING_MIN_BYTES. */
int encoding_worth(const char *content_type, size_t len);
/* Whether a response of this content type may vary by Accept-Encoding (a compressible
   type, whatever its length today). */
int encoding_compressible(const char *content_type);
/* Compresses data with coding e (GZIP or ZSTD) at a level meant for compress-once: 0 with
   *out (malloc'ed, caller frees) and *outlen set, or -1 when the result would not be
   smaller than the input (nothing allocated). */
int encoding_compress(enum encoding e, const char *data, size_t len, char **out, size_t *outlen);
/* The Content-Encoding token of e ("gzip", "zstd"), NULL for identity. */
const char *encoding_name(enum encoding e);
/* The ETag of e's variant from the identity's strong ETag ("\"abc\"" -> "\"abc-gz\"") into
   out (size outlen); the identity's unchanged for ENCODING_IDENTITY. */
void encoding_etag(const char *etag, enum encoding e, char *out, size_t outlen);
#endif
