/*
 * walcapture.h - reading the frames a WAL holds, validated, through SQLite's own handle on
 * the -wal file: the first piece of continuous replication (issue 13).
 *
 * The WAL is read with sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER)
 * and the handle's xRead/xFileSize, so no descriptor is ever opened (or closed) on the
 * live -wal file: closing one would drop the process's POSIX locks.
 *
 * What is returned is exactly what SQLite's own recovery would accept:
 *   - the header's magic (0x377f0682 little-endian checksums, 0x377f0683 big-endian),
 *     version and page size are checked, and its checksum over bytes 0-23;
 *   - a frame counts only when its salts equal the header's and its cumulative checksum
 *     (over the first 8 bytes of its header and its page, chained from the previous
 *     frame) matches; reading stops at the first frame that fails (a torn write after a
 *     crash, stale frames of an older log). The file size is never the valid end;
 *   - only frames through the last *commit* frame (header bytes 4-7 non-zero: the
 *     database size in pages) are returned; frames of a transaction that has not
 *     committed (or was rolled back after spilling) are left for a later call or never.
 *
 * A salt change means the log restarted (after a checkpoint that completed, the next
 * writer starts again at frame 1 with salt1 + 1 and a new salt2). walcapture_read()
 * reports it as WALCAPTURE_ENEWLOG and changes nothing: whether the new log continues
 * the old one is the caller's to judge (it is continuous only when every committed frame
 * of the old log was captured before the restart); walcapture_restart() then accepts it.
 *
 * Threads: a struct walcapture belongs to the thread that owns its connection.
 */
#ifndef ONEFILE_DB_WALCAPTURE_H
#define ONEFILE_DB_WALCAPTURE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define WALCAPTURE_HEADER 32       /* bytes of the WAL header */
#define WALCAPTURE_FRAME_HEADER 24 /* bytes before each frame's page */
#define WALCAPTURE_ENEWLOG (-2)    /* the WAL's salts changed since the last read */

struct walcapture {
    uint32_t page_size; /* from the header; 0 until the first header is read */
    uint32_t salt[2];   /* the log being followed */
    uint32_t cksum[2];  /* the running checksum after the last returned commit frame */
    int big_endian;     /* checksum byte order, from the magic */
    long long next;     /* number (1-based) of the next frame to read; 0: read the header */
    uint32_t db_pages;  /* database size in pages after the last returned commit */
};

/* Starts with no log followed: the next read takes the WAL's header as it finds it. */
void walcapture_init(struct walcapture *c);
/* Accepts a new log (after WALCAPTURE_ENEWLOG): the next read starts at its frame 1. */
void walcapture_restart(struct walcapture *c);
/* Appends to out every whole frame (24-byte header + page) committed since the last call,
   through the last valid commit frame, and advances. *frames gets their number (0: none;
   an empty or missing WAL is not an error). 0; WALCAPTURE_ENEWLOG (nothing appended, c
   unchanged; the new salts are in *new_salt when not NULL); or -1 with err filled (no
   WAL handle, a header SQLite would not accept, an I/O error, out's limit). */
int walcapture_read(struct walcapture *c, sqlite3 *db, struct buf *out, long long *frames,
                    uint32_t new_salt[2], char *err, size_t errlen);

/* The cumulative WAL checksum of n bytes (n a multiple of 8) continuing from in[2] into
   out[2], in the byte order the magic names (SQLite's walChecksumBytes). */
void walcapture_checksum(int big_endian, const uint8_t *p, size_t n, const uint32_t in[2],
                         uint32_t out[2]);
/* A big-endian 32-bit word at p (how the WAL stores its header fields). */
uint32_t walcapture_be32(const uint8_t *p);
#endif
