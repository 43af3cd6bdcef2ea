/*
 * upkeep.h - the engine's own maintenance, asked for by the scheduled jobs
 * (jobs/maintenance.c) without them knowing the engine: a WAL checkpoint and a quick
 * integrity check. SQLite only for now; another engine answers DB_ERR with "not
 * supported" (PostgreSQL has its own checkpointer and no file to check).
 *
 * Threads: the caller's, which holds the connection (the writer's thread for a
 * checkpoint, between two batches: never inside a transaction).
 */
#ifndef ONEFILE_DB_UPKEEP_H
#define ONEFILE_DB_UPKEEP_H
#include <jansson.h>
#include <stddef.h>

#include "db/driver.h"

enum upkeep_checkpoint_mode {
    UPKEEP_PASSIVE,      /* copy what it can, never blocking anyone */
    UPKEEP_TRUNCATE,     /* copy all and truncate the WAL; never waits for readers */
    UPKEEP_TRUNCATE_WAIT /* the same, waiting up to the busy budget (the final one) */
};

struct upkeep_checkpoint {
    int wal_frames; /* frames in the WAL */
    int copied;     /* of which copied into the file */
};

/* Checkpoints c's database. TRUNCATE never waits for readers (the busy handler is off for
   the call and put back with busy_timeout_ms). 0 done; DB_EBUSY when readers kept it from
   finishing (normal: counts still filled); another negative code with err filled. */
int upkeep_checkpoint(struct db_conn *c, enum upkeep_checkpoint_mode mode, long busy_timeout_ms,
                      struct upkeep_checkpoint *out, char *err, size_t errlen);
/* Runs the engine's quick integrity check on c. 0 with msg "ok", or -1 with the first
   problems (or the error) in msg. */
int upkeep_quick_check(struct db_conn *c, char *msg, size_t msglen);
/* What the dashboard shows of the file behind c. */
struct upkeep_facts {
    char journal_mode[32];
    long long page_size, page_count, freelist_count;
    long long migration_version; /* onefile's newest applied migration of plan, 0 if unknown */
};
struct migration_plan;
/* Fills f (fields it cannot read keep 0 / ""). Never fails. */
void upkeep_facts(struct db_conn *c, const struct migration_plan *plan, struct upkeep_facts *f);
/* What /readyz checks on a reader connection: pragmas read back now and the migrations'
   status (migrate_status()'s object, the caller's to decref). 0 when all could be read,
   -1 otherwise (what was read stays filled; status may be NULL). */
struct upkeep_ready {
    char journal_mode[32];
    long long synchronous;  /* 0 off .. 3 extra; -1 unread */
    long long foreign_keys; /* 1 on; -1 unread */
    json_t *status;
};
int upkeep_ready(struct db_conn *c, const struct migration_plan *plan, struct upkeep_ready *r);
#endif
