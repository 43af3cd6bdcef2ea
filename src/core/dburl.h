/*
 * dburl.h - what ONEFILE_DB names: a SQLite file, or a PostgreSQL database.
 *
 * ONEFILE_DB is a path (SQLite) unless it starts with postgres:// or postgresql://, a
 * libpq connection URI: user, password, several host:port pairs
 * (postgres://h1:5432,h2:5432/db), and any libpq parameter in the query string
 * (?target_session_attrs=read-write&sslmode=require&connect_timeout=5). libpq's own parser
 * checks it (PQconninfoParse: no connection is made), so what onefile accepts is exactly
 * what libpq will connect with. Only URLs: a "host=... dbname=..." string would be taken
 * for a file name, so it is not accepted as a PostgreSQL address.
 *
 * The password never reaches a log line or `onefile config`: dburl_mask() replaces the
 * password of the user part and any `password=` parameter with ********.
 * Threads: any; no state.
 */
#ifndef ONEFILE_CORE_DBURL_H
#define ONEFILE_CORE_DBURL_H
#include <stddef.h>

/* 1 when db (NULL allowed) is a PostgreSQL URL, else 0. */
int dburl_is_postgres(const char *db);
/* For a PostgreSQL URL: 0 when libpq can parse it, or -1 with libpq's reason in err
   ("invalid integer value "x" for connection option "port""). */
int dburl_check(const char *url, char *err, size_t errlen);
/* db with its passwords replaced by ********, in a new string the caller frees (a path
   comes back unchanged). */
char *dburl_mask(const char *db);
#endif
