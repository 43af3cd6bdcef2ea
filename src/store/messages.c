/*
 * messages.c - contact-form messages; see messages.h.
 */
#include <stdio.h>

#include "core/log.h"
#include "store/store.h"
#include "store/messages.h"

int messages_create(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct message_write *m = arg;
    char now[32];
    store_time(0, now);
    struct db_stmt *st = db_prepare_insert(
        c, "INSERT INTO messages (name, email, body, ip, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_text(st, 1, m->name);
    db_bind_text(st, 2, m->email);
    db_bind_text(st, 3, m->body);
    db_bind_text(st, 4, m->ip);
    db_bind_text(st, 5, now);
    int rc = db_step(st);
    if (rc == DB_DONE)
        m->id = db_insert_id(st);
    else
        snprintf(err, errlen, "%s", db_errmsg(c));
    db_reset(st);
    return rc == DB_DONE ? 0 : -1;
}

static json_t *message_row(struct db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_column_int64(st, 0)));
    static const char *const names[] = {"name", "email", "body", "ip", "created_at", "read_at"};
    for (int i = 0; i < 6; i++) {
        const char *t = db_column_text(st, i + 1);
        json_object_set_new(o, names[i], t ? json_string(t) : json_null());
    }
    return o;
}

int messages_get(struct db_conn *c, int64_t id, json_t **out)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT id, name, email, body, ip, created_at, read_at FROM messages WHERE id = ?1");
    if (!st)
        return -1;
    db_bind_int64(st, 1, id);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *out = message_row(st);
    db_reset(st);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? 1 : log_err("messages: %s", db_errmsg(c));
}

int messages_mark_read(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    char now[32];
    store_time(0, now);
    struct db_stmt *st =
        db_prepare(c, "UPDATE messages SET read_at = ?2 WHERE id = ?1 AND read_at IS NULL");
    if (!st) {
        snprintf(err, errlen, "prepare: %s", db_errmsg(c));
        return -1;
    }
    db_bind_int64(st, 1, *(int64_t *)arg);
    db_bind_text(st, 2, now);
    return db_run(st, err, errlen) < 0 ? -1 : 0;
}

int messages_delete(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    return store_exec_id(c, "DELETE FROM messages WHERE id = ?1", *(int64_t *)arg, err, errlen) < 0
               ? -1
               : 0;
}

int messages_list(struct db_conn *c, int64_t before, int limit, json_t **items, int64_t *next)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT id, name, email, body, ip, created_at, read_at FROM messages "
                      "WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
    if (!st)
        return -1;
    db_bind_int64(st, 1, before);
    db_bind_int64(st, 2, limit + 1);
    *items = json_array();
    *next = 0;
    int rc, n = 0;
    int64_t last = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n++ == limit) {
            *next = last;
            break;
        }
        last = db_column_int64(st, 0);
        json_array_append_new(*items, message_row(st));
    }
    db_reset(st);
    if (rc < 0) {
        json_decref(*items);
        *items = NULL;
        return log_err("messages: list: %s", db_errmsg(c));
    }
    return 0;
}
