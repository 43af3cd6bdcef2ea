/* clock.c - monotonic and UTC wall-clock helpers; see clock.h. */
#include "core/clock.h"

#include <stdio.h>

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *clock_iso8601(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

char *clock_iso8601_ms(int64_t wall_ms, char *out, size_t outlen)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    char base[24];
    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(wall_ms % 1000));
    return out;
}
