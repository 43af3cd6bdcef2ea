/*
 * posts.h - posts and pages in the database: reads on a reader connection, writes as
 * writer functions (db/writer.h) so they run inside the writer's batch.
 *
 * A post is returned as a JSON object whose keys are the column names of DESIGN.md:
 * id, slug, title, body_md, kind ("post"|"page"), status ("draft"|"published"),
 * published_at, created_at, updated_at (ISO 8601 UTC text, published_at may be null).
 * Public reads (include_drafts 0, posts_published) see a post only once it is published
 * and its published_at has come: a later published_at schedules it.
 * The store never knows about HTTP: it returns 0/1 (found/not found) or -1, and writer
 * functions report a slug conflict through their argument, for the handler to map.
 *
 * Threads: the caller's connection, as db/readers.h and db/writer.h say.
 */
#ifndef ONEFILE_STORE_POSTS_H
#define ONEFILE_STORE_POSTS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "db/driver.h"

#define POSTS_MAX_LIMIT 100

struct posts_query {
    const char *kind;   /* "post", "page" or NULL for both */
    const char *status; /* "draft", "published" or NULL for both */
    int include_drafts; /* 0: published only, whatever status says */
    int limit;          /* 1..POSTS_MAX_LIMIT */
    int64_t before;     /* cursor: only ids below this (0: from the newest) */
    const char *search; /* substring of the title, or NULL */
};

/* One post by id / by slug (kind NULL: any kind). 0 found (*out set), 1 not found, -1. */
int posts_get(struct db_conn *c, int64_t id, int include_drafts, json_t **out);
int posts_get_by_slug(struct db_conn *c, const char *slug, const char *kind, int include_drafts,
                      json_t **out);
/* Newest first by id. *items receives an array; *next the cursor for the next page (the
   last id) or 0 when this page is the last. 0 or -1. */
int posts_list(struct db_conn *c, const struct posts_query *q, json_t **items, int64_t *next);
/* Published posts of a kind, newest published first, page by page (page from 1), for the
   site. *more is set when there is a next page. 0 or -1. */
int posts_published(struct db_conn *c, const char *kind, int page, int per_page, json_t **items,
                    int *more);

/* The earliest published_at still to come among published posts and pages (a scheduled
   post), as seconds since the epoch in *due, or 0 when none is scheduled. 0 or -1. */
int posts_next_due(struct db_conn *c, int64_t *due);

/* A create or update, to run through the writer with posts_write as the function.
   `fields` holds the validated input (keys as in the model; absent keys are left as they
   are on update). On success id is set and, when want_result is, row holds the stored
   post as this write left it, read inside the transaction (the writer's connection has it
   in its page cache; a reader would start a transaction of its own for it). posts_write
   and posts_delete change the database with one statement: they may run WRITER_ATOMIC. */
struct post_row; /* a post's columns in one allocation: free() it */
struct post_write {
    int64_t id;     /* 0 for a create */
    json_t *fields; /* borrowed */
    int want_result;
    struct post_row *row; /* the stored post (the caller frees it) */
    int not_found;        /* update/delete: no such id */
    int slug_conflict;    /* the slug belongs to another post */
    int engine_error;     /* a statement failed: its DB_E* code (db/driver.h), else 0 */
};
int posts_write(struct db_conn *c, void *arg, char *err, size_t errlen);
/* The JSON text of a post_write's row appended to b, without building an object: byte for
   byte jsonenc_value() of the object posts_get gives for the same row (a text that is not
   UTF-8 is left out, as jansson leaves it out there). 0, or -1 at b's limit. */
int posts_row_encode(struct buf *b, const struct post_row *r);
/* Deletes post `id` (arg: struct post_write). */
int posts_delete(struct db_conn *c, void *arg, char *err, size_t errlen);

#endif
