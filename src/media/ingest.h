/*
 * ingest.h - one file into the media library: checked, made safe, stored in chunks.
 *
 * Used by every way a file comes in (the API's and the admin's uploads; the importers
 * next). The file is read from a descriptor (an upload's temporary file, http/upload.h),
 * never trusted:
 *
 *   name      the client's file name must not hold a path ('/', '\\', "..") or control
 *             characters; what is kept is its stem in [A-Za-z0-9._-] (others become '-')
 *             with the extension of the sniffed type
 *   type      sniffed from the bytes (media/sniff.h); SVG and HTML refused by name,
 *             unknown types and types not in ONEFILE_MEDIA_TYPES refused
 *   images    decoded and re-saved by media/image.h: pixel limit, truncation, EXIF
 *             orientation applied, metadata (GPS) stripped; the copy is what is stored
 *   storage   SHA-256 of the stored bytes; the store's begin / chunk / finish sequence
 *             (store/media.h), one writer call per MEDIA_CHUNK; an identical file already
 *             stored is found and nothing is written
 *
 * Threads: any thread that may wait on the writer (an HTTP worker, a command).
 */
#ifndef ONEFILE_MEDIA_INGEST_H
#define ONEFILE_MEDIA_INGEST_H
#include <stddef.h>
#include <stdint.h>

#include "store/media.h"

struct writer;
struct config;

/* What went wrong; the caller maps these to its answer (HTTP status, exit code). */
#define INGEST_EINTERNAL (-1) /* logged: temporary file, library */
#define INGEST_ENAME (-2)     /* the file name holds a path or control characters (400) */
#define INGEST_EEMPTY (-3)    /* no bytes (400) */
#define INGEST_ETYPE (-4)     /* unknown or not allowed type (415) */
#define INGEST_EIMAGE (-5)    /* a damaged, truncated or too large image (422) */
#define INGEST_EWRITE (-6)    /* the database would not take it (503) */

/* Ingests size bytes of fd (from offset 0) named filename (may be NULL or ""). 0 with out
   filled and *existing set when those bytes were stored already; else an INGEST_E* code
   with msg filled for the user. */
int media_ingest(struct writer *w, const struct config *cfg, int fd, uint64_t size,
                 const char *filename, struct media_info *out, int *existing, char *msg,
                 size_t msglen);
#endif
