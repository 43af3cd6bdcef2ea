/*
 * sniff.h - the type of a file, told from its first bytes (never from the client's word).
 *
 * Recognised: JPEG, PNG, GIF, WebP, PDF, MP3 (ID3 tag or an MPEG audio frame), Ogg, WAV,
 * FLAC, MP4/M4A (ISO base media: "ftyp", audio/mp4 for M4A brands, video/mp4 otherwise),
 * and, to refuse them by name, SVG and HTML (markup that a browser would run). Anything
 * else is NULL: an unknown type is never accepted. Threads: any (pure function).
 */
#ifndef ONEFILE_MEDIA_SNIFF_H
#define ONEFILE_MEDIA_SNIFF_H
#include <stddef.h>

/* How many leading bytes sniff_mime() wants (fewer is fine for a short file). */
#define SNIFF_BYTES 512

/* The MIME type of a file starting with p[0..n), or NULL when unknown. */
const char *sniff_mime(const unsigned char *p, size_t n);
/* Whether mime is an image type the image library decodes (media/image.h). */
int sniff_is_image(const char *mime);
/* The usual file extension of mime, without the dot ("jpg"), or "bin". */
const char *sniff_ext(const char *mime);
/* The same MIME type as a string literal (for a response's Content-Type), or
   "application/octet-stream" for one this file does not know. */
const char *sniff_literal(const char *mime);
/* Whether mime appears in list (comma-separated, no spaces, exact entries). */
int sniff_allowed(const char *list, const char *mime);
#endif
