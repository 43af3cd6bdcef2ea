/*
 * profile.c - `onefile profile`: does this workload still fit one SQLite file?
 *
 * Runs the same bounded synthetic workload twice on a scratch file - "direct" (every
 * writer its own connection, BEGIN IMMEDIATE, busy timeout) and "serialized" (onefile's
 * writer) - and prints them side by side with a verdict. With --db, the scratch file is
 * a consistent copy of that database (never the original). The scratch files live in
 * the data directory's volume (--dir), because the disk's fsync is what is measured,
 * and are deleted afterwards. Exit 0 when the workload fits, 1 when it does not.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/profile.h"
#include "db/snapshot.h"

static int parse_count(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_real(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void progress(double elapsed, void *ctx)
{
    const struct profile_result *r = ctx;
    const char *mode = profile_mode_name(r->mode);
    fprintf(stderr, "\r%-10s %5.0f s", mode, elapsed);
    fflush(stderr);
}

static json_t *result_json(const struct profile_result *r)
{
    return json_pack("{s:s,s:f,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I}",
                     "mode", profile_mode_name(r->mode), "elapsed_s", r->elapsed_s, "writes",
                     (json_int_t)r->writes, "rows", (json_int_t)r->rows, "reads",
                     (json_int_t)r->reads, "writes_per_s", r->writes_per_s, "rows_per_s",
                     r->rows_per_s, "reads_per_s", r->reads_per_s, "p50_ms", r->p50_ms, "p95_ms",
                     r->p95_ms, "p99_ms", r->p99_ms, "max_ms", r->max_ms, "busy_errors",
                     (json_int_t)r->busy_errors, "timeouts", (json_int_t)r->timeouts,
                     "other_errors", (json_int_t)r->other_errors, "busy_retries",
                     (json_int_t)r->busy_retries, "batches", (json_int_t)r->batches);
}

/* The verdict on the serialized run: what onefile would do with this workload. */
static int verdict(const struct profile_result *s, const struct profile_params *p, char *out,
                   size_t outlen)
{
    uint64_t failed = s->busy_errors + s->other_errors;
    if (failed || s->timeouts) {
        snprintf(out, outlen,
                 "does not fit: %llu writes failed and %llu waited longer than the %ld ms "
                 "budget, even through one writer",
                 (unsigned long long)failed, (unsigned long long)s->timeouts, p->busy_timeout_ms);
        return 0;
    }
    if (p->write_rate > 0 && s->writes_per_s < 0.9 * p->write_rate) {
        snprintf(out, outlen,
                 "does not fit: asked for %.0f writes/s, the file sustained %.0f writes/s",
                 p->write_rate, s->writes_per_s);
        return 0;
    }
    if (s->max_ms > 0.5 * (double)p->busy_timeout_ms) {
        snprintf(out, outlen, "does not fit: max write wait %.0f ms is over half the %ld ms budget",
                 s->max_ms, p->busy_timeout_ms);
        return 0;
    }
    snprintf(out, outlen, "fits: max write wait %.0f ms of a %ld ms budget (p99 %.1f ms)",
             s->max_ms, p->busy_timeout_ms, s->p99_ms);
    return 1;
}

static void print_table(const struct profile_result *res, int n)
{
    printf("%-22s", "");
    for (int i = 0; i < n; i++)
        printf(" %14s", profile_mode_name(res[i].mode));
    printf("\n");
#define ROW(label, fmt, field)                                                                     \
    do {                                                                                           \
        printf("%-22s", label);                                                                    \
        for (int i = 0; i < n; i++)                                                                \
            printf(" " fmt, (double)res[i].field);                                                 \
        printf("\n");                                                                              \
    } while (0)
    ROW("writes/s", "%14.0f", writes_per_s);
    ROW("rows/s", "%14.0f", rows_per_s);
    ROW("reads/s", "%14.0f", reads_per_s);
    ROW("write p50 ms", "%14.2f", p50_ms);
    ROW("write p95 ms", "%14.2f", p95_ms);
    ROW("write p99 ms", "%14.2f", p99_ms);
    ROW("write max ms", "%14.2f", max_ms);
    ROW("SQLITE_BUSY errors", "%14.0f", busy_errors);
    ROW("timeouts", "%14.0f", timeouts);
    ROW("other errors", "%14.0f", other_errors);
    ROW("busy retries", "%14.0f", busy_retries);
#undef ROW
}

int cmd_profile(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "profile",
        "[--readers N] [--writers M] [--duration S] [--write-rate R|max] [--rows-per-write K]\n"
        "                       [--busy-timeout MS] [--db PATH] [--dir DIR] [--mode M] [--json]",
        "Measure whether a workload fits one SQLite file: run it direct (a connection per\n"
        "writer, BEGIN IMMEDIATE, busy timeout) and serialized (onefile's writer) on a scratch\n"
        "file, or on a copy of --db, and compare. Exit 0 when it fits, 1 when it does not.",
        1};
    const char *readers_s = "8", *writers_s = "8", *duration_s = "10", *rate_s = "max",
               *rows_s = "1", *src = NULL, *dir = NULL, *mode_s = "both";
    int as_json = 0;
    const struct opt opts[] = {
        {"readers", OPT_VALUE, &readers_s, "reader threads (default 8)"},
        {"writers", OPT_VALUE, &writers_s, "writer threads (default 8)"},
        {"duration", OPT_VALUE, &duration_s, "seconds per mode (default 10)"},
        {"write-rate", OPT_VALUE, &rate_s, "writes per second over all writers, or max"},
        {"rows-per-write", OPT_VALUE, &rows_s, "rows inserted per write (default 1)"},
        {"db", OPT_VALUE, &src, "profile a copy of this database (never the original)"},
        {"dir", OPT_VALUE, &dir, "where scratch files go (default: the data directory)"},
        {"mode", OPT_VALUE, &mode_s, "direct, serialized or both (default both)"},
        {"json", OPT_BOOL, &as_json, "print JSON"},
        {NULL, 0, NULL, NULL},
    };
    struct config cfg;
    char *pos[1];
    char err[512];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 0, &npos)) >= 0)
        return rc;

    struct profile_params p = {0};
    long readers, writers, rows;
    char *scratch = NULL, *dircopy = NULL;
    rc = 2;
    if (parse_count(readers_s, 0, 256, &readers) < 0) {
        cmd_fail(&u, "--readers: '%s' is not a whole number from 0 to 256", readers_s);
        goto out;
    }
    if (parse_count(writers_s, 1, 256, &writers) < 0) {
        cmd_fail(&u, "--writers: '%s' is not a whole number from 1 to 256", writers_s);
        goto out;
    }
    if (parse_count(rows_s, 1, 100000, &rows) < 0) {
        cmd_fail(&u, "--rows-per-write: '%s' is not a whole number from 1 to 100000", rows_s);
        goto out;
    }
    if (parse_real(duration_s, 0.1, 3600, &p.duration_s) < 0) {
        cmd_fail(&u, "--duration: '%s' is not a number of seconds from 0.1 to 3600", duration_s);
        goto out;
    }
    if (strcmp(rate_s, "max") != 0 && parse_real(rate_s, 0.001, 1e7, &p.write_rate) < 0) {
        cmd_fail(&u, "--write-rate: '%s' is not a positive number of writes/s or 'max'", rate_s);
        goto out;
    }
    int modes[2], nmodes = 0;
    if (strcmp(mode_s, "both") == 0 || strcmp(mode_s, "direct") == 0)
        modes[nmodes++] = PROFILE_DIRECT;
    if (strcmp(mode_s, "both") == 0 || strcmp(mode_s, "serialized") == 0)
        modes[nmodes++] = PROFILE_SERIALIZED;
    if (nmodes == 0) {
        cmd_fail(&u, "--mode: '%s' is not direct, serialized or both", mode_s);
        goto out;
    }
    p.readers = (int)readers;
    p.writers = (int)writers;
    p.rows_per_write = (int)rows;
    p.busy_timeout_ms = cfg.busy_timeout_ms;
    p.synchronous = config_synchronous_level(&cfg);
    if (!dir) {
        dircopy = xstrdup(src ? src : cfg.db);
        dir = dirname(dircopy);
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        cmd_fail(&u, "--dir %s: %s", dir, strerror(errno));
        goto out;
    }
    if (src && access(src, R_OK) != 0) {
        cmd_fail(&u, "--db %s: %s", src, strerror(errno));
        goto out;
    }

    struct profile_result res[2];
    int interactive = !as_json && isatty(2);
    rc = 1;
    for (int i = 0; i < nmodes; i++) {
        free(scratch);
        scratch = xasprintf("%s/onefile-profile-%ld.db", dir, (long)getpid());
        db_remove_files(scratch);
        if (src && snapshot_copy(src, scratch, err, sizeof(err)) < 0) {
            log_err("profile: %s", err);
            goto out;
        }
        if (profile_prepare(scratch, &p) < 0 ||
            profile_run(scratch, (enum profile_mode)modes[i], &p, interactive ? progress : NULL,
                        &res[i], &res[i]) < 0)
            goto out;
        db_remove_files(scratch);
        if (interactive)
            fprintf(stderr, "\r%-20s\r", "");
    }
    char line[256];
    const struct profile_result *judged = &res[nmodes - 1];
    int fits = verdict(judged, &p, line, sizeof(line));
    if (as_json) {
        json_t *o = json_pack(
            "{s:{s:i,s:i,s:f,s:f,s:i,s:i,s:s,s:s?},s:[],s:b,s:s}", "params", "readers", p.readers,
            "writers", p.writers, "duration_s", p.duration_s, "write_rate", p.write_rate,
            "rows_per_write", p.rows_per_write, "busy_timeout_ms", (int)p.busy_timeout_ms,
            "synchronous", cfg.synchronous, "copy_of", src, "modes", "fits", fits, "verdict", line);
        for (int i = 0; i < nmodes; i++) {
            json_t *m = result_json(&res[i]);
            if (!m)
                abort(); /* a format string out of step with its values */
            json_array_append_new(json_object_get(o, "modes"), m);
        }
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("workload: %d writers x %d row%s per write at %s writes/s, %d readers, %.0f s "
               "per mode, busy timeout %ld ms, synchronous=%s%s%s\n\n",
               p.writers, p.rows_per_write, p.rows_per_write == 1 ? "" : "s", rate_s, p.readers,
               p.duration_s, p.busy_timeout_ms, cfg.synchronous, src ? ", on a copy of " : "",
               src ? src : "");
        print_table(res, nmodes);
        printf("\nverdict: %s\n", line);
    }
    rc = fits ? 0 : 1;
out:
    if (scratch)
        db_remove_files(scratch);
    free(scratch);
    free(dircopy);
    config_release(&cfg);
    return rc;
}
