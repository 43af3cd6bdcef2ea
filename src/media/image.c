/*
 * image.c - libvips behind media/image.h.
 *
 * Every libvips object made here is unreffed before return (the `out` label); an error
 * message from libvips is copied into err and its error buffer cleared, since the buffer
 * is per thread and would otherwise grow.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include "core/log.h"
#include "media/image.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int started;

static void start(void)
{
    if (VIPS_INIT("onefile") != 0)
        return;
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    started = 1;
}

static int vips_failed(char *err, size_t errlen, const char *what)
{
    const char *m = vips_error_buffer();
    snprintf(err, errlen, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
    vips_error_clear();
    return IMAGE_EBAD;
}

static VipsImage *load(VipsSource *src, const char *mime)
{
    VipsImage *im = NULL;
    int rc = -1;
    if (strcmp(mime, "image/jpeg") == 0)
        rc = vips_jpegload_source(src, &im, "fail_on", VIPS_FAIL_ON_TRUNCATED, "access",
                                  VIPS_ACCESS_SEQUENTIAL, NULL);
    else if (strcmp(mime, "image/png") == 0)
        rc = vips_pngload_source(src, &im, "fail_on", VIPS_FAIL_ON_TRUNCATED, "access",
                                 VIPS_ACCESS_SEQUENTIAL, NULL);
    else if (strcmp(mime, "image/gif") == 0)
        rc = vips_gifload_source(src, &im, "fail_on", VIPS_FAIL_ON_TRUNCATED, "access",
                                 VIPS_ACCESS_SEQUENTIAL, NULL);
    else if (strcmp(mime, "image/webp") == 0)
        rc = vips_webpload_source(src, &im, "fail_on", VIPS_FAIL_ON_TRUNCATED, "access",
                                  VIPS_ACCESS_SEQUENTIAL, NULL);
    return rc == 0 ? im : NULL;
}

static int save(VipsImage *im, const char *mime, VipsTarget *t)
{
    if (strcmp(mime, "image/jpeg") == 0)
        return vips_jpegsave_target(im, t, "Q", 90, "strip", TRUE, NULL);
    if (strcmp(mime, "image/png") == 0)
        return vips_pngsave_target(im, t, "strip", TRUE, NULL);
    if (strcmp(mime, "image/gif") == 0)
        return vips_gifsave_target(im, t, "strip", TRUE, NULL);
    return vips_webpsave_target(im, t, "Q", 85, "strip", TRUE, NULL);
}

int image_prepare(int in_fd, const char *mime, long max_pixels, int out_fd, int *width, int *height,
                  char *err, size_t errlen)
{
    pthread_once(&once, start);
    if (!started)
        return log_err("image: libvips did not start");
    int ret = IMAGE_EBAD;
    VipsSource *src = NULL;
    VipsTarget *tgt = NULL;
    VipsImage *im = NULL, *up = NULL;
    if (lseek(in_fd, 0, SEEK_SET) != 0) {
        ret = log_err("image: seek: %s", strerror(errno));
        goto out;
    }
    src = vips_source_new_from_descriptor(in_fd);
    if (!src) {
        ret = vips_failed(err, errlen, "cannot read the image");
        goto out;
    }
    im = load(src, mime);
    if (!im) {
        ret = vips_failed(err, errlen, "not a valid image");
        goto out;
    }
    long w = vips_image_get_width(im), h = vips_image_get_height(im);
    if (w <= 0 || h <= 0 || w > max_pixels / h) {
        snprintf(err, errlen, "the image is %ld x %ld pixels, more than the %ld allowed", w, h,
                 max_pixels);
        ret = IMAGE_EBOMB;
        goto out;
    }
    if (vips_autorot(im, &up, NULL) != 0) {
        ret = vips_failed(err, errlen, "cannot orient the image");
        goto out;
    }
    tgt = vips_target_new_to_descriptor(out_fd);
    if (!tgt || save(up, mime, tgt) != 0 || vips_target_end(tgt) != 0) {
        ret = vips_failed(err, errlen, "the image is damaged or truncated");
        goto out;
    }
    *width = vips_image_get_width(up);
    *height = vips_image_get_height(up);
    ret = 0;
out:
    if (up)
        g_object_unref(up);
    if (im)
        g_object_unref(im);
    if (tgt)
        g_object_unref(tgt);
    if (src)
        g_object_unref(src);
    return ret;
}

int image_variant(const void *data, size_t len, int width, struct buf *out, int *height, char *err,
                  size_t errlen)
{
    pthread_once(&once, start);
    if (!started)
        return log_err("image: libvips did not start");
    VipsImage *im = NULL;
    void *webp = NULL;
    size_t n = 0;
    int ret = -1;
    /* the stored original is upright already (image_prepare), so no autorotation here */
    if (vips_thumbnail_buffer((void *)(uintptr_t)data, len, &im, width, "height", VIPS_MAX_COORD,
                              "size", VIPS_SIZE_DOWN, "no_rotate", TRUE, NULL) != 0 ||
        vips_webpsave_buffer(im, &webp, &n, "Q", 80, "strip", TRUE, NULL) != 0) {
        vips_failed(err, errlen, "cannot resize");
        goto out;
    }
    *height = vips_image_get_height(im);
    if (buf_add(out, webp, n) != 0) {
        snprintf(err, errlen, "variant too large");
        goto out;
    }
    ret = 0;
out:
    g_free(webp);
    if (im)
        g_object_unref(im);
    return ret;
}
