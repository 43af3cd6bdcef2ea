/*
 * ratelimit.c - per-key token buckets; see ratelimit.h.
 */
#include <math.h>
#include <string.h>

#include "core/clock.h"
#include "site/ratelimit.h"

void ratelimit_init(struct ratelimit *rl, double burst, double interval_s)
{
    memset(rl, 0, sizeof(*rl));
    pthread_mutex_init(&rl->mu, NULL);
    rl->burst = burst;
    rl->per_second = 1.0 / interval_s;
}

void ratelimit_release(struct ratelimit *rl)
{
    pthread_mutex_destroy(&rl->mu);
}

int ratelimit_take(struct ratelimit *rl, const char *key)
{
    int64_t now = clock_mono_us();
    size_t oldest = 0, hit = RATELIMIT_SLOTS;
    pthread_mutex_lock(&rl->mu);
    for (size_t i = 0; i < RATELIMIT_SLOTS; i++) {
        if (rl->slots[i].key[0] &&
            strncmp(rl->slots[i].key, key, sizeof(rl->slots[i].key) - 1) == 0) {
            hit = i;
            break;
        }
        if (rl->slots[i].seen_us < rl->slots[oldest].seen_us)
            oldest = i;
    }
    if (hit == RATELIMIT_SLOTS) {
        hit = oldest;
        strncpy(rl->slots[hit].key, key, sizeof(rl->slots[hit].key) - 1);
        rl->slots[hit].key[sizeof(rl->slots[hit].key) - 1] = '\0';
        rl->slots[hit].tokens = rl->burst;
    } else {
        double add = (double)(now - rl->slots[hit].seen_us) / 1e6 * rl->per_second;
        rl->slots[hit].tokens = fmin(rl->burst, rl->slots[hit].tokens + add);
    }
    rl->slots[hit].seen_us = now;
    int wait = 0;
    if (rl->slots[hit].tokens >= 1.0)
        rl->slots[hit].tokens -= 1.0;
    else
        wait = (int)ceil((1.0 - rl->slots[hit].tokens) / rl->per_second);
    pthread_mutex_unlock(&rl->mu);
    return wait;
}
