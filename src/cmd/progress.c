/* progress.c - the terminal progress bar and human sizes; see progress.h. */
#include "cmd/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "core/clock.h"

void progress_init(struct progress *p, const char *label)
{
    p->on = isatty(STDERR_FILENO);
    p->drawn = 0;
    p->last_us = 0;
    p->label = label;
}

char *progress_size(long long bytes, char *out, size_t outlen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, outlen, "%lld B", bytes);
    else
        snprintf(out, outlen, "%.1f %s", v, units[u]);
    return out;
}

void progress_update(void *ctx, uint64_t done, uint64_t total)
{
    struct progress *p = ctx;
    if (!p->on)
        return;
    int64_t now = clock_mono_us();
    if (p->drawn && now - p->last_us < 100000 && done != total)
        return;
    p->last_us = now;
    char d[32], t[32];
    progress_size((long long)done, d, sizeof(d));
    if (total == 0) {
        fprintf(stderr, "\r%s %s\033[K", p->label, d);
    } else {
        int width = 30, fill = (int)((double)done / (double)total * width);
        if (fill > width)
            fill = width;
        char bar[31];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r%s [%s] %3.0f%% %s of %s\033[K", p->label, bar,
                (double)done * 100.0 / (double)total, d,
                progress_size((long long)total, t, sizeof(t)));
    }
    fflush(stderr);
    p->drawn = 1;
}

void progress_done(struct progress *p)
{
    if (p->on && p->drawn)
        fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}
