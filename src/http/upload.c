/*
 * upload.c - request bodies streamed to an unlinked temporary file; see upload.h.
 *
 * The post processor calls `part` with each piece of each part it parsed: pieces of the
 * part named `file` are written to the file (short writes retried; a write error marks
 * the upload bad), small fields are copied into u->fields. A raw body goes straight to
 * the file. Nothing here allocates per chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "http/upload.h"

#define PP_BUFFER (64 * 1024)

/* The routes that take files. Adding one: its path here (framing.c reads the same list
   through upload_path() for the body cap), and a handler that reads r->upload. */
static const char *const paths[] = {"/api/v1/media", "/admin/media/upload"};

int upload_path(const char *path)
{
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (strcmp(path, paths[i]) == 0)
            return 1;
    return 0;
}

static void put(struct upload *u, const char *data, size_t len)
{
    if (u->toobig || u->bad || !len)
        return;
    if (len > u->max - u->size) {
        u->toobig = 1;
        return;
    }
    while (len) {
        ssize_t n = write(u->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_err("upload: temporary file: %s", strerror(errno));
            u->bad = 1;
            u->why = "The upload could not be stored (temporary file).";
            return;
        }
        data += n;
        len -= (size_t)n;
        u->size += (uint64_t)n;
    }
}

static enum MHD_Result part(void *cls, enum MHD_ValueKind kind, const char *key,
                            const char *filename, const char *content_type,
                            const char *transfer_encoding, const char *data, uint64_t off,
                            size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    struct upload *u = cls;
    if (!key)
        return MHD_YES;
    if (strcmp(key, "file") == 0) {
        if (off == 0 && ++u->file_parts > 1) {
            u->bad = 1;
            u->why = "Send one file per request (one part named file).";
        }
        if (off == 0 && filename)
            snprintf(u->filename, sizeof(u->filename), "%s", filename);
        put(u, data, size);
        return MHD_YES;
    }
    int i = 0;
    while (i < u->nfields && strcmp(u->fields[i][0], key) != 0)
        i++;
    if (i == u->nfields) {
        if (u->nfields == UPLOAD_MAX_FIELDS || strlen(key) >= UPLOAD_FIELD_MAX) {
            u->bad = 1;
            u->why = "Too many form fields.";
            return MHD_YES;
        }
        snprintf(u->fields[i][0], UPLOAD_FIELD_MAX, "%s", key);
        u->fields[i][1][0] = '\0';
        u->nfields++;
    }
    size_t have = strlen(u->fields[i][1]);
    if (off != have || have + size >= UPLOAD_FIELD_MAX) {
        u->bad = 1;
        u->why = "A form field is too long.";
        return MHD_YES;
    }
    memcpy(u->fields[i][1] + have, data, size);
    u->fields[i][1][have + size] = '\0';
    return MHD_YES;
}

int upload_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    snprintf(path, sizeof(path), "%s/onefile-upload-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

struct upload *upload_new(struct MHD_Connection *conn, uint64_t max)
{
    int fd = upload_tmpfile();
    if (fd < 0) {
        log_err("upload: cannot make a temporary file: %s", strerror(errno));
        return NULL;
    }
    struct upload *u = xcalloc(1, sizeof(*u));
    u->fd = fd;
    u->max = max;
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        u->multipart = 1;
        u->pp = MHD_create_post_processor(conn, PP_BUFFER, part, u);
        if (!u->pp) {
            u->bad = 1;
            u->why = "Malformed multipart/form-data (no boundary).";
        }
    } else {
        const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "filename");
        if (name)
            snprintf(u->filename, sizeof(u->filename), "%s", name);
    }
    return u;
}

void upload_feed(struct upload *u, const char *data, size_t len)
{
    if (u->bad || u->toobig)
        return;
    if (!u->multipart) {
        put(u, data, len);
        return;
    }
    if (MHD_post_process(u->pp, data, len) != MHD_YES && !u->bad) {
        u->bad = 1;
        u->why = "Malformed multipart/form-data.";
    }
}

int upload_finish(struct upload *u)
{
    if (u->pp) {
        if (MHD_destroy_post_processor(u->pp) != MHD_YES && !u->bad && !u->toobig) {
            u->bad = 1;
            u->why = "Malformed multipart/form-data (incomplete).";
        }
        u->pp = NULL;
        if (!u->bad && !u->toobig && u->file_parts == 0) {
            u->bad = 1;
            u->why = "No part named file.";
        }
    }
    return u->bad ? -1 : 0;
}

const char *upload_field(const struct upload *u, const char *name)
{
    for (int i = 0; i < u->nfields; i++)
        if (strcmp(u->fields[i][0], name) == 0)
            return u->fields[i][1];
    return NULL;
}

void upload_free(struct upload *u)
{
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    close(u->fd);
    free(u);
}
