/*
 * profile.h - the contention profiler's engine: a bounded synthetic workload against a
 * scratch file, run "direct" (every writer thread with its own connection, BEGIN
 * IMMEDIATE and the busy timeout - what a typical framework does) or "serialized"
 * (every write through onefile's writer), with reader threads alongside.
 *
 * Used by `onefile profile` (src/cmd/profile.c) and by the write-path benchmark
 * (bench/write_path.c). The file must be a scratch file or a copy: the run adds a table
 * `onefile_profile` and writes into it.
 *
 * Latency of a write is measured from the moment it was due (its slot when a rate is set,
 * else the moment the thread started it) to its COMMIT, so a stalled writer is not
 * hidden by the writes it failed to start (no coordinated omission).
 *
 * Threads: profile_run() starts and joins its own threads; call it from one thread.
 */
#ifndef ONEFILE_DB_PROFILE_H
#define ONEFILE_DB_PROFILE_H
#include <stddef.h>
#include <stdint.h>

enum profile_mode { PROFILE_DIRECT, PROFILE_SERIALIZED };

struct profile_params {
    int readers, writers;
    double duration_s;
    double write_rate;  /* writes per second over all writers; 0 = as fast as possible */
    int rows_per_write; /* rows inserted per write transaction */
    long busy_timeout_ms;
    int synchronous; /* 1 NORMAL, 2 FULL */
};

struct profile_result {
    enum profile_mode mode;
    double elapsed_s;
    uint64_t writes, rows, reads;
    double writes_per_s, rows_per_s, reads_per_s;
    double p50_ms, p95_ms, p99_ms, max_ms; /* write latency, due to COMMIT */
    uint64_t busy_errors; /* SQLITE_BUSY returned to a writer (its budget ran out) */
    uint64_t timeouts;    /* writes that took longer than the busy budget, failed or not */
    uint64_t other_errors;
    uint64_t busy_retries; /* busy-handler calls during the run, all connections */
    uint64_t batches;      /* serialized: transactions the writer ran */
};

/* Prepares a scratch file: WAL, the workload table. 0 or -1 (logged). */
int profile_prepare(const char *path, const struct profile_params *p);
/* Runs one mode for p->duration_s. progress (may be NULL) is called about once a second
   with the elapsed time. 0 with *out filled, or -1 (logged). */
int profile_run(const char *path, enum profile_mode mode, const struct profile_params *p,
                void (*progress)(double elapsed_s, void *ctx), void *ctx,
                struct profile_result *out);
const char *profile_mode_name(enum profile_mode mode);
#endif
