/*
 * media.h - uploaded files in the database: the media, media_chunks and media_variants
 * tables (migrations/0002_media.sql).
 *
 * A file is stored in chunks of MEDIA_CHUNK bytes, each chunk written by its own writer
 * function, so a large upload holds the one write lock for one chunk at a time, never for
 * the whole file. The sequence, from the uploading thread (api/media.c, media/ingest.c):
 *
 *   media_begin     (writer)  finds a ready row with the same SHA-256 (then nothing more
 *                             is written: deduplicated), or replaces a stale pending one,
 *                             and inserts the new row as 'pending'
 *   media_put_chunk (writer)  once per chunk, seq 0, 1, ...
 *   media_finish    (writer)  'ready', only when every chunk is there
 *   media_abort     (writer)  on any failure in between: the pending row and its chunks go
 *
 * Reads (media_get*, media_read, media_list...) see ready rows only. A server killed in
 * the middle leaves a pending row (never served); the next upload of the same bytes
 * replaces it. (Removing old pending rows of files never uploaded again is not done yet.)
 *
 * Threads: the caller's connection, as db/readers.h and db/writer.h say.
 */
#ifndef ONEFILE_STORE_MEDIA_H
#define ONEFILE_STORE_MEDIA_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "db/driver.h"

#define MEDIA_CHUNK (512 * 1024)
#define MEDIA_MAX_LIMIT 100

struct media_info {
    int64_t id;
    char sha256[65];
    char filename[256];
    char mime[80];
    int64_t bytes, width, height, chunks; /* width/height 0 when not an image */
    char created_at[32];
};

/* media_begin's argument: the file's facts in, the row's id and whether it existed out. */
struct media_new {
    struct media_info info; /* id ignored on input */
    int64_t id;             /* out: the row (new and pending, or the existing ready one) */
    int existing;           /* out: a ready row already held these bytes */
};
int media_begin(struct db_conn *c, void *arg, char *err, size_t errlen);

struct media_chunk {
    int64_t media_id, seq;
    const void *data; /* borrowed until the write ran */
    size_t len;
};
/* One statement: may run WRITER_ATOMIC. */
int media_put_chunk(struct db_conn *c, void *arg, char *err, size_t errlen);
/* arg: int64_t *id. Fails (nothing changed) unless the row is pending with every chunk. */
int media_finish(struct db_conn *c, void *arg, char *err, size_t errlen);
/* arg: int64_t *id. Removes the row if still pending (its chunks cascade). */
int media_abort(struct db_conn *c, void *arg, char *err, size_t errlen);

/* media_delete's argument. */
struct media_del {
    int64_t id;
    int not_found; /* out */
};
/* Deletes a ready row, its chunks and variants (one statement, cascading). */
int media_delete(struct db_conn *c, void *arg, char *err, size_t errlen);

/* A ready media by hash / by id: 0 found (*out filled), 1 not found, -1 logged. */
int media_get_by_sha(struct db_conn *c, const char *sha256, struct media_info *out);
int media_get(struct db_conn *c, int64_t id, struct media_info *out);
/* Appends bytes [offset, offset + len) of m's file to out (its cap applies). 0, or -1
   logged (a chunk missing or short: the row is damaged). */
int media_read(struct db_conn *c, const struct media_info *m, uint64_t offset, uint64_t len,
               struct buf *out);
/* Newest first; search (may be NULL) is a substring of the file name; before a cursor
   (0: newest). *items an array of objects (media_json's shape without url), *next the
   cursor of the next page or 0. 0 or -1. */
int media_list(struct db_conn *c, const char *search, int limit, int64_t before, json_t **items,
               int64_t *next);
/* How many posts or pages mention /media/<sha256>/ in their body. -1 on error. */
int64_t media_used_by(struct db_conn *c, const char *sha256);
/* Ready media: count and total bytes (for the dashboard). 0 or -1. */
int media_totals(struct db_conn *c, int64_t *count, int64_t *bytes);
/* m as a JSON object: id, sha256, filename, mime, bytes, width, height, created_at. */
json_t *media_json(const struct media_info *m);

/* Variants (resized WebP copies of an image). */
struct media_variant {
    int64_t media_id, width, height;
    const char *mime;
    const void *data; /* borrowed until the write ran */
    size_t len;
};
/* Inserts one variant; an existing (media_id, width) is kept (the job ran twice). */
int media_variant_put(struct db_conn *c, void *arg, char *err, size_t errlen);
/* The widths (ascending) and heights of m's variants into w/h (n at most); count or -1. */
int media_variant_widths(struct db_conn *c, int64_t media_id, int64_t *w, int64_t *h, int n);
/* Variant `width` of media_id appended to out, its mime into mime (80 bytes). 0, 1 none,
   -1 logged. */
int media_variant_get(struct db_conn *c, int64_t media_id, int64_t width, char *mime,
                      struct buf *out);
#endif
