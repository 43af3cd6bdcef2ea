/*
 * messages.h - messages from the contact form: stored by a writer function, listed on a
 * reader. A message is {id, name, email, body, ip, created_at, read_at}.
 * Threads: the caller's connection.
 */
#ifndef ONEFILE_STORE_MESSAGES_H
#define ONEFILE_STORE_MESSAGES_H
#include <jansson.h>
#include <stdint.h>

#include "db/driver.h"

struct message_write {
    const char *name, *email, *body, *ip; /* borrowed */
    int64_t id;                           /* set on success */
};
/* Writer function: stores the message (arg: struct message_write). */
int messages_create(struct db_conn *c, void *arg, char *err, size_t errlen);
/* Newest first, ids below `before` (0: from the newest), at most limit. *next is the cursor
   of the next page or 0. 0 or -1 logged. */
int messages_list(struct db_conn *c, int64_t before, int limit, json_t **items, int64_t *next);
/* One message: 0 found (*out), 1 not found, -1. */
int messages_get(struct db_conn *c, int64_t id, json_t **out);
/* Writer functions on message *(int64_t *)arg: mark read (once), delete. */
int messages_mark_read(struct db_conn *c, void *arg, char *err, size_t errlen);
int messages_delete(struct db_conn *c, void *arg, char *err, size_t errlen);
#endif
