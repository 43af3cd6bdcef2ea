/*
 * messages.c - the contact-form messages in the admin: list, read (marks it read), delete.
 * Threads: HTTP workers.
 */
#include "admin/gate.h"

#include <stdlib.h>
#include <string.h>

#include "db/readers.h"
#include "http/app.h"
#include "site/markdown.h"
#include "store/messages.h"

/* ---- messages ---- */

int admin_messages_page(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    const char *cursor = request_query(r, "cursor");
    int64_t before = cursor ? strtoll(cursor, NULL, 10) : 0, next;
    json_t *items;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = messages_list(db, before > 0 ? before : 0, PAGE_SIZE, &items, &next);
    readers_release(r->app->readers, db);
    if (rc < 0)
        return request_error(r, 500, "Cannot read the messages.");
    size_t i;
    json_t *m;
    json_array_foreach(items, i, m)
    {
        const char *body = json_string_value(json_object_get(m, "body"));
        struct buf b = BUF_INIT;
        markdown_excerpt(body, strlen(body), 120, &b);
        json_object_set_new(m, "excerpt", json_string(buf_str(&b)));
        buf_release(&b);
    }
    json_t *model = json_pack("{s:s,s:o}", "page_title", "Messages", "messages", items);
    if (next)
        json_object_set_new(model, "next_url",
                            json_sprintf("/admin/messages?cursor=%lld", (long long)next));
    return admin_render(r, &c, 200, "admin/messages.html", "messages", model);
}

int admin_message_page(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    int64_t id = admin_id_param(r);
    json_t *msg;
    struct db_conn *db = readers_acquire(r->app->readers);
    rc = messages_get(db, id, &msg);
    readers_release(r->app->readers, db);
    if (rc != 0)
        return request_error(r, rc < 0 ? 500 : 404, "No such message.");
    if (json_is_null(json_object_get(msg, "read_at")))
        admin_submit(r, "admin:messages", messages_mark_read, &id, err, sizeof(err));
    json_object_set_new(msg, "csrf", json_string(c.s.csrf));
    return admin_render(r, &c, 200, "admin/message.html", "messages",
                        json_pack("{s:s,s:o}", "page_title", "Message", "message", msg));
}

int admin_delete_message(struct request *r)
{
    struct ctx c;
    char err[256];
    int rc = admin_action(r, &c);
    int64_t id = admin_id_param(r);
    if (rc == 0 && !admin_confirmed(&c)) {
        char action[64], back[64];
        snprintf(action, sizeof(action), "/admin/messages/%lld/delete", (long long)id);
        snprintf(back, sizeof(back), "/admin/messages/%lld", (long long)id);
        struct admin_question q = {"Delete this message?",
                                   "This cannot be undone.",
                                   action,
                                   "Delete",
                                   back,
                                   "messages",
                                   0};
        rc = admin_confirm(r, &c, &q);
    } else if (rc == 0) {
        rc = admin_submit(r, "admin:messages", messages_delete, &id, err, sizeof(err)) == 0
                 ? admin_redirect_done(r, "/admin/messages", "message-deleted")
                 : request_error(r, 503, "The message could not be deleted.");
        request_set_header(r, "Cache-Control", "no-store");
    }
    admin_done(&c);
    return rc;
}
