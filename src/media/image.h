/*
 * image.h - images through libvips: the uploaded original made safe to serve, and the
 * resized variants.
 *
 * Why libvips (Debian's libvips-dev 8.14): it streams images through a pipeline of small
 * regions instead of decoding them whole (low memory, fast), reads a file's dimensions
 * from its header without decoding (so a decompression bomb is refused before any pixel
 * is made), applies EXIF orientation (vips_autorot) and drops every metadata block when
 * saving (`strip`), and writes WebP. Only the four loaders of the formats media/sniff.c
 * accepts are ever called (jpeg, png, gif, webp), never libvips' sniffing loader, so a
 * file cannot reach a loader for another format (SVG, PDF, ImageMagick's).
 *
 * image_prepare: header -> width x height <= max_pixels (else IMAGE_EBOMB) -> decode with
 * fail-on-truncation -> autorotate -> save in the same format, stripped. The result is
 * what the site serves; the client's bytes (EXIF GPS and all) are never stored.
 *
 * Threads: any; libvips is started once (pthread_once) with one worker thread per call
 * (the HTTP workers are the parallelism) and its operation cache off.
 */
#ifndef ONEFILE_MEDIA_IMAGE_H
#define ONEFILE_MEDIA_IMAGE_H
#include <stddef.h>

#include "core/buf.h"

#define IMAGE_EBOMB (-2) /* more pixels than allowed */
#define IMAGE_EBAD (-3)  /* not a decodable image of its type (truncated, malformed) */

/* Reads the image of type mime from in_fd (from offset 0), writes the stripped, upright
   copy to out_fd (at its current offset), sets *width and *height. 0, IMAGE_EBOMB or
   IMAGE_EBAD with err filled, or -1 (logged: the library failed). */
int image_prepare(int in_fd, const char *mime, long max_pixels, int out_fd, int *width, int *height,
                  char *err, size_t errlen);
/* A WebP copy of the image in data[0..len) scaled to `width` pixels wide (never larger
   than the original), metadata stripped, appended to out; *height set. 0, or -1 (err). */
int image_variant(const void *data, size_t len, int width, struct buf *out, int *height, char *err,
                  size_t errlen);
#endif
