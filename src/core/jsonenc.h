/*
 * jsonenc.h - compact JSON text of a jansson value, appended to a buf.
 *
 * The output is byte for byte what json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)
 * gives (tests/unit/test_jsonenc.c holds it to that), without its cost on a hot path:
 * jansson 2.14 builds a hash set of the containers it is inside (keyed by "%p" text, one
 * allocation per container) to refuse cycles, and collects the text in a buffer of its
 * own. Every API response goes through here; a value built by onefile has no cycles, and
 * the depth is bounded all the same.
 * Threads: any; the value and the buffer belong to the caller.
 */
#ifndef ONEFILE_CORE_JSONENC_H
#define ONEFILE_CORE_JSONENC_H

#include <jansson.h>

#include "core/buf.h"

#define JSONENC_MAX_DEPTH 256

/* Appends the text of v to b. 0, or -1 when v nests deeper than JSONENC_MAX_DEPTH, a real
   is not finite, or b's limit is reached (b may then hold part of the text). */
int jsonenc_value(struct buf *b, json_t *v);
/* Appends s (len bytes) as a JSON string, quoted and escaped as jsonenc_value() does. s must
   be valid UTF-8 (jsonenc_utf8_valid); 0, or -1 at b's limit. */
int jsonenc_string(struct buf *b, const char *s, size_t len);
/* Whether s (len bytes, NULs allowed) is UTF-8 that jansson would take as a string:
   shortest forms only, no surrogates, nothing past U+10FFFF. */
int jsonenc_utf8_valid(const char *s, size_t len);

#endif
