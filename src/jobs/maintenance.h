/*
 * maintenance.h - the built-in scheduled jobs that look after the file (rows of the table
 * in scheduler.c; their handlers follow sched_run_fn: 0 ok, 1 skipped, -1 error, msg one
 * line).
 *
 *   checkpoint      WAL checkpoint on the writer's own connection, between two batches:
 *                   TRUNCATE when the write queue is empty, PASSIVE otherwise. A backstop:
 *                   the writer checkpoints by itself too (docs/writer.md).
 *   prune-sessions  deletes expired and idle admin sessions (store/users.h sessions_prune).
 *   rollup-views    post_views keeps one row per post and day for the last 90 days at
 *                   least; whole months older than that become one row per post and month
 *                   (day = "YYYY-MM", count = the month's sum), so totals are unchanged and
 *                   the table stops growing with time. One month per write.
 *   quick-check     PRAGMA quick_check on a reader connection; error unless "ok".
 *
 * Threads: each runs on its scheduler run thread.
 */
#ifndef ONEFILE_JOBS_MAINTENANCE_H
#define ONEFILE_JOBS_MAINTENANCE_H

#include <stddef.h>
#include <time.h>

struct app;

int maintenance_checkpoint(struct app *app, char *msg, size_t msglen);
int maintenance_prune_sessions(struct app *app, char *msg, size_t msglen);
int maintenance_rollup_views(struct app *app, char *msg, size_t msglen);
int maintenance_quick_check(struct app *app, char *msg, size_t msglen);

/* rollup-views' boundary for a run at `now`: the first day of the month that holds
   now - 90 days, "YYYY-MM-01" (out needs 11 bytes). Daily rows before it are rolled up. */
void maintenance_rollup_cutoff(time_t now, char *out, size_t outlen);

#endif
