/*
 * readers.h - a pool of read-only connections for request handlers.
 *
 * Readers never write: they are opened SQLITE_OPEN_READONLY with the same verified pragmas
 * as every onefile connection (db.h). In WAL mode a reader sees the last committed state
 * and never blocks the writer, nor is blocked by it. The pool holds one connection per
 * HTTP worker and job worker, plus a few for the scheduler and /metrics, so acquire
 * normally returns at once; when every connection is out
 * it waits, and the wait is counted (a pool too small shows in /metrics).
 *
 * Store code prepares through db_prepare() (db/driver.h): a statement is prepared once per
 * connection and reused by every later request on it.
 *
 * A handler acquires a connection for the span of its request and releases it before it
 * returns: release resets every statement, so a reader never holds a read transaction
 * (which would pin the WAL and stall checkpoints) after its request.
 *
 * Threads: acquire/release from any thread; a connection belongs to one thread between
 * them.
 */
#ifndef ONEFILE_DB_READERS_H
#define ONEFILE_DB_READERS_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/driver.h"

struct readers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct db_conn **all;  /* every connection, for close */
    struct db_conn **idle; /* stack of free connections */
    size_t n, nidle;
    uint64_t acquires; /* under mu */
    uint64_t waits;    /* acquires that had to wait */
    uint64_t wait_us;  /* total time spent waiting */
};

/* Opens n read-only connections on path (which must exist, in WAL mode), or on the
   PostgreSQL database of a postgres:// URL (db/pg.h; sessions read-only).
   0, or -1 logged (nothing left open). */
int readers_open(struct readers *rs, const char *path, size_t n, const struct db_options *o);
/* Closes every connection; all must have been released. */
void readers_close(struct readers *rs);
/* A connection for this thread, waiting for one when all are out. Never NULL. */
struct db_conn *readers_acquire(struct readers *rs);
/* Gives the connection back (its statements reset, any open transaction ended). */
void readers_release(struct readers *rs, struct db_conn *c);
/* Copies the counters (a consistent snapshot). */
void readers_stats(struct readers *rs, uint64_t *acquires, uint64_t *waits, uint64_t *wait_us);
#endif
