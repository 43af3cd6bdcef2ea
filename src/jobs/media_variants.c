/*
 * media_variants.c - the `media-variants` job type; the contract is in media_variants.h.
 *
 * Memory: the original (at most ONEFILE_MAX_UPLOAD_BYTES) and one variant at a time; no
 * connection is held while libvips works.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/readers.h"
#include "db/writer.h"
#include "http/app.h"
#include "jobs/media_variants.h"
#include "media/image.h"
#include "media/sniff.h"
#include "store/media.h"

int media_variants_run(const struct job_ctx *c, char *err, size_t errlen)
{
    json_t *idv = json_object_get(c->payload, "media_id");
    if (!json_is_integer(idv)) {
        snprintf(err, errlen, "payload.media_id must be an integer");
        return JOB_EPERMANENT;
    }
    struct media_info m;
    struct buf orig = BUF_INIT;
    struct db_conn *db = readers_acquire(c->app->readers);
    int rc = media_get(db, (int64_t)json_integer_value(idv), &m);
    if (rc == 0 && sniff_is_image(m.mime))
        rc = media_read(db, &m, 0, (uint64_t)m.bytes, &orig) == 0 ? 0 : -1;
    readers_release(c->app->readers, db);
    if (rc != 0 || !sniff_is_image(m.mime)) {
        buf_release(&orig);
        if (rc < 0) {
            snprintf(err, errlen, "cannot read media %lld", (long long)json_integer_value(idv));
            return -1;
        }
        return 0; /* deleted meanwhile, or nothing to resize */
    }
    static const int widths[] = MEDIA_VARIANT_WIDTHS;
    int ret = 0;
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]) && ret == 0; i++) {
        if (widths[i] >= m.width)
            break;
        if (atomic_load(c->abort)) {
            ret = JOB_EABORTED;
            break;
        }
        struct buf out = BUF_INIT;
        int height = 0;
        if (image_variant(orig.data, orig.len, widths[i], &out, &height, err, errlen) != 0) {
            ret = -1;
        } else {
            struct media_variant v = {m.id, widths[i], height, "image/webp", out.data, out.len};
            if (writer_submit(c->app->writer, "jobs/media-variants", media_variant_put, &v, err,
                              errlen) != 0)
                ret = -1;
        }
        buf_release(&out);
    }
    buf_release(&orig);
    return ret;
}
