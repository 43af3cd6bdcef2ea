/*
 * progress.h - a one-line progress bar on stderr for long commands (backup, restore),
 * drawn only when stderr is a terminal, at most ten times a second; and byte sizes for
 * people ("12.3 MiB").
 */
#ifndef ONEFILE_CMD_PROGRESS_H
#define ONEFILE_CMD_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress {
    int on;    /* stderr is a terminal */
    int drawn; /* a line is on screen */
    int64_t last_us;
    const char *label;
};

/* Starts a bar labelled `label` (borrowed); off when stderr is not a terminal. */
void progress_init(struct progress *p, const char *label);
/* A stream_progress_fn: ctx is the struct progress. */
void progress_update(void *ctx, uint64_t done, uint64_t total);
/* Erases the bar. */
void progress_done(struct progress *p);
/* "512 B", "12.3 KiB", "4.0 MiB", "1.2 GiB" into out. Returns out. */
char *progress_size(long long bytes, char *out, size_t outlen);
#endif
