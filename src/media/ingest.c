/*
 * ingest.c - name, type, image and chunked storage of one file; see ingest.h.
 *
 * Memory: one MEDIA_CHUNK buffer per call; the file itself stays in its temporary file
 * (an image's stripped copy in a second one). The writer is held for one chunk at a time.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/writer.h"
#include "http/upload.h"
#include "media/image.h"
#include "media/ingest.h"
#include "media/sniff.h"

/* The kept file name: 0, or INGEST_ENAME for a name that holds a path. */
static int clean_name(const char *given, const char *mime, char *out, size_t outlen)
{
    const char *ext = sniff_ext(mime);
    char stem[128];
    size_t n = 0;
    if (given && *given) {
        if (strstr(given, "..") || strchr(given, '/') || strchr(given, '\\'))
            return INGEST_ENAME;
        for (const unsigned char *p = (const unsigned char *)given; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return INGEST_ENAME;
        const char *dot = strrchr(given, '.');
        size_t len = dot && dot != given ? (size_t)(dot - given) : strlen(given);
        for (size_t i = 0; i < len && n + 1 < sizeof(stem); i++) {
            unsigned char c = (unsigned char)given[i];
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || c == '.';
            stem[n++] = ok ? (char)c : '-';
        }
    }
    while (n && stem[n - 1] == '-')
        n--;
    stem[n] = '\0';
    snprintf(out, outlen, "%s.%s", n && stem[0] != '.' ? stem : "file", ext);
    return 0;
}

static int read_at(int fd, unsigned char *p, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(fd, p + got, len - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return log_err("media: read temporary file: %s", k ? strerror(errno) : "short");
        got += (size_t)k;
    }
    return 0;
}

static int hash_fd(int fd, uint64_t size, unsigned char *buf, char hex[65])
{
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    for (uint64_t off = 0; off < size;) {
        size_t len = size - off < MEDIA_CHUNK ? (size_t)(size - off) : MEDIA_CHUNK;
        if (read_at(fd, buf, len, off) != 0)
            return -1;
        crypto_hash_sha256_update(&h, buf, len);
        off += len;
    }
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(hex, 65, d, sizeof(d));
    return 0;
}

static int store_chunks(struct writer *w, int fd, struct media_new *n, unsigned char *buf,
                        char *msg, size_t msglen)
{
    char err[256];
    if (writer_submit(w, "media:begin", media_begin, n, err, sizeof(err)) != 0) {
        snprintf(msg, msglen, "The file could not be stored: %s", err);
        return INGEST_EWRITE;
    }
    if (n->existing)
        return 0;
    uint64_t size = (uint64_t)n->info.bytes;
    for (int64_t seq = 0; seq < n->info.chunks; seq++) {
        uint64_t off = (uint64_t)seq * MEDIA_CHUNK;
        size_t len = size - off < MEDIA_CHUNK ? (size_t)(size - off) : MEDIA_CHUNK;
        struct media_chunk k = {n->id, seq, buf, len};
        if (read_at(fd, buf, len, off) != 0 ||
            writer_submit(w, "media:chunk", media_put_chunk, &k, err, sizeof(err)) != 0)
            goto fail;
    }
    if (writer_submit(w, "media:finish", media_finish, &n->id, err, sizeof(err)) == 0)
        return 0;
fail:
    snprintf(msg, msglen, "The file could not be stored.");
    log_err("media: storing %s failed: %s", n->info.sha256, err);
    writer_submit(w, "media:abort", media_abort, &n->id, err, sizeof(err));
    return INGEST_EWRITE;
}

int media_ingest(struct writer *w, const struct config *cfg, int fd, uint64_t size,
                 const char *filename, struct media_info *out, int *existing, char *msg,
                 size_t msglen)
{
    int ret = INGEST_EINTERNAL, img = -1;
    unsigned char *buf = xmalloc(MEDIA_CHUNK);
    struct media_new n;
    memset(&n, 0, sizeof(n));
    snprintf(msg, msglen, "The file could not be stored.");
    if (size == 0) {
        snprintf(msg, msglen, "The file is empty.");
        ret = INGEST_EEMPTY;
        goto out;
    }
    size_t head = size < SNIFF_BYTES ? (size_t)size : SNIFF_BYTES;
    if (read_at(fd, buf, head, 0) != 0)
        goto out;
    const char *mime = sniff_mime(buf, head);
    if (!mime || !sniff_allowed(cfg->media_types, mime) || strcmp(mime, "image/svg+xml") == 0 ||
        strcmp(mime, "text/html") == 0) {
        if (mime && strcmp(mime, "image/svg+xml") == 0)
            snprintf(msg, msglen, "SVG files are not accepted: they can carry scripts.");
        else if (mime && strcmp(mime, "text/html") == 0)
            snprintf(msg, msglen, "HTML files are not accepted.");
        else
            snprintf(msg, msglen, "This type of file (%s) is not accepted; allowed: %s.",
                     mime ? mime : "unknown", cfg->media_types);
        ret = INGEST_ETYPE;
        goto out;
    }
    if (clean_name(filename, mime, n.info.filename, sizeof(n.info.filename)) != 0) {
        snprintf(msg, msglen, "The file name must not contain a path or control characters.");
        ret = INGEST_ENAME;
        goto out;
    }
    snprintf(n.info.mime, sizeof(n.info.mime), "%s", mime);
    int data = fd;
    if (sniff_is_image(mime)) {
        img = upload_tmpfile();
        if (img < 0) {
            log_err("media: temporary file: %s", strerror(errno));
            goto out;
        }
        int wd = 0, ht = 0;
        char err[256];
        int rc = image_prepare(fd, mime, cfg->max_image_pixels, img, &wd, &ht, err, sizeof(err));
        if (rc != 0) {
            if (rc == IMAGE_EBOMB || rc == IMAGE_EBAD) {
                snprintf(msg, msglen, "The image was refused: %s.", err);
                ret = INGEST_EIMAGE;
            }
            goto out;
        }
        struct stat stt;
        if (fstat(img, &stt) != 0) {
            log_err("media: stat: %s", strerror(errno));
            goto out;
        }
        size = (uint64_t)stt.st_size;
        n.info.width = wd;
        n.info.height = ht;
        data = img;
    }
    n.info.bytes = (int64_t)size;
    n.info.chunks = (int64_t)((size + MEDIA_CHUNK - 1) / MEDIA_CHUNK);
    if (hash_fd(data, size, buf, n.info.sha256) != 0)
        goto out;
    ret = store_chunks(w, data, &n, buf, msg, msglen);
    if (ret != 0)
        goto out;
    *existing = n.existing;
    *out = n.info;
    out->id = n.id;
    if (n.existing) /* the stored row's own name and time: read back by the caller */
        out->filename[0] = '\0';
    msg[0] = '\0';
out:
    if (img >= 0)
        close(img);
    free(buf);
    return ret;
}
