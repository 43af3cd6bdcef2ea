/*
 * jobs.c - `onefile jobs`: look at the job queue and the schedule, retry a failed job,
 * try a cron expression.
 *
 *   jobs [list]              queued jobs: ready, delayed (waiting for a retry), reserved
 *   jobs failed              failed_jobs, newest first, with the last error
 *   jobs retry ID            moves failed job ID back to the queue (attempts from 0)
 *   jobs schedule            each scheduled job: schedule, where it came from, next fire,
 *                            last run (when the database exists)
 *   jobs next "EXPR"         the next --count fire times (default 5) at or after --from
 *                            (default now), UTC ISO 8601, one a line; no database needed
 *
 * Reads open the file read-only; `retry` writes directly in a short BEGIN IMMEDIATE that
 * waits out the busy timeout, so it works while `serve` runs (like `token`): the workers
 * find the job at their next poll, within a second. Exit codes: 0, 1 (no such failed job,
 * database problem), 2 (usage, a bad expression or schedule variable: one line naming the
 * field).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/dburl.h"
#include "db/db.h"
#include "db/engine.h"
#include "db/sqlite.h"
#include "db/migrate.h"
#include "jobs/cron.h"
#include "store/queue.h"
#include "jobs/scheduler.h"
#include "store/schedule.h"
#include "store/store.h"

#define LIST_LIMIT 1000

/* "2026-01-01", "2026-01-01T03:00", "2026-01-01T03:00:00", optional Z; ' ' for 'T'. */
static int parse_from(const char *s, time_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    size_t len = strlen(s);
    if (len && s[len - 1] == 'Z')
        len--;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    if (len > 10) {
        if ((s[10] != 'T' && s[10] != ' ') ||
            (len == 16
                 ? sscanf(s + 11, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5
                 : len != 19 || sscanf(s + 11, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8))
            return -1;
    } else if (len != 10) {
        return -1;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 59 || h < 0 || mi < 0 || sec < 0)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm);
    struct tm back;
    gmtime_r(out, &back);
    return back.tm_mday == d ? 0 : -1; /* 2026-02-30 normalises to March: refused */
}

static int next_times(const struct cmd_usage *u, const char *expr, const char *count_s,
                      const char *from_s)
{
    struct cron c;
    char err[256], t[32];
    long count = 5;
    time_t from = time(NULL);
    if (cron_parse(expr, &c, err, sizeof(err)) < 0)
        return cmd_fail(u, "%s", err);
    if (count_s) {
        char *end;
        errno = 0;
        count = strtol(count_s, &end, 10);
        if (!*count_s || *end || errno || count < 1 || count > 1000)
            return cmd_fail(u, "--count: '%s' is not a whole number from 1 to 1000", count_s);
    }
    if (from_s && parse_from(from_s, &from) < 0)
        return cmd_fail(u, "--from: '%s' is not a UTC time (YYYY-MM-DD[THH:MM[:SS]][Z])", from_s);
    time_t at = from - 1; /* at or after --from */
    for (long i = 0; i < count; i++) {
        at = cron_next(&c, at);
        if (at == (time_t)-1)
            break;
        printf("%s\n", clock_iso8601(at, t, sizeof(t)));
    }
    return 0;
}

/* A JSON string field, or def. */
static const char *field(const json_t *o, const char *name, const char *def)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : def;
}

static void print_list(const json_t *jobs)
{
    size_t i;
    const json_t *o;
    if (!json_array_size(jobs)) {
        printf("no queued jobs\n");
        return;
    }
    printf("%-6s %-12s %-9s %-8s %-24s %-24s %s\n", "ID", "TYPE", "STATE", "ATTEMPTS",
           "AVAILABLE AT", "KEY", "LAST ERROR");
    json_array_foreach(jobs, i, o)
    {
        char attempts[24];
        snprintf(attempts, sizeof(attempts), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(o, "attempts")),
                 (long long)json_integer_value(json_object_get(o, "max_attempts")));
        const char *state = field(o, "state", "?");
        printf("%-6lld %-12s %-9s %-8s %-24s %-24s %s\n",
               (long long)json_integer_value(json_object_get(o, "id")), field(o, "type", "?"),
               state, attempts,
               strcmp(state, "reserved") == 0 ? field(o, "reserved_at", "")
                                              : field(o, "available_at", ""),
               field(o, "idempotency_key", "-"), field(o, "last_error", ""));
    }
}

static void print_failed(const json_t *jobs)
{
    size_t i;
    const json_t *o;
    if (!json_array_size(jobs)) {
        printf("no failed jobs\n");
        return;
    }
    printf("%-6s %-12s %-8s %-20s %-24s %s\n", "ID", "TYPE", "ATTEMPTS", "FAILED AT", "KEY",
           "LAST ERROR");
    json_array_foreach(jobs, i, o) printf(
        "%-6lld %-12s %-8lld %-20s %-24s %s\n",
        (long long)json_integer_value(json_object_get(o, "id")), field(o, "type", "?"),
        (long long)json_integer_value(json_object_get(o, "attempts")), field(o, "failed_at", ""),
        field(o, "idempotency_key", "-"), field(o, "last_error", ""));
}

/* The last run of job on db (may be NULL) as a JSON object, or JSON null. */
static json_t *last_run(struct db_conn *db, const char *job)
{
    json_t *r = NULL;
    if (db && schedule_runs_last(db, job, &r) < 0)
        r = NULL;
    return r ? r : json_null();
}

static int show_schedule(const struct cmd_usage *u, const struct config *cfg, int as_json)
{
    size_t n = scheduler_njobs();
    struct sched_entry *plan = calloc(n, sizeof(*plan));
    struct db_options dbo = {cfg->busy_timeout_ms, config_synchronous_level(cfg)};
    struct db_conn *db = NULL;
    char err[512], t[32];
    int rc = 2;
    json_t *out = json_array();
    if (!plan)
        abort();
    if (scheduler_plan(plan, err, sizeof(err)) < 0) {
        cmd_fail(u, "%s", err);
        goto out;
    }
    rc = 1;
    if (engine_is_postgres(cfg->db) || access(cfg->db, F_OK) == 0) {
        if (engine_open(cfg->db, DB_READONLY, &dbo, &db) < 0)
            goto out;
        if (engine_has_migrations(db) <= 0) {
            db_conn_close(db);
            db = NULL;
        }
    }
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        time_t next = plan[i].off ? (time_t)-1 : cron_next(&plan[i].cron, now);
        json_array_append_new(
            out, json_pack("{s:s,s:s,s:s,s:s?,s:o}", "job", plan[i].job->name, "schedule",
                           plan[i].schedule, "source", plan[i].source, "next",
                           next == (time_t)-1 ? NULL : clock_iso8601(next, t, sizeof(t)),
                           "last_run", last_run(db, plan[i].job->name)));
    }
    if (as_json) {
        char *text = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    } else {
        size_t i;
        json_t *o;
        printf("%-16s %-16s %-30s %-21s %s\n", "JOB", "SCHEDULE", "SOURCE", "NEXT (UTC)",
               "LAST RUN");
        json_array_foreach(out, i, o)
        {
            json_t *last = json_object_get(o, "last_run");
            char lastbuf[640] = "never";
            if (json_is_object(last))
                snprintf(lastbuf, sizeof(lastbuf), "%s %s%s%s", field(last, "started_at", ""),
                         field(last, "outcome", ""), field(last, "message", "")[0] ? ": " : "",
                         field(last, "message", ""));
            else if (!db)
                snprintf(lastbuf, sizeof(lastbuf), "-");
            printf("%-16s %-16s %-30s %-21s %s\n", field(o, "job", ""), field(o, "schedule", ""),
                   field(o, "source", ""), field(o, "next", "never"), lastbuf);
        }
    }
    rc = 0;
out:
    db_conn_close(db);
    json_decref(out);
    free(plan);
    return rc;
}

/* `retry ID`: one short write transaction on a direct connection. */
static int retry(const struct config *cfg, struct db_conn *db, int64_t id)
{
    char err[256];
    struct queue_retry r = {id, (int)cfg->job_max_attempts, 0, 0, 0, 0};
    if (store_begin_write(db, "jobs retry") < 0)
        return 1;
    if (queue_retry(db, &r, err, sizeof(err)) < 0) {
        log_err("jobs retry: %s", err);
        store_rollback(db);
        return 1;
    }
    if (store_commit(db, "jobs retry") < 0) {
        store_rollback(db);
        return 1;
    }
    if (!r.found) {
        fprintf(stderr, "onefile jobs: no failed job %lld (see `onefile jobs failed`)\n",
                (long long)id);
        return 1;
    }
    if (r.existed)
        printf("failed job %lld: a job with its key is queued already (job %lld); the failed "
               "entry was removed\n",
               (long long)id, (long long)r.job_id);
    else
        printf("failed job %lld queued again as job %lld\n", (long long)id, (long long)r.job_id);
    return 0;
}

int cmd_jobs(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "jobs",
        "[list | failed | retry ID | schedule] [--json] [--db PATH]\n"
        "       onefile jobs next \"EXPR\" [--count N] [--from TIME]",
        "Look at the job queue and the schedule. `list` shows queued jobs, `failed` the jobs\n"
        "that ran out of attempts, `retry ID` queues a failed job again (works while serve\n"
        "runs), `schedule` each scheduled job with its next and last run. `next` prints the\n"
        "next fire times of a cron expression in UTC, one a line (TIME: YYYY-MM-DD[THH:MM]).",
        1};
    const char *count_s = NULL, *from_s = NULL;
    int as_json = 0;
    const struct opt opts[] = {
        {"count", OPT_VALUE, &count_s, "next: how many fire times (1-1000, default 5)"},
        {"from", OPT_VALUE, &from_s, "next: start at this UTC time (default now)"},
        {"json", OPT_BOOL, &as_json, "list, failed, schedule: print JSON"},
        {NULL, 0, NULL, NULL}};
    struct config cfg;
    char *pos[2];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 2, &npos)) >= 0)
        return rc;
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    struct db_conn *db = NULL;
    json_t *list = NULL;
    const char *action = npos ? pos[0] : "list";
    int is_next = strcmp(action, "next") == 0, is_retry = strcmp(action, "retry") == 0;
    int64_t id = 0;
    rc = 2;
    if (!is_next && !is_retry && strcmp(action, "list") != 0 && strcmp(action, "failed") != 0 &&
        strcmp(action, "schedule") != 0) {
        cmd_fail(&u, "unknown action '%s' (use list, failed, retry ID, schedule or next EXPR)",
                 action);
        goto out;
    }
    if ((is_next || is_retry) != (npos == 2)) {
        if (is_next)
            cmd_fail(&u, "next needs one cron expression, e.g. next \"*/15 * * * *\"");
        else if (is_retry)
            cmd_fail(&u, "retry needs the ID of a failed job");
        else
            cmd_fail(&u, "%s takes no argument", action);
        goto out;
    }
    if (!is_next && (count_s || from_s)) {
        cmd_fail(&u, "--count and --from are for `next`");
        goto out;
    }
    if (is_next) {
        rc = next_times(&u, pos[1], count_s, from_s);
        goto out;
    }
    if (strcmp(action, "schedule") == 0) {
        rc = show_schedule(&u, &cfg, as_json);
        goto out;
    }
    if (is_retry) {
        char *end;
        errno = 0;
        id = strtoll(pos[1], &end, 10);
        if (!*pos[1] || *end || errno || id < 1) {
            cmd_fail(&u, "retry: '%s' is not a job ID", pos[1]);
            goto out;
        }
    }
    rc = 1;
    if (engine_open(cfg.db, is_retry ? DB_READWRITE : DB_READONLY, &dbo, &db) < 0)
        goto out;
    if (engine_has_migrations(db) <= 0) {
        char *masked = dburl_mask(cfg.db);
        fprintf(stderr,
                "onefile jobs: %s has no onefile schema yet: run `onefile migrate` "
                "or start `onefile serve` first\n",
                masked);
        free(masked);
        goto out;
    }
    if (is_retry) {
        rc = retry(&cfg, db, id);
        goto out;
    }
    int failed = strcmp(action, "failed") == 0;
    if ((failed ? queue_failed_list(db, LIST_LIMIT, &list) : queue_list(db, 0, LIST_LIMIT, &list)) <
        0)
        goto out;
    if (as_json) {
        char *text = json_dumps(list, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    } else if (failed) {
        print_failed(list);
    } else {
        print_list(list);
    }
    rc = 0;
out:
    json_decref(list);
    db_conn_close(db);
    config_release(&cfg);
    return rc;
}
