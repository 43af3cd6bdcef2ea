/*
 * mem.h - allocation that never fails silently.
 *
 * Every x* function aborts the process with the requested size on out-of-memory
 * (like Redis's zmalloc): a server that cannot allocate a few bytes cannot do anything
 * useful, and checking every small allocation hides the checks that matter (input-driven
 * growth, which is capped by struct buf's limit instead). Safe from any thread.
 */
#ifndef ONEFILE_CORE_MEM_H
#define ONEFILE_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string owned by the caller */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
