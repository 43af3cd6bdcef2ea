/*
 * ratelimit.h - a per-key token bucket in memory (the contact form's per-IP limit; the
 * admin login's throttling can use it too). A fixed table: when it is full, the entry
 * least recently seen is reused, so memory stays bounded whatever the number of keys.
 * Threads: any (a mutex inside).
 */
#ifndef ONEFILE_SITE_RATELIMIT_H
#define ONEFILE_SITE_RATELIMIT_H
#include <pthread.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 4096

struct ratelimit {
    pthread_mutex_t mu;
    double burst;      /* bucket size */
    double per_second; /* refill rate */
    struct {
        char key[48];
        double tokens;
        int64_t seen_us;
    } slots[RATELIMIT_SLOTS];
};

/* burst events at once, then one every interval_s seconds. */
void ratelimit_init(struct ratelimit *rl, double burst, double interval_s);
void ratelimit_release(struct ratelimit *rl);
/* Takes one token for key: 0 allowed, else the seconds to wait before the next one. */
int ratelimit_take(struct ratelimit *rl, const char *key);
#endif
