/*
 * serve.c - `onefile serve`: run the site.
 *
 * Start-up, in order; any failure stops the start before the port is opened:
 *   1. the data directory exists and is writable          (exit 2)
 *   2. the single-instance lock beside the database       (exit 2, naming the holder)
 *   3. open read-write, WAL and every pragma verified     (exit 1)
 *   4. apply pending migrations, each in its transaction  (exit 1, naming file and line)
 *   5. open the reader pool, hand the read-write connection to the writer thread, start
 *      the page-view aggregator, the scheduler and job workers (exit 2 on a bad
 *      schedule), create the first admin, build the routes, listen (exit 2 when the port
 *      is taken), start the dashboard's sampler
 * Then wait for SIGTERM or SIGINT and stop within ONEFILE_SHUTDOWN_TIMEOUT_S: stop
 * accepting, let in-flight requests finish, stop the server, close the readers, drain
 * the writer's queue, checkpoint the WAL (TRUNCATE) and close the database, so a
 * stopped site leaves a single self-contained file behind. Exit 0.
 *
 * Signals are blocked before any thread starts, so every thread inherits the mask and
 * only the main thread's sigwait() sees them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/clock.h"
#include "core/dburl.h"
#include "core/log.h"
#include "db/db.h"
#include "db/engine.h"
#include "db/lock.h"
#include "db/migrate.h"
#include "db/readers.h"
#include "db/sqlite.h"
#include "db/upkeep.h"
#include "db/writer.h"
#include "http/app.h"
#include "http/cache.h"
#include "http/metrics.h"
#include "admin/admin.h"
#include "admin/samples.h"
#include "api/api.h"
#include "jobs/jobs.h"
#include "site/ratelimit.h"
#include "site/site.h"
#include "site/theme.h"
#include "site/views.h"
#include "store/users.h"
#include "http/server.h"
#include "media/serve.h"

/* Final checkpoint: copies the WAL into the file and truncates it to zero bytes. */
static int checkpoint_truncate(struct db_conn *db, long busy_timeout_ms)
{
    struct upkeep_checkpoint n;
    char err[256];
    if (upkeep_checkpoint(db, UPKEEP_TRUNCATE_WAIT, busy_timeout_ms, &n, err, sizeof(err)) != 0)
        return log_err("serve: final checkpoint: %s", err);
    log_event(LOG_INFO, "checkpoint",
              json_pack("{s:s,s:i,s:i}", "mode", "truncate", "wal_pages", n.wal_frames,
                        "checkpointed", n.copied));
    return 0;
}

/* 1 when the database holds no admin account yet. */
static int no_users(struct readers *readers)
{
    struct db_conn *db = readers_acquire(readers);
    long long n = users_count(db);
    readers_release(readers, db);
    return n == 0;
}

int cmd_serve(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "serve", "[--listen ADDR:PORT] [--db PATH]",
        "Run the site: verify the database, apply pending migrations, then serve HTTP until\n"
        "SIGTERM or SIGINT, which finish in-flight requests, checkpoint the WAL and exit 0.",
        1};
    const struct opt opts[] = {{NULL, 0, NULL, NULL}};
    struct config cfg;
    char *pos[1];
    char err[512];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 0, &npos)) >= 0)
        return rc;

    struct migration_plan plan = {0};
    struct lock lock = {-1, NULL};
    struct readers readers;
    int readers_ok = 0;
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    struct db_conn *db = NULL;
    struct server *srv = NULL;
    struct theme theme = {0};
    int theme_ok = 0;
    static struct ratelimit contact_limit; /* large: not on the stack */
    struct app app;
    memset(&app, 0, sizeof(app));
    router_init(&app.router);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rc = 2;
    /* before anything can fail: a later start error must not hide it */
    if (config_base_url_is_loopback(&cfg) && !config_host_is_loopback(cfg.listen_host))
        log_event(LOG_WARN, "base URL points at this machine",
                  json_pack("{s:s,s:s,s:s}", "base_url", cfg.base_url, "listen", cfg.listen,
                            "advice",
                            "set ONEFILE_BASE_URL to the site's public URL: links in the "
                            "feed, the sitemap and rel=canonical, and the admin's origin "
                            "check use it"));
    int pg = engine_is_postgres(cfg.db);
    if (!pg && config_check_db_dir(&cfg, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    /* a lock file beside a SQLite file; on PostgreSQL several instances may share the
       database (docs/postgres.md says what they do not coordinate yet) */
    if (!pg && lock_acquire(&lock, cfg.db, "serve", err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    if (engine_plan_load(&plan, cfg.db, cfg.migrations_dir, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    if (theme_load(&theme, cfg.theme_dir, err, sizeof(err)) < 0) {
        cmd_fail(&u, "theme: %s", err);
        goto out;
    }
    theme_ok = 1;
    ratelimit_init(&contact_limit, 5, 120); /* 5 messages at once, then one per 2 minutes */
    /* admin logins are throttled from the database (admin/throttle.h) */
    rc = 1;
    int applied = 0;
    if (engine_open(cfg.db, DB_READWRITE, &dbo, &db) < 0)
        goto out;
    if (engine_migrate(db, &plan, &applied, NULL) < 0) {
        fprintf(stderr, "onefile serve: migrations failed (see above); not starting\n");
        goto out;
    }
    /* one reader per HTTP worker, per job worker, plus the scheduler, /metrics and spare */
    if (readers_open(&readers, cfg.db, (size_t)(cfg.http_threads + cfg.job_workers) + 3, &dbo) < 0)
        goto out;
    readers_ok = 1;
    struct writer_options wo;
    writer_options_default(&wo);
    wo.busy_timeout_ms = cfg.busy_timeout_ms;
    wo.max_batch = (size_t)cfg.writer_max_batch;
    wo.linger_us = cfg.writer_linger_us;
    app.writer = writer_start(db, &wo);
    db = NULL; /* the writer's now */
    app.views = views_start(app.writer, 1000);

    app.cfg = &cfg;
    app.readers = &readers;
    app.plan = &plan;
    app.started_us = clock_mono_us();
    health_routes(&app.router);
    metrics_routes(&app.router);
    api_routes(&app.router);
    admin_routes(&app.router);
    media_routes(&app.router);
    site_routes(&app.router); /* last: its /{slug} takes any one-segment path */
    app.theme = &theme;
    app.contact_limit = &contact_limit;
    if (!(app.jobs = jobs_start(&app, err, sizeof(err)))) {
        rc = 2;
        cmd_fail(&u, "%s", err);
        goto out;
    }
    if (admin_bootstrap(&app) < 0) {
        rc = 2;
        fprintf(stderr, "onefile serve: cannot create the first admin (see above)\n");
        goto out;
    }
    if (!cfg.admin_email != !cfg.admin_password && no_users(&readers)) {
        /* half of the bootstrap pair on an empty site: nobody could ever log in */
        rc = 2;
        cmd_fail(&u,
                 "%s is set without %s: no admin account exists and none is created "
                 "(set both, or run `onefile user add EMAIL`)",
                 cfg.admin_email ? "ONEFILE_ADMIN_EMAIL" : "ONEFILE_ADMIN_PASSWORD",
                 cfg.admin_email ? "ONEFILE_ADMIN_PASSWORD" : "ONEFILE_ADMIN_EMAIL");
        goto out;
    }
    rc = 2;
    if (!(srv = server_start(&app, err, sizeof(err)))) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    app.server = srv;
    app.samples = samples_start(&app);
    char *masked_db = dburl_mask(cfg.db); /* a postgres:// URL may carry a password */
    log_event(LOG_INFO, "listening",
              json_pack("{s:s,s:s,s:i,s:s}", "url", cfg.listen, "db", masked_db,
                        "migrations_applied", applied, "version", ONEFILE_VERSION));
    free(masked_db);

    int sig = 0;
    sigwait(&sigs, &sig);
    log_event(LOG_INFO, "stopping", json_pack("{s:s}", "signal", sig == SIGINT ? "INT" : "TERM"));
    atomic_store(&app.stopping, 1);
    server_quiesce(srv);
    if (server_wait_idle(srv, cfg.shutdown_timeout_s * 1000) < 0)
        log_warn("serve: requests still running after %lds; closing them", cfg.shutdown_timeout_s);
    server_stop(srv);
    srv = app.server = NULL;
    samples_stop(app.samples);
    app.samples = NULL;
    jobs_stop(app.jobs); /* after the server: no handler enqueues any more */
    app.jobs = NULL;
    readers_close(&readers);
    readers_ok = 0;
    views_stop(app.views);
    app.views = NULL;
    db = writer_stop(app.writer);
    app.writer = NULL;
    rc = !pg && checkpoint_truncate(db, cfg.busy_timeout_ms) < 0 ? 1 : 0;
out:
    server_stop(srv);
    samples_stop(app.samples);
    jobs_stop(app.jobs);
    if (readers_ok)
        readers_close(&readers);
    views_stop(app.views);
    if (app.writer)
        db = writer_stop(app.writer);
    if (db && db_conn_close(db) < 0)
        rc = 1; /* logged by the driver */
    if (rc == 0)
        log_info("stopped");
    router_release(&app.router);
    cache_clear();
    if (theme_ok) {
        theme_release(&theme);
        ratelimit_release(&contact_limit);
    }
    migrate_plan_release(&plan);
    lock_release(&lock);
    config_release(&cfg);
    return rc;
}
