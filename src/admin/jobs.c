/*
 * jobs.c - the admin's jobs page: the schedule with each job's next fire and last run,
 * the pending queue, failed jobs and their retry.
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "db/readers.h"
#include "http/app.h"
#include "jobs/cron.h"
#include "jobs/scheduler.h"
#include "store/queue.h"
#include "store/schedule.h"

/* ---- jobs and backups ---- */

int admin_jobs_page(struct request *r)
{
    struct ctx c;
    char err[256], next[32];
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    size_t n = scheduler_njobs();
    struct sched_entry *plan = xcalloc(n ? n : 1, sizeof(*plan));
    json_t *schedule = json_array();
    struct db_conn *db = readers_acquire(r->app->readers);
    if (scheduler_plan(plan, err, sizeof(err)) == 0) {
        time_t now = time(NULL);
        for (size_t i = 0; i < n; i++) {
            json_t *row = json_pack("{s:s,s:s,s:s}", "name", plan[i].job->name, "schedule",
                                    plan[i].schedule, "source", plan[i].source);
            if (plan[i].off)
                snprintf(next, sizeof(next), "off");
            else
                clock_iso8601(cron_next(&plan[i].cron, now), next, sizeof(next));
            json_object_set_new(row, "next", json_string(next));
            json_t *last = NULL;
            if (schedule_runs_last(db, plan[i].job->name, &last) == 0 && last)
                json_object_set_new(row, "last", last);
            json_array_append_new(schedule, row);
        }
    }
    json_t *pending = NULL, *failed = NULL;
    queue_list(db, clock_wall_ms(), 100, &pending);
    queue_failed_list(db, 100, &failed);
    readers_release(r->app->readers, db);
    free(plan);
    size_t i;
    json_t *f;
    json_array_foreach(failed, i, f)
    {
        json_object_set_new(f, "csrf", json_string(c.s.csrf));
    }
    return admin_render(r, &c, 200, "admin/jobs.html", "jobs",
                        json_pack("{s:s,s:o,s:o,s:o}", "page_title", "Jobs", "schedule", schedule,
                                  "pending", pending ? pending : json_array(), "failed",
                                  failed ? failed : json_array()));
}

int admin_retry_job(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    if (rc == 0) {
        struct queue_retry q = {
            .failed_id = admin_id_param(r), .max_attempts = 5, .now_ms = clock_wall_ms()};
        rc = admin_submit(r, "admin:jobs", queue_retry, &q, err, sizeof(err)) == 0
                 ? admin_redirect_done(r, "/admin/jobs", "job-retried")
                 : request_error(r, 503, "The job could not be retried.");
        request_set_header(r, "Cache-Control", "no-store");
    }
    admin_done(&c);
    return rc;
}
