/*
 * walcapture.c - validated reads of the WAL through SQLite's own file handle; the
 * contract is in walcapture.h.
 *
 * DESIGN
 *
 * One call: read the 32-byte header (cheap; it tells whether the log restarted), then
 * frames from c->next on, one at a time into a scratch buffer of one frame, appending
 * each valid one to `out`. `keep` remembers out's length after the last commit frame, so
 * the frames of a transaction that has not committed are cut off again at the end, and
 * the running checksum and frame number advance only to that commit. Reading stops at
 * the end of the file or at the first frame whose salts or checksum do not match,
 * whichever comes first: the same rule SQLite's recovery applies, so what is returned is
 * what a crash-recovered database would contain.
 *
 * Invariant: after a call, c->cksum is the checksum of frame c->next - 1 (or the
 * header's when c->next is 1), the value the next frame must chain from.
 */
#include "db/walcapture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MAGIC_LE 0x377f0682u
#define MAGIC_BE 0x377f0683u
#define WAL_VERSION 3007000u

uint32_t walcapture_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

void walcapture_checksum(int big_endian, const uint8_t *p, size_t n, const uint32_t in[2],
                         uint32_t out[2])
{
    uint32_t s1 = in[0], s2 = in[1];
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint32_t x0 = big_endian ? walcapture_be32(p + i) : le32(p + i);
        uint32_t x1 = big_endian ? walcapture_be32(p + i + 4) : le32(p + i + 4);
        s1 += x0 + s2;
        s2 += x1 + s1;
    }
    out[0] = s1;
    out[1] = s2;
}

void walcapture_init(struct walcapture *c)
{
    memset(c, 0, sizeof(*c));
}

void walcapture_restart(struct walcapture *c)
{
    c->next = 0;
}

/* Reads n bytes at off; 1 when they are all in the file, 0 past its end, -1 on error. */
static int read_at(sqlite3_file *f, void *p, int n, sqlite3_int64 off, sqlite3_int64 size)
{
    if (off + n > size)
        return 0;
    int rc = f->pMethods->xRead(f, p, n, off);
    if (rc == SQLITE_IOERR_SHORT_READ)
        return 0;
    return rc == SQLITE_OK ? 1 : -1;
}

int walcapture_read(struct walcapture *c, sqlite3 *db, struct buf *out, long long *frames,
                    uint32_t new_salt[2], char *err, size_t errlen)
{
    sqlite3_file *f = NULL;
    sqlite3_int64 size = 0;
    uint8_t h[WALCAPTURE_HEADER];
    uint8_t *frame = NULL;
    int rc = -1;
    *frames = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK) {
        snprintf(err, errlen, "walcapture: no WAL handle: %s", sqlite3_errmsg(db));
        goto out;
    }
    if (!f || !f->pMethods) { /* not opened yet: nothing was written */
        rc = 0;
        goto out;
    }
    if (f->pMethods->xFileSize(f, &size) != SQLITE_OK) {
        snprintf(err, errlen, "walcapture: cannot read the WAL's size");
        goto out;
    }
    int got = read_at(f, h, WALCAPTURE_HEADER, 0, size);
    if (got < 0) {
        snprintf(err, errlen, "walcapture: reading the WAL header failed");
        goto out;
    }
    if (got == 0) { /* empty (truncated by a checkpoint): no frames */
        rc = 0;
        goto out;
    }
    uint32_t magic = walcapture_be32(h),
             salt[2] = {walcapture_be32(h + 16), walcapture_be32(h + 20)};
    if (c->next > 0 && (salt[0] != c->salt[0] || salt[1] != c->salt[1])) {
        if (new_salt) {
            new_salt[0] = salt[0];
            new_salt[1] = salt[1];
        }
        rc = WALCAPTURE_ENEWLOG;
        goto out;
    }
    if (c->next == 0) {
        uint32_t page_size = walcapture_be32(h + 8), ck[2], zero[2] = {0, 0};
        int big = magic == MAGIC_BE;
        if ((magic != MAGIC_LE && magic != MAGIC_BE) || walcapture_be32(h + 4) != WAL_VERSION ||
            page_size < 512 || page_size > 65536 || (page_size & (page_size - 1))) {
            snprintf(err, errlen, "walcapture: the WAL header is not one SQLite writes");
            goto out;
        }
        walcapture_checksum(big, h, 24, zero, ck);
        if (ck[0] != walcapture_be32(h + 24) || ck[1] != walcapture_be32(h + 28)) {
            rc = 0; /* a header being written: SQLite would ignore the log as well */
            goto out;
        }
        c->page_size = page_size;
        c->big_endian = big;
        c->salt[0] = salt[0];
        c->salt[1] = salt[1];
        c->cksum[0] = ck[0];
        c->cksum[1] = ck[1];
        c->next = 1;
    }
    size_t fsz = WALCAPTURE_FRAME_HEADER + (size_t)c->page_size;
    size_t start = out->len, keep = out->len;
    uint32_t ck[2] = {c->cksum[0], c->cksum[1]};
    long long n = c->next, committed = 0;
    frame = xmalloc(fsz);
    for (;;) {
        sqlite3_int64 off = WALCAPTURE_HEADER + (sqlite3_int64)(n - 1) * (sqlite3_int64)fsz;
        got = read_at(f, frame, (int)fsz, off, size);
        if (got < 0) {
            snprintf(err, errlen, "walcapture: reading frame %lld failed", n);
            out->len = start;
            goto out;
        }
        if (got == 0)
            break;
        if (walcapture_be32(frame + 8) != c->salt[0] || walcapture_be32(frame + 12) != c->salt[1])
            break;
        uint32_t a[2];
        walcapture_checksum(c->big_endian, frame, 8, ck, a);
        walcapture_checksum(c->big_endian, frame + WALCAPTURE_FRAME_HEADER, c->page_size, a, a);
        if (a[0] != walcapture_be32(frame + 16) || a[1] != walcapture_be32(frame + 20))
            break;
        ck[0] = a[0];
        ck[1] = a[1];
        if (buf_add(out, frame, fsz) < 0) {
            snprintf(err, errlen, "walcapture: more frames than the buffer holds");
            out->len = start;
            goto out;
        }
        n++;
        uint32_t db_pages = walcapture_be32(frame + 4);
        if (db_pages != 0) { /* a commit frame: everything so far is a whole transaction */
            keep = out->len;
            committed = n - c->next;
            c->db_pages = db_pages;
            c->cksum[0] = ck[0];
            c->cksum[1] = ck[1];
        }
    }
    out->len = keep; /* frames of a transaction without its commit frame are not returned */
    if (out->data)
        out->data[keep] = '\0';
    c->next += committed;
    *frames = committed;
    rc = 0;
out:
    free(frame);
    return rc;
}
