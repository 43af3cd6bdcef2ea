/*
 * s3.h - a small S3 client over libcurl: PUT (single or multipart, as a stream sink),
 * GET (streamed, resumed with Range after a dropped connection), HEAD, ListObjectsV2,
 * DELETE, and CopyObject onto itself to set metadata after a multipart upload.
 *
 * Signing is libcurl's CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3"), with three traps of
 * libcurl 7.88 worked around here:
 *   - it does not send x-amz-content-sha256, which S3 requires: every request carries it,
 *     the SHA-256 of its body (bodies are always in memory here, at most one part);
 *   - it signs the query string exactly as written: queries are built canonical, the
 *     parameters sorted and AWS-encoded, "uploads=" with its '=';
 *   - HEAD is CURLOPT_NOBODY (a custom "HEAD" method would wait for a body).
 *
 * Addressing: path-style (ENDPOINT/bucket/key) or virtual-hosted (bucket.host/key).
 * The default is path-style when AWS_ENDPOINT_URL is set (MinIO, s3rver, most
 * S3-compatible stores) and virtual-hosted on AWS (https://bucket.s3.REGION.amazonaws.com).
 *
 * Failures: connection errors, timeouts (no byte for S3_STALL_S seconds) and 5xx/429
 * answers are retried S3_ATTEMPTS times in all, waiting 0.25 s, 0.5 s, 1 s, 2 s between
 * tries. 403 and 404 are not retried and are explained: which credential to check, which
 * bucket is missing.
 *
 * Memory: a multipart upload holds one part (S3_PART_BYTES, or more for sources so big
 * that 10,000 parts would not do) in memory; objects below one part go in a single PUT.
 *
 * Threads: a struct s3 belongs to one thread at a time.
 */
#ifndef ONEFILE_REMOTE_S3_H
#define ONEFILE_REMOTE_S3_H

#include <stddef.h>
#include <stdint.h>

#include "remote/remote.h"
#include "remote/stream.h"

#define S3_PART_BYTES (16u * 1024 * 1024)
#define S3_ATTEMPTS 5
#define S3_STALL_S 60L

enum s3_addressing { S3_AUTO, S3_PATH, S3_VIRTUAL };

struct s3_options {
    const char *bucket;
    const char *prefix;   /* "" or "dir/sub/" (with its trailing slash) */
    const char *endpoint; /* NULL: AWS */
    const char *region;
    const char *access_key; /* NULL: unsigned requests */
    const char *secret_key;
    enum s3_addressing addressing;
    size_t part_bytes; /* 0: S3_PART_BYTES */
};

struct s3;

/* Copies the options. Never NULL. */
struct s3 *s3_new(const struct s3_options *o);
void s3_free(struct s3 *s);

/* See remote.h: remote_put, remote_get, remote_stat, remote_list, remote_delete. Names are
   relative to the prefix; errors start with "s3: " and name the object. */
struct stream *s3_put(struct s3 *s, const char *name, struct remote_meta *meta, uint64_t size_hint,
                      char *err, size_t errlen);
int s3_get(struct s3 *s, const char *name, struct stream *into, char *err, size_t errlen);
int s3_head(struct s3 *s, const char *name, struct remote_meta *meta, char *err, size_t errlen);
int s3_list(struct s3 *s, struct remote_object **out, size_t *n, char *err, size_t errlen);
int s3_delete(struct s3 *s, const char *name, char *err, size_t errlen);

/* AWS URI encoding of s into out (unreserved characters kept, '/' kept when keep_slash).
   Exposed for the tests. */
void s3_uri_encode(const char *s, int keep_slash, struct buf *out);
#endif
