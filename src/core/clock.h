/*
 * clock.h - time sources: a monotonic clock for durations, the wall clock in UTC for
 * records and logs. Safe from any thread.
 */
#ifndef ONEFILE_CORE_CLOCK_H
#define ONEFILE_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic microseconds since an arbitrary point; only differences mean anything. */
int64_t clock_mono_us(void);
/* Wall-clock milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);
/* Formats t (seconds since the epoch) as ISO 8601 UTC, "2026-11-24T03:00:00Z".
   out needs 21 bytes; returns out. */
char *clock_iso8601(time_t t, char *out, size_t outlen);
/* The same with milliseconds, "2026-11-24T03:00:00.123Z"; out needs 25 bytes. */
char *clock_iso8601_ms(int64_t wall_ms, char *out, size_t outlen);

#endif
