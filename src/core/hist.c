/*
 * hist.c - fixed-bucket histograms; see hist.h.
 */
#include <string.h>

#include "core/hist.h"

void hist_init(struct hist *h, const double *bounds, size_t nbounds)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->nbounds = nbounds > HIST_MAX_BUCKETS ? HIST_MAX_BUCKETS : nbounds;
}

void hist_observe(struct hist *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

double hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    double rank = q * (double)h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        if (h->counts[i] == 0 || (double)(seen + h->counts[i]) < rank) {
            seen += h->counts[i];
            continue;
        }
        double lo = i == 0 ? 0 : h->bounds[i - 1];
        if (i == h->nbounds) /* beyond the last bound: the best we know is that bound */
            return lo;
        double hi = h->bounds[i];
        return lo + (hi - lo) * ((rank - (double)seen) / (double)h->counts[i]);
    }
    return h->nbounds ? h->bounds[h->nbounds - 1] : 0;
}

void hist_write_prometheus(const struct hist *h, const char *name, const char *labels, FILE *out)
{
    const char *sep = labels && *labels ? "," : "";
    const char *lab = labels ? labels : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->counts[i];
        fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lab, sep, h->bounds[i],
                (unsigned long long)cum);
    }
    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep, (unsigned long long)h->count);
    if (*lab) {
        fprintf(out, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, lab, h->sum, name, lab,
                (unsigned long long)h->count);
    } else {
        fprintf(out, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
                (unsigned long long)h->count);
    }
}
