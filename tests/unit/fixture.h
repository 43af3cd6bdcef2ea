/* fixture.h - set-up the unit tests share: a scratch directory holding a database migrated
   to the current schema, fresh empty databases, and the directory's removal. Header-only;
   include it after cmocka.h. */
#ifndef ONEFILE_TESTS_FIXTURE_H
#define ONEFILE_TESTS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"
#include "db/migrate.h"

/* busy timeout 5 s, synchronous NORMAL: what the tests open every connection with */
static const struct db_options fixture_dbo = {5000, 2};

/* Makes /tmp/onefile-NAME-XXXXXX (its path into dir) and NAME.db in it (into path),
   migrated and open read-write in *db. */
static inline void fixture_migrated_db(const char *name, char *dir, size_t dirlen, char *path,
                                       size_t pathlen, sqlite3 **db)
{
    char err[256];
    struct migration_plan plan;
    int applied;
    snprintf(dir, dirlen, "/tmp/onefile-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
    snprintf(path, pathlen, "%s/%s.db", dir, name);
    assert_int_equal(db_open(path, DB_READWRITE, &fixture_dbo, db), 0);
    if (migrate_plan_load(&plan, NULL, err, sizeof(err)) != 0)
        fail_msg("migrations: %s", err);
    assert_int_equal(migrate_apply(*db, &plan, &applied), 0);
    migrate_plan_release(&plan);
}

/* A new, empty database file in dir (named by the counter *n), open read-write. */
static inline sqlite3 *fixture_fresh_db(const char *dir, int *n)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/%d.db", dir, (*n)++);
    assert_int_equal(db_open(path, DB_READWRITE, &fixture_dbo, &db), 0);
    return db;
}

/* Removes the scratch directory and everything in it. */
static inline void fixture_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
