/*
 * messages.c - contact-form messages; see messages.h.
 */
#include <stdio.h>

#include "core/log.h"
#include "db/db.h"
#include "store/messages.h"

int messages_create(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct message_write *m = arg;
    sqlite3_stmt *st = db_prepare_cached(
        db, "INSERT INTO messages (name, email, body, ip) VALUES (?1, ?2, ?3, ?4)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->ip, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    m->id = sqlite3_last_insert_rowid(db);
    return 0;
}

static json_t *message_row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    static const char *const names[] = {"name", "email", "body", "ip", "created_at", "read_at"};
    for (int i = 0; i < 6; i++) {
        const unsigned char *t = sqlite3_column_text(st, i + 1);
        json_object_set_new(o, names[i], t ? json_string((const char *)t) : json_null());
    }
    return o;
}

int messages_get(sqlite3 *db, sqlite3_int64 id, json_t **out)
{
    sqlite3_stmt *st = db_prepare_cached(
        db, "SELECT id, name, email, body, ip, created_at, read_at FROM messages WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = message_row(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? 1 : log_err("messages: %s", sqlite3_errmsg(db));
}

int messages_mark_read(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return db_exec_id(db,
                      "UPDATE messages SET read_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                      "WHERE id = ?1 AND read_at IS NULL",
                      *(sqlite3_int64 *)arg, err, errlen);
}

int messages_delete(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return db_exec_id(db, "DELETE FROM messages WHERE id = ?1", *(sqlite3_int64 *)arg, err, errlen);
}

int messages_list(sqlite3 *db, sqlite3_int64 before, int limit, json_t **items, sqlite3_int64 *next)
{
    sqlite3_stmt *st =
        db_prepare_cached(db, "SELECT id, name, email, body, ip, created_at, read_at FROM messages "
                              "WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, limit + 1);
    *items = json_array();
    *next = 0;
    int rc, n = 0;
    sqlite3_int64 last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == limit) {
            *next = last;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        json_array_append_new(*items, message_row(st));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(*items);
        *items = NULL;
        return log_err("messages: list: %s", sqlite3_errmsg(db));
    }
    return 0;
}
