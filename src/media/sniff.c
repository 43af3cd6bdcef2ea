/*
 * sniff.c - file types from their magic numbers; see sniff.h.
 *
 * A table of signatures (offset, bytes); the few types that need more than one fixed
 * signature (WebP and WAV inside RIFF, MP4 brands, markup) are checked in code after it.
 * Markup is looked for after leading whitespace and a UTF-8 byte-order mark, case-
 * insensitively, the way a browser that sniffs would.
 */
#include <string.h>
#include <strings.h>

#include "media/sniff.h"

struct signature {
    size_t off;
    const char *magic;
    size_t len;
    const char *mime;
};

/* Adding a type: a row here (or a check in sniff_mime), its extension in exts. */
static const struct signature signatures[] = {
    {0, "\xff\xd8\xff", 3, "image/jpeg"}, {0, "\x89PNG\r\n\x1a\n", 8, "image/png"},
    {0, "GIF87a", 6, "image/gif"},        {0, "GIF89a", 6, "image/gif"},
    {0, "%PDF-", 5, "application/pdf"},   {0, "ID3", 3, "audio/mpeg"},
    {0, "OggS", 4, "audio/ogg"},          {0, "fLaC", 4, "audio/flac"},
};

static const char *const exts[][2] = {
    {"image/jpeg", "jpg"},  {"image/png", "png"},       {"image/gif", "gif"},
    {"image/webp", "webp"}, {"application/pdf", "pdf"}, {"audio/mpeg", "mp3"},
    {"audio/ogg", "ogg"},   {"audio/flac", "flac"},     {"audio/wav", "wav"},
    {"audio/mp4", "m4a"},   {"video/mp4", "mp4"},       {"image/svg+xml", "svg"},
    {"text/html", "html"},
};

static const char *markup(const unsigned char *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i >= n || p[i] != '<')
        return NULL;
    /* anything SVG-like in the first bytes wins: "<?xml ...><svg" or "<!DOCTYPE svg" */
    for (size_t k = i; k + 4 <= n; k++)
        if (strncasecmp((const char *)p + k, "<svg", 4) == 0)
            return "image/svg+xml";
    static const char *const html[] = {"<!doctype html", "<html",   "<head", "<script",
                                       "<body",          "<iframe", "<?xml"};
    for (size_t k = 0; k < sizeof(html) / sizeof(html[0]); k++) {
        size_t len = strlen(html[k]);
        if (n - i >= len && strncasecmp((const char *)p + i, html[k], len) == 0)
            return "text/html";
    }
    return NULL;
}

const char *sniff_mime(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < sizeof(signatures) / sizeof(signatures[0]); i++) {
        const struct signature *s = &signatures[i];
        if (n >= s->off + s->len && memcmp(p + s->off, s->magic, s->len) == 0)
            return s->mime;
    }
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0) {
        if (memcmp(p + 8, "WEBP", 4) == 0)
            return "image/webp";
        if (memcmp(p + 8, "WAVE", 4) == 0)
            return "audio/wav";
        return NULL;
    }
    if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        if (memcmp(p + 8, "M4A ", 4) == 0 || memcmp(p + 8, "M4B ", 4) == 0)
            return "audio/mp4";
        if (memcmp(p + 8, "isom", 4) == 0 || memcmp(p + 8, "mp41", 4) == 0 ||
            memcmp(p + 8, "mp42", 4) == 0 || memcmp(p + 8, "avc1", 4) == 0)
            return "video/mp4";
        return NULL;
    }
    /* an MPEG-1/2 layer III frame header without a tag: 11 sync bits, layer 01 */
    if (n >= 4 && p[0] == 0xff && (p[1] & 0xe0) == 0xe0 && (p[1] & 0x06) == 0x02 &&
        (p[2] & 0xf0) != 0xf0)
        return "audio/mpeg";
    return markup(p, n);
}

int sniff_is_image(const char *mime)
{
    return strcmp(mime, "image/jpeg") == 0 || strcmp(mime, "image/png") == 0 ||
           strcmp(mime, "image/gif") == 0 || strcmp(mime, "image/webp") == 0;
}

const char *sniff_ext(const char *mime)
{
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcmp(exts[i][0], mime) == 0)
            return exts[i][1];
    return "bin";
}

const char *sniff_literal(const char *mime)
{
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcmp(exts[i][0], mime) == 0)
            return exts[i][0];
    return "application/octet-stream";
}

int sniff_allowed(const char *list, const char *mime)
{
    size_t n = strlen(mime);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, mime, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}
