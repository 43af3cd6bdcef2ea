/*
 * media_variants.h - the `media-variants` job type: resized WebP copies of an image.
 *
 * Payload: {"media_id": N}. Queued once per new image by the upload handlers, with the
 * idempotency key "media-variants-<id>". For each width of MEDIA_VARIANT_WIDTHS smaller
 * than the image (an image 700 px wide gets 480 only; one below 480 gets none), the
 * stored, already stripped and upright original is read on a reader, scaled by libvips
 * (media/image.h) and saved as WebP without metadata; each variant is one writer call
 * (media_variant_put keeps one already there, so a retried job adds nothing twice).
 * A media deleted meanwhile, or not an image, is done with nothing to make. A libvips
 * failure fails the attempt (retried with backoff, then failed_jobs).
 *
 * Threads: any worker thread.
 */
#ifndef ONEFILE_JOBS_MEDIA_VARIANTS_H
#define ONEFILE_JOBS_MEDIA_VARIANTS_H
#include <stddef.h>

#include "jobs/worker.h"

#define MEDIA_VARIANT_WIDTHS                                                                       \
    {                                                                                              \
        480, 960, 1600                                                                             \
    }

int media_variants_run(const struct job_ctx *c, char *err, size_t errlen);
#endif
