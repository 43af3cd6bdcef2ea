/*
 * store_write.c - `make bench` part: the writer-thread CPU one post insert costs.
 *
 * What the API's create spends on the writer's thread, without HTTP or fsync around it:
 * posts_write() of a new post (binding every column, the row kept for the answer) in
 * transactions of 256, on a migrated file with synchronous=OFF so the disk stays out of
 * it. The CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID) is summed over the
 * posts_write calls only, then divided by the inserts: microseconds per insert. A second
 * line reads each post back by id on a reader connection (posts_get), the read path's
 * store cost. The figure is absolute CPU time: compare builds A/B in the same run,
 * alternately (scripts in docs/architecture.md, "Measuring the store").
 *
 * It compiles against the statement interface (db/driver.h) and against the tree before
 * it (store functions on a sqlite3 handle), so the two can be measured side by side.
 *
 * usage: bench_store_write [--dir DIR] [--inserts N]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/migrate.h"
#include "store/posts.h"
#ifdef ONEFILE_DB_DRIVER_H
#include "db/sqlite.h"
#define CONN(db) sqlite_conn_wrap(db)
#define CLOSE(c) db_conn_close(c)
typedef struct db_conn *conn_t;
#else
#define CONN(db) (db)
#define CLOSE(c) db_close(c)
typedef sqlite3 *conn_t;
#endif

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    const char *dir = "build/bench-tmp";
    long inserts = 50000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--inserts") == 0)
            inserts = atol(argv[i + 1]);
    }
    if (inserts < 256) {
        fprintf(stderr, "bench: --inserts must be at least 256\n");
        return 2;
    }
    log_setup(LOG_WARN, LOG_FORMAT_AUTO);
    mkdir(dir, 0755);
    char *path = xasprintf("%s/store_write.db", dir);
    db_remove_files(path);
    struct db_options o = {5000, 1};
    struct migration_plan plan = {0};
    char err[256];
    sqlite3 *rw, *ro;
    int applied;
    if (migrate_plan_load(&plan, NULL, err, sizeof(err)) < 0 ||
        db_open(path, DB_READWRITE, &o, &rw) < 0 || migrate_apply(rw, &plan, &applied) < 0 ||
        db_exec(rw, "bench", "PRAGMA synchronous=OFF") < 0 ||
        db_open(path, DB_READONLY, &o, &ro) < 0) {
        fprintf(stderr, "bench: cannot set up %s\n", path);
        return 2;
    }
    conn_t w = CONN(rw), r = CONN(ro);
    double spent = 0;
    long done = 0;
    while (done < inserts) {
        if (db_exec(rw, "bench", "BEGIN IMMEDIATE") < 0)
            return 2;
        for (int k = 0; k < 256 && done < inserts; k++, done++) {
            char slug[32];
            snprintf(slug, sizeof(slug), "post-%ld", done);
            json_t *f = json_pack("{s:s,s:s,s:s,s:s}", "title", "A post of some length",
                                  "slug", slug, "body_md", "Some *markdown* text.", "status",
                                  "published");
            struct post_write pw = {.id = 0, .fields = f, .want_result = 1};
            double t0 = cpu_us();
            int rc = posts_write(w, &pw, err, sizeof(err));
            spent += cpu_us() - t0;
            if (rc < 0) {
                fprintf(stderr, "bench: insert: %s\n", err);
                return 2;
            }
            free(pw.row);
            json_decref(f);
        }
        if (db_exec(rw, "bench", "COMMIT") < 0)
            return 2;
    }
    double read_spent = 0;
    for (long id = 1; id <= inserts; id++) {
        json_t *post = NULL;
        double t0 = cpu_us();
        int rc = posts_get(r, id, 0, &post);
        read_spent += cpu_us() - t0;
        if (rc != 0) {
            fprintf(stderr, "bench: read %ld: %d\n", id, rc);
            return 2;
        }
        json_decref(post);
    }
    printf("store: posts_write insert %.3f us CPU each, posts_get %.3f us each (%ld posts)\n",
           spent / (double)inserts, read_spent / (double)inserts, inserts);
    CLOSE(r);
    CLOSE(w);
    migrate_plan_release(&plan);
    db_remove_files(path);
    free(path);
    return 0;
}
