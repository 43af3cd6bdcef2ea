/*
 * compress.h - gzip, zstd or no compression, as stream filters (remote/stream.h).
 *
 * Memory is bounded whatever the size of the data: zlib's deflate state (~256 KiB at
 * level 9), a zstd context (a few MiB at level 19, its window at most 8 MiB by default
 * for levels up to 19) and one 256 KiB output buffer per filter. Decoders refuse input
 * that does not end a stream properly ("truncated") or goes on after its end ("trailing
 * data"), and zstd frames carry their XXH64 content checksum, gzip its CRC-32, so damage
 * that the SHA-256 check missed is still caught.
 *
 * Threads: a filter belongs to one thread.
 */
#ifndef ONEFILE_REMOTE_COMPRESS_H
#define ONEFILE_REMOTE_COMPRESS_H

#include <stddef.h>

#include "remote/stream.h"

enum compress_kind { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD };

/* "gzip", "zstd" or "none" -> kind. 0, or -1 when unknown. */
int compress_parse(const char *name, enum compress_kind *out);
const char *compress_name(enum compress_kind k);
/* ".gz", ".zst" or "" - the suffix an object name carries after ".sqlite". */
const char *compress_suffix(enum compress_kind k);
/* Whether level is allowed for k (0 = the codec's default: gzip 6, zstd 3; gzip 1-9,
   zstd 1-19, none only 0). 0, or -1 with err filled. */
int compress_level_check(enum compress_kind k, int level, char *err, size_t errlen);

/* A filter that compresses what it is given into next (owned). Never NULL (OOM aborts;
   a bad level is a programming error: check it first). */
struct stream *compress_encoder_new(enum compress_kind k, int level, struct stream *next);
/* A filter that decompresses into next (owned). */
struct stream *compress_decoder_new(enum compress_kind k, struct stream *next);
#endif
