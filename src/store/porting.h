/*
 * porting.h - the SQL of moving a site in and out (`onefile export`, `onefile import`):
 * every post and page in id order, every ready media, and the idempotent upsert of a
 * post by its slug with all of its columns given (times too), so an import of an export
 * reproduces the rows exactly and a second import changes nothing.
 *
 * Threads: the command's own connection (a reader for the walks, inside the command's
 * writer for the upsert).
 */
#ifndef ONEFILE_STORE_PORTING_H
#define ONEFILE_STORE_PORTING_H
#include <stddef.h>
#include <stdint.h>

#include "db/driver.h"
#include "store/media.h"

/* A post's columns; strings borrowed (valid during the callback, or until the write ran). */
struct port_post {
    const char *slug, *title, *body_md, *kind, *status;
    const char *published_at; /* NULL when never published */
    const char *created_at, *updated_at;
};

/* Calls fn for every post and page, by id. fn returns 0 to go on, -1 to stop (returned).
   0 or -1 (logged). */
int porting_each_post(struct db_conn *c, int (*fn)(void *ctx, const struct port_post *p),
                      void *ctx);
/* Calls fn for every ready media, by id. Same contract. */
int porting_each_media(struct db_conn *c, int (*fn)(void *ctx, const struct media_info *m),
                       void *ctx);

/* porting_upsert's argument: the post in, what happened out. */
#define PORT_CREATED 0
#define PORT_UPDATED 1
#define PORT_UNCHANGED 2
struct port_upsert {
    struct port_post post;
    int outcome; /* PORT_* */
};
/* A writer function: inserts the post, or updates the one with its slug when any column
   differs, or leaves it. */
int porting_upsert(struct db_conn *c, void *arg, char *err, size_t errlen);
#endif
