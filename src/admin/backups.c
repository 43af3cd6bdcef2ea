/*
 * backups.c - the admin's backups page: recent runs, run one now, download a stored
 * backup (streamed from the destination through a pipe by a thread of its own).
 * Threads: HTTP workers; the download thread.
 */
#include "admin/gate.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "db/readers.h"
#include "http/app.h"
#include "remote/backup.h"
#include "remote/remote.h"
#include "remote/stream.h"
#include "store/backups.h"

static int backups_view(struct request *r, struct ctx *c, int status, json_t *result)
{
    json_t *last = NULL;
    struct db_conn *db = readers_acquire(r->app->readers);
    if (backups_last(db, &last) < 0)
        last = NULL;
    readers_release(r->app->readers, db);
    json_t *m = json_pack("{s:s,s:O,s:s?}", "page_title", "Backups", "recent",
                          last ? json_object_get(last, "recent") : json_null(), "backup_url",
                          r->app->cfg->backup_url);
    json_decref(last);
    int local = r->app->cfg->backup_url != NULL; /* file:// or S3: both can be downloaded */
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(m, "recent"), i, row)
    {
        const char *state = json_string_value(json_object_get(row, "status"));
        json_object_set_new(row, "downloadable",
                            json_boolean(local && state && !strcmp(state, "ok")));
    }
    if (result)
        json_object_set_new(m, "result", result);
    json_object_set_new(m, "csrf", json_string(c->s.csrf));
    return admin_render(r, c, status, "admin/backups.html", "backups", m);
}

int admin_backups_page(struct request *r)
{
    struct ctx c;
    int rc = admin_page(r, &c);
    return rc ? rc : backups_view(r, &c, 200, NULL);
}

struct download {
    struct remote *remote;
    char name[200];
    int fd; /* the pipe's write end */
};

/* Streams an object from the destination into the pipe the response reads. */
static void *download_thread(void *arg)
{
    struct download *d = arg;
    char err[256];
    struct stream *out = stream_fd_new(d->fd, "download", err, sizeof(err));
    if (out) {
        if (remote_get(d->remote, d->name, out, err, sizeof(err)) == 0)
            stream_finish(out);
        else
            log_warn("admin: download of %s: %s", d->name, err);
        stream_free(out);
    }
    close(d->fd); /* the end of the body (or a cut one, which the browser reports) */
    remote_free(d->remote);
    free(d);
    return NULL;
}

/* Downloads a backup: a file:// object is sent straight from its file; an S3 object is
   streamed through a pipe filled by a thread of its own, never held in memory. */
int admin_download_backup(struct request *r)
{
    struct ctx c;
    struct backup_name bn;
    char err[256];
    int rc = admin_page(r, &c);
    if (rc)
        return rc;
    const char *name = request_param(r, "name");
    const char *url = r->app->cfg->backup_url;
    request_set_header(r, "Cache-Control", "no-store");
    if (!name || backup_name_parse(name, &bn) < 0 || strchr(name, '/') || strlen(name) >= 200)
        return request_error(r, 404, "No such backup.");
    if (!url)
        return request_error(r, 404, "Backups are off (ONEFILE_BACKUP_URL).");
    char disposition[300];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
    if (strncmp(url, "file://", 7) == 0) {
        char *path = xasprintf("%s/%s", url + 7, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd >= 0)
                close(fd);
            return request_error(r, 404, "No such backup.");
        }
        r->file_fd = fd;
        r->file_size = (uint64_t)st.st_size;
        r->has_file = 1;
    } else {
        struct remote *remote;
        struct remote_meta meta;
        int p[2];
        if (remote_open(r->app->cfg, url, &remote, err, sizeof(err)) < 0)
            return request_error(r, 502, err);
        remote_meta_init(&meta);
        if (remote_stat(remote, name, &meta, err, sizeof(err)) != 0) {
            remote_free(remote);
            return request_error(r, 404, "No such backup.");
        }
        if (pipe2(p, O_CLOEXEC) != 0) {
            remote_free(remote);
            return request_error(r, 503, "Cannot start the download.");
        }
        struct download *d = xcalloc(1, sizeof(*d));
        d->remote = remote;
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->fd = p[1];
        pthread_t t;
        if (pthread_create(&t, NULL, download_thread, d) != 0) {
            close(p[0]);
            close(p[1]);
            remote_free(remote);
            free(d);
            return request_error(r, 503, "Cannot start the download.");
        }
        pthread_detach(t);
        r->pipe_fd = p[0];
        r->has_pipe = 1;
    }
    request_set_header(r, "Content-Disposition", disposition);
    r->content_type = "application/octet-stream";
    r->no_etag = 1;
    return 200;
}

/* Runs a backup now, on this request (admin traffic is small; the backup itself runs at a
   lower priority and never blocks the writer, see remote/backup.h). */
int admin_run_backup(struct request *r)
{
    struct ctx c;
    char msg[512];
    int rc = admin_action(r, &c);
    if (rc == 0) {
        if (!r->app->cfg->backup_url) {
            rc = backups_view(
                r, &c, 409,
                json_pack("{s:b,s:s}", "ok", 0, "message", "ONEFILE_BACKUP_URL is not set."));
        } else {
            int ok = backup_job(r->app, msg, sizeof(msg)) == 0;
            rc = backups_view(r, &c, ok ? 200 : 502,
                              json_pack("{s:b,s:s}", "ok", ok, "message", msg));
        }
    }
    admin_done(&c);
    return rc;
}
