/*
 * scheduler.c - the table of scheduled jobs and the thread that fires them; the contract
 * is in scheduler.h.
 *
 * DESIGN
 *
 * One scheduler thread keeps, per job, its next fire time (cron_next from the moment it
 * last fired - never from the missed fire, so a server that slept or stopped does not
 * replay a burst) and sleeps on a condition variable until the earliest one, a minute at
 * most (so a wall clock that jumps is noticed). At a fire:
 *
 *   job idle     -> start a run thread for it:  INSERT schedule_runs (running)
 *                                               run(app, msg)
 *                                               UPDATE ... ok | error | skipped, message
 *   job running  -> INSERT schedule_runs (skipped, "still running since ...")
 *
 * The run thread marks itself finished under mu; the scheduler thread joins finished runs
 * on its next turn, and every run at stop. Recording goes through the writer like every
 * write; a recording that fails is logged and the job still runs.
 *
 * Threads: the scheduler thread, one thread per running job, metrics readers (under mu).
 */
#include "jobs/scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/writer.h"
#include "http/app.h"
#include "jobs/maintenance.h"
#include "remote/backup.h"
#include "remote/restore.h"
#include "store/schedule.h"

#define ENV_PREFIX "ONEFILE_SCHEDULE_"
#define KEEP_RUNS 500  /* schedule_runs rows kept per job */
#define MAX_SLEEP_S 60 /* look at the clock at least this often */

/* Backups run only where they have somewhere to go. */
static int scheduled_backup(struct app *app, char *msg, size_t msglen)
{
    if (!app->cfg->backup_url) {
        snprintf(msg, msglen, "ONEFILE_BACKUP_URL is not set");
        return 1;
    }
    return backup_job(app, msg, msglen);
}

static int scheduled_drill(struct app *app, char *msg, size_t msglen)
{
    if (!app->cfg->backup_url) {
        snprintf(msg, msglen, "ONEFILE_BACKUP_URL is not set");
        return 1;
    }
    return restore_drill_job(app, msg, msglen);
}

/* The scheduled jobs. Adding one: write `int x(struct app *, char *msg, size_t msglen)`
   (0 ok, 1 skipped, -1 error; see scheduler.h), add a row with its name and default
   schedule, and a line to docs/jobs.md. ONEFILE_SCHEDULE_<NAME> then overrides it. */
static const struct sched_job sched_jobs[] = {
    {"checkpoint", "*/5 * * * *", maintenance_checkpoint, NULL},
    {"prune-sessions", "17 * * * *", maintenance_prune_sessions, NULL},
    {"quick-check", "0 4 * * *", maintenance_quick_check, NULL},
    {"rollup-views", "30 4 * * *", maintenance_rollup_views, NULL},
    /* backups (src/remote/): skipped when ONEFILE_BACKUP_URL is not set */
    {"backup", "0 3 * * 0", scheduled_backup, "ONEFILE_BACKUP_SCHEDULE"},
    {"restore-drill", "0 5 * * 0", scheduled_drill, NULL},
};
#define NJOBS (sizeof(sched_jobs) / sizeof(sched_jobs[0]))

enum { OUT_OK, OUT_ERROR, OUT_SKIPPED, NOUTCOMES };
static const char *const outcome_names[NOUTCOMES] = {"ok", "error", "skipped"};

size_t scheduler_njobs(void)
{
    return NJOBS;
}

const struct sched_job *scheduler_job(size_t i)
{
    return i < NJOBS ? &sched_jobs[i] : NULL;
}

/* ONEFILE_SCHEDULE_<NAME> for a job name. */
static void env_name(const char *name, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "%s", ENV_PREFIX);
    for (const char *p = name; *p && n + 1 < outlen; p++)
        out[n++] = *p == '-' ? '_' : (*p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p);
    out[n < outlen ? n : outlen - 1] = '\0';
}

int scheduler_plan(struct sched_entry *e, char *err, size_t errlen)
{
    char var[96], perr[256];
    for (size_t i = 0; i < NJOBS; i++) {
        const struct sched_job *j = &sched_jobs[i];
        const char *v = j->schedule, *alias = j->alias_env ? getenv(j->alias_env) : NULL;
        memset(&e[i], 0, sizeof(e[i]));
        e[i].job = j;
        snprintf(e[i].source, sizeof(e[i].source), "default");
        env_name(j->name, var, sizeof(var));
        if (getenv(var)) {
            v = getenv(var);
            snprintf(e[i].source, sizeof(e[i].source), "%s", var);
        } else if (alias) {
            v = alias;
            snprintf(e[i].source, sizeof(e[i].source), "%s", j->alias_env);
        }
        snprintf(e[i].schedule, sizeof(e[i].schedule), "%s", v);
        if (strcmp(v, "off") == 0) {
            e[i].off = 1;
            continue;
        }
        if (cron_parse(v, &e[i].cron, perr, sizeof(perr)) < 0) {
            snprintf(err, errlen, "%s: %s (a cron expression or off)",
                     strcmp(e[i].source, "default") ? e[i].source : j->name, perr);
            return -1;
        }
    }
    for (char **env = environ; *env; env++) {
        if (strncmp(*env, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
            continue;
        size_t len = strcspn(*env, "=");
        int known = 0;
        for (size_t i = 0; i < NJOBS && !known; i++) {
            env_name(sched_jobs[i].name, var, sizeof(var));
            known = strlen(var) == len && strncmp(var, *env, len) == 0;
        }
        if (!known) {
            size_t m = 0;
            char names[256] = "";
            for (size_t i = 0; i < NJOBS && m < sizeof(names); i++)
                m += (size_t)snprintf(names + m, sizeof(names) - m, "%s%s", i ? ", " : "",
                                      sched_jobs[i].name);
            snprintf(err, errlen, "%.*s: no scheduled job of that name (jobs: %s)",
                     (int)(len < 80 ? len : 80), *env, names);
            return -1;
        }
    }
    return 0;
}

/* ---- the scheduler thread and run threads ---- */

struct run {
    struct scheduler *s;
    size_t i;
    pthread_t thread;
    int running, joinable; /* under mu */
    time_t started, next;  /* next: -1 never */
    uint64_t counts[NOUTCOMES];
    time_t last_ok;
};

struct scheduler {
    struct app *app;
    struct sched_entry plan[NJOBS];
    struct run runs[NJOBS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    pthread_t thread;
};

static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = ' ';
}

static void *run_main(void *arg)
{
    struct run *r = arg;
    struct scheduler *s = r->s;
    const struct sched_job *job = s->plan[r->i].job;
    struct schedule_run rec;
    char err[256], msg[512] = "";
    memset(&rec, 0, sizeof(rec));
    rec.job = job->name;
    rec.outcome = "running";
    rec.keep = KEEP_RUNS;
    clock_iso8601(r->started, rec.started, sizeof(rec.started));
    if (writer_submit(s->app->writer, "schedule", schedule_runs_insert, &rec, err, sizeof(err)) !=
        0)
        log_err("scheduler: %s: cannot record the start: %s", job->name, err);
    int64_t t0 = clock_mono_us();
    int rc = job->run(s->app, msg, sizeof(msg));
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    one_line(msg);
    int out = rc == 0 ? OUT_OK : rc == 1 ? OUT_SKIPPED : OUT_ERROR;
    rec.outcome = outcome_names[out];
    rec.message = msg;
    clock_iso8601(time(NULL), rec.finished, sizeof(rec.finished));
    if (rec.id && writer_submit(s->app->writer, "schedule", schedule_runs_finish, &rec, err,
                                sizeof(err)) != 0)
        log_err("scheduler: %s: cannot record the end: %s", job->name, err);
    log_event(out == OUT_ERROR ? LOG_WARN : LOG_INFO, "scheduled job",
              json_pack("{s:s,s:s,s:f,s:s}", "job", job->name, "outcome", rec.outcome, "seconds",
                        secs, "message", msg));
    pthread_mutex_lock(&s->mu);
    r->counts[out]++;
    if (out == OUT_OK)
        r->last_ok = time(NULL);
    r->running = 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* A fire while the previous run is still going: recorded, not started. Called without mu. */
static void record_skipped(struct scheduler *s, const struct sched_job *job, time_t since,
                           time_t now)
{
    struct schedule_run rec;
    char err[256], msg[160], at[32];
    memset(&rec, 0, sizeof(rec));
    rec.job = job->name;
    rec.outcome = "skipped";
    snprintf(msg, sizeof(msg), "the previous run, started at %s, is still running",
             clock_iso8601(since, at, sizeof(at)));
    rec.message = msg;
    clock_iso8601(now, rec.started, sizeof(rec.started));
    memcpy(rec.finished, rec.started, sizeof(rec.finished));
    if (writer_submit(s->app->writer, "schedule", schedule_runs_insert, &rec, err, sizeof(err)) !=
        0)
        log_err("scheduler: %s: cannot record a skipped run: %s", job->name, err);
    log_event(LOG_WARN, "scheduled job",
              json_pack("{s:s,s:s,s:s}", "job", job->name, "outcome", "skipped", "message", msg));
}

static void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        time_t now = time(NULL), wake = now + MAX_SLEEP_S;
        for (size_t i = 0; i < NJOBS; i++) {
            struct run *r = &s->runs[i];
            if (r->joinable && !r->running) {
                pthread_join(r->thread, NULL); /* it has left mu for good */
                r->joinable = 0;
            }
            if (s->plan[i].off || r->next < 0 || r->next > now)
                continue;
            r->next = cron_next(&s->plan[i].cron, now); /* from now: no burst of missed fires */
            if (r->running) {
                r->counts[OUT_SKIPPED]++;
                time_t since = r->started;
                pthread_mutex_unlock(&s->mu);
                record_skipped(s, s->plan[i].job, since, now);
                pthread_mutex_lock(&s->mu);
                continue;
            }
            r->running = 1;
            r->joinable = 1;
            r->started = now;
            if (pthread_create(&r->thread, NULL, run_main, r) != 0) {
                log_err("scheduler: %s: cannot start a thread", s->plan[i].job->name);
                r->running = r->joinable = 0;
            }
        }
        for (size_t i = 0; i < NJOBS; i++)
            if (!s->plan[i].off && s->runs[i].next >= 0 && s->runs[i].next < wake)
                wake = s->runs[i].next;
        struct timespec ts = {wake, 0};
        if (wake > now)
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < NJOBS; i++)
        if (s->runs[i].joinable)
            pthread_join(s->runs[i].thread, NULL); /* runs watch app->stopping */
    return NULL;
}

struct scheduler *scheduler_start(struct app *app, const struct sched_entry *plan)
{
    struct scheduler *s = xcalloc(1, sizeof(*s));
    char err[256];
    int closed = 0;
    s->app = app;
    memcpy(s->plan, plan, sizeof(s->plan));
    if (writer_submit(app->writer, "schedule", schedule_runs_interrupt, &closed, err,
                      sizeof(err)) != 0)
        log_err("scheduler: closing interrupted runs: %s", err);
    else if (closed)
        log_warn("scheduler: %d run(s) interrupted by the last stop marked as error", closed);
    time_t now = time(NULL);
    for (size_t i = 0; i < NJOBS; i++) {
        s->runs[i].s = s;
        s->runs[i].i = i;
        s->runs[i].next = s->plan[i].off ? -1 : cron_next(&s->plan[i].cron, now);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        log_err("scheduler: cannot start its thread");
        abort();
    }
    return s;
}

void scheduler_stop(struct scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void scheduler_write_metrics(struct scheduler *s, FILE *out)
{
    if (!s)
        return;
    struct run runs[NJOBS];
    pthread_mutex_lock(&s->mu);
    memcpy(runs, s->runs, sizeof(runs));
    pthread_mutex_unlock(&s->mu);
    fprintf(out, "# HELP onefile_schedule_runs_total Scheduled job runs since start, by job "
                 "and outcome.\n# TYPE onefile_schedule_runs_total counter\n");
    for (size_t i = 0; i < NJOBS; i++)
        for (size_t o = 0; o < NOUTCOMES; o++)
            fprintf(out, "onefile_schedule_runs_total{job=\"%s\",outcome=\"%s\"} %llu\n",
                    s->plan[i].job->name, outcome_names[o], (unsigned long long)runs[i].counts[o]);
    fprintf(out, "# HELP onefile_schedule_running Whether the job is running now.\n"
                 "# TYPE onefile_schedule_running gauge\n");
    for (size_t i = 0; i < NJOBS; i++)
        fprintf(out, "onefile_schedule_running{job=\"%s\"} %d\n", s->plan[i].job->name,
                runs[i].running);
    fprintf(out, "# HELP onefile_schedule_last_success_timestamp_seconds When the job last "
                 "succeeded (0: not since start).\n"
                 "# TYPE onefile_schedule_last_success_timestamp_seconds gauge\n");
    for (size_t i = 0; i < NJOBS; i++)
        fprintf(out, "onefile_schedule_last_success_timestamp_seconds{job=\"%s\"} %lld\n",
                s->plan[i].job->name, (long long)runs[i].last_ok);
    fprintf(out, "# HELP onefile_schedule_next_run_timestamp_seconds When the job fires next "
                 "(-1: off).\n# TYPE onefile_schedule_next_run_timestamp_seconds gauge\n");
    for (size_t i = 0; i < NJOBS; i++)
        fprintf(out, "onefile_schedule_next_run_timestamp_seconds{job=\"%s\"} %lld\n",
                s->plan[i].job->name, (long long)runs[i].next);
}
