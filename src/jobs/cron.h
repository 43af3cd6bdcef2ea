/*
 * cron.h - five-field cron expressions, evaluated in UTC.
 *
 *   minute hour day-of-month month day-of-week
 *   0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
 *
 * A field is a comma-separated list of items; an item is `*`, `N`, `N-M`, and any of those
 * followed by `/STEP` (`N/STEP` means N up to the field's maximum). Months take the names
 * JAN-DEC, days SUN-SAT (any case, also inside ranges: MON-FRI). Macros: @yearly
 * (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
 *
 * Day rule (POSIX): when both day-of-month and day-of-week are restricted, a day matches
 * when EITHER matches (`0 0 1 * MON` fires on the 1st and on every Monday); when one of them
 * is `*`, only the other one counts. A field is unrestricted only when it is `*` (or
 * `*`/1); `*`/2 restricts (Vixie cron would treat it as `*` here; onefile does not).
 *
 * An expression that can never fire (`0 0 30 2 *`) is refused when parsed. Errors name the
 * field: "day-of-month: 32 is out of range 1-31".
 *
 * Pure computation, no allocation, no global state: safe from any thread.
 */
#ifndef ONEFILE_JOBS_CRON_H
#define ONEFILE_JOBS_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CRON_MAX_LEN 256 /* longer expressions are refused */

struct cron {
    uint64_t minutes;  /* bit m: minute m, 0-59 */
    uint32_t hours;    /* bit h: hour h, 0-23 */
    uint32_t mdays;    /* bit d: day of month d, 1-31 */
    uint16_t months;   /* bit m: month m, 1-12 */
    uint8_t wdays;     /* bit w: weekday w, 0 (Sunday) - 6 */
    uint8_t mday_star; /* day-of-month was `*` */
    uint8_t wday_star; /* day-of-week was `*` */
};

/* Parses expr into c. 0, or -1 with err filled with one line naming the field. */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);
/* The first fire time strictly after `after` (seconds since the epoch, UTC); always at a
   whole minute. (time_t)-1 when there is none before the year 9999 or after is out of
   range (before 1970 or past 9999). */
time_t cron_next(const struct cron *c, time_t after);
/* Whether t (truncated to its minute) is a fire time. */
int cron_match(const struct cron *c, time_t t);

#endif
