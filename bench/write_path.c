/*
 * write_path.c - `make bench` part 1: the write path against this machine's disk.
 *
 * Everything is measured in the same run, so the figures are read as ratios to a
 * reference, not as absolute numbers (the machines are shared and noisy):
 *
 *   ceiling   raw SQLite, one connection, one row per transaction, synchronous=FULL
 *             (one fsync each): the reference every other line is divided by
 *   batched   raw SQLite, 1000 rows per transaction: rows/s the disk can take
 *   writer    onefile's writer with 1, 8 and 64 concurrent submitters of one-row writes
 *   profile   `onefile profile`'s two modes, 8 writers and 8 readers
 *
 * Bars (issue 3): 64 submitters >= 5x the ceiling; their p99 submit-to-ack < 25 ms;
 * profile's serialized mode 0 busy errors, 0 timeouts, more writes/s than direct.
 * Exit 0 when every bar is met, 1 otherwise.
 *
 * usage: bench_write_path [--dir DIR] [--seconds S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/profile.h"

static const char *dir = "build/bench-tmp";
static double seconds = 3;

static struct profile_result measure(const char *name, enum profile_mode mode, int writers,
                                     int readers, int rows, int synchronous)
{
    struct profile_params p = {readers, writers, seconds, 0, rows, 5000, synchronous};
    struct profile_result r;
    char *path = xasprintf("%s/%s.db", dir, name);
    db_remove_files(path);
    if (profile_prepare(path, &p) < 0 || profile_run(path, mode, &p, NULL, NULL, &r) < 0) {
        fprintf(stderr, "bench: %s failed\n", name);
        exit(2);
    }
    db_remove_files(path);
    free(path);
    return r;
}

static void line(const char *name, const struct profile_result *r, double ceiling)
{
    printf("%-34s %10.0f %10.0f %8.2fx %9.2f %9.2f %8llu\n", name, r->writes_per_s,
           r->rows_per_s, r->rows_per_s / ceiling, r->p50_ms, r->p99_ms,
           (unsigned long long)r->busy_errors);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
    }
    if (seconds <= 0) {
        fprintf(stderr, "bench: --seconds must be positive\n");
        return 2;
    }
    log_setup(LOG_WARN, LOG_FORMAT_AUTO);
    mkdir(dir, 0755);

    printf("write path, %.0f s per line, files in %s (synchronous=FULL unless noted)\n\n",
           seconds, dir);
    printf("%-34s %10s %10s %9s %9s %9s %8s\n", "", "writes/s", "rows/s", "vs ceil",
           "p50 ms", "p99 ms", "busy");
    struct profile_result ceil = measure("ceiling", PROFILE_DIRECT, 1, 0, 1, 2);
    double c = ceil.rows_per_s > 0 ? ceil.rows_per_s : 1;
    line("ceiling: raw 1-row tx, FULL", &ceil, c);
    struct profile_result normal = measure("normal", PROFILE_DIRECT, 1, 0, 1, 1);
    line("raw 1-row tx, NORMAL", &normal, c);
    struct profile_result batched = measure("batched", PROFILE_DIRECT, 1, 0, 1000, 2);
    line("raw 1000-row tx (rows/s)", &batched, c);
    struct profile_result w1 = measure("writer1", PROFILE_SERIALIZED, 1, 0, 1, 2);
    line("writer, 1 submitter", &w1, c);
    struct profile_result w8 = measure("writer8", PROFILE_SERIALIZED, 8, 0, 1, 2);
    line("writer, 8 submitters", &w8, c);
    struct profile_result w64 = measure("writer64", PROFILE_SERIALIZED, 64, 0, 1, 2);
    line("writer, 64 submitters", &w64, c);
    struct profile_result direct = measure("direct", PROFILE_DIRECT, 8, 8, 1, 2);
    line("profile direct, 8w 8r", &direct, c);
    struct profile_result ser = measure("serialized", PROFILE_SERIALIZED, 8, 8, 1, 2);
    line("profile serialized, 8w 8r", &ser, c);
    printf("\nreads/s alongside: direct %.0f, serialized %.0f; direct timeouts %llu, "
           "serialized timeouts %llu\n",
           direct.reads_per_s, ser.reads_per_s, (unsigned long long)direct.timeouts,
           (unsigned long long)ser.timeouts);

    int ok = 1;
    double ratio = w64.rows_per_s / c;
#define BAR(cond, fmt, ...)                                                                      \
    do {                                                                                         \
        int pass = (cond);                                                                       \
        ok &= pass;                                                                              \
        printf("%s " fmt "\n", pass ? "PASS" : "FAIL", __VA_ARGS__);                             \
    } while (0)
    printf("\n");
    BAR(ratio >= 5.0, "64 submitters reach %.1fx the raw single-row FULL rate (bar: >= 5x)",
        ratio);
    BAR(w64.p99_ms < 25.0, "64 submitters p99 submit-to-ack %.2f ms (bar: < 25 ms)", w64.p99_ms);
    BAR(ser.busy_errors == 0 && ser.timeouts == 0,
        "serialized mode: %llu busy errors, %llu timeouts (bar: 0 and 0)",
        (unsigned long long)ser.busy_errors, (unsigned long long)ser.timeouts);
    BAR(ser.writes_per_s > direct.writes_per_s,
        "serialized %.0f writes/s vs direct %.0f (%.2fx; bar: > 1x)", ser.writes_per_s,
        direct.writes_per_s, ser.writes_per_s / (direct.writes_per_s > 0 ? direct.writes_per_s : 1));
#undef BAR
    return ok ? 0 : 1;
}
