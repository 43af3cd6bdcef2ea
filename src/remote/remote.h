/*
 * remote.h - where backups are stored: a directory (file:///dir) or an S3-compatible
 * bucket (s3://bucket/prefix), behind one set of operations: put (a stream sink), get
 * (streamed into a stream), stat, list and delete.
 *
 * Objects are flat names ("onefile-20261123T030000Z.sqlite.gz") under the URL. Each
 * carries its metadata (struct remote_meta): on S3 as x-amz-meta-* headers, in a
 * directory as a sidecar NAME.json written after the object. An object appears under its
 * name only once whole: in a directory it is written to a hidden temporary file, synced
 * and renamed; on S3 a single PUT or a completed multipart upload is atomic.
 *
 * Threads: a struct remote belongs to one thread at a time.
 *
 * The folder src/remote/ owns what leaves the machine: destinations (file://, s3://), byte
 * streams, compression, encryption, backups and restores. It may call core/, db/
 * (snapshot, readers, writer), store/ (the backups table) and, today, http/app.h.
 */
#ifndef ONEFILE_REMOTE_REMOTE_H
#define ONEFILE_REMOTE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "remote/crypt.h"
#include "remote/stream.h"

#define REMOTE_ENOTFOUND (-2) /* no such object (stat, get, delete) */

/* What an object says about itself. Empty strings / -1 when unknown. */
struct remote_meta {
    char sha256[65];               /* SHA-256 of the stored bytes, hex */
    long long size;                /* stored bytes */
    long long source_size;         /* bytes of the database snapshot */
    long long schema_version;      /* newest onefile migration in the snapshot */
    char onefile_version[32];      /* of the binary that made it */
    char compression[8];           /* gzip, zstd or none */
    char key_id[CRYPT_KEY_ID_HEX]; /* the encryption key's id, "" when not encrypted */
    char created_at[24];           /* ISO 8601 UTC */
};

struct remote_object {
    char name[128];
    long long size;
    long long mtime; /* seconds since the epoch (last modified) */
};

struct remote;

/* Marks every field of m unknown. */
void remote_meta_init(struct remote_meta *m);

/* Parses url (file:///dir or s3://bucket[/prefix]) with the credentials and endpoint of
   cfg. 0 with *out set, or -1 with err filled. */
int remote_open(const struct config *cfg, const char *url, struct remote **out, char *err,
                size_t errlen);
void remote_free(struct remote *r);
/* The URL it was opened with (valid until remote_free). */
const char *remote_url(const struct remote *r);
/* "URL/name", owned by the caller. */
char *remote_object_url(const struct remote *r, const char *name);

/* A sink storing the object `name`: bytes written to it form the object, which is
   committed by stream_finish() with the metadata *meta as it is at that moment (so a
   hash filter before the sink can fill meta->sha256 first; meta must outlive the sink).
   Freeing the sink unfinished discards everything. size_hint (0 = unknown) is the
   expected size, used to pick the multipart part size. Never NULL. */
struct stream *remote_put(struct remote *r, const char *name, struct remote_meta *meta,
                          uint64_t size_hint, char *err, size_t errlen);
/* Streams the object's bytes into `into` (not finished: the caller does that).
   0, REMOTE_ENOTFOUND or -1, with err filled. */
int remote_get(struct remote *r, const char *name, struct stream *into, char *err, size_t errlen);
/* The object's size and metadata. 0, REMOTE_ENOTFOUND or -1, with err filled. */
int remote_stat(struct remote *r, const char *name, struct remote_meta *meta, char *err,
                size_t errlen);
/* Every backup object ("onefile-*", sidecars and temporary files left out), in no
   particular order. *out is malloc'ed (free it); 0, or -1 with err filled. */
int remote_list(struct remote *r, struct remote_object **out, size_t *n, char *err, size_t errlen);
/* Deletes the object and its sidecar. 0, or -1 with err filled. */
int remote_delete(struct remote *r, const char *name, char *err, size_t errlen);
#endif
