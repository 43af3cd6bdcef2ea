/*
 * hist.h - fixed-bucket histograms, the shape Prometheus expects (cumulative "le" buckets,
 * a sum and a count), with a quantile estimate for the admin dashboard and `profile`.
 *
 * Bounds are given once (ascending, in the unit of the observations) and must outlive
 * the histogram (a static array). Not thread-safe: the owner serializes (the writer
 * records from its own thread and copies out under its mutex).
 */
#ifndef ONEFILE_CORE_HIST_H
#define ONEFILE_CORE_HIST_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_MAX_BUCKETS 24

struct hist {
    const double *bounds; /* upper bounds, ascending; +Inf is implicit */
    size_t nbounds;
    uint64_t counts[HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    uint64_t count;
    double sum;
};

void hist_init(struct hist *h, const double *bounds, size_t nbounds);
void hist_observe(struct hist *h, double v);
/* Estimated q-quantile (0..1) by linear interpolation inside the bucket; 0 when empty. */
double hist_quantile(const struct hist *h, double q);
/* Writes name_bucket{le=...}, name_sum, name_count lines (labels: extra label text such
   as `origin="x"`, or NULL). The # TYPE line is the caller's. */
void hist_write_prometheus(const struct hist *h, const char *name, const char *labels, FILE *out);
#endif
