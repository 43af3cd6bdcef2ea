/*
 * cron.c - cron expressions: parser and next-fire computation; the contract is in cron.h.
 *
 * DESIGN
 *
 * Parsing turns each field into a bit set (struct cron), so matching is a few bit tests.
 * The parser reads one field at a time from the `fields` table (name, bounds, names), an
 * item at a time: `*` or N or N-M, then an optional /STEP. Every error is written once,
 * where it is found, and names the field and the offending text (cut to a printable
 * excerpt: the text may come from anywhere, and is fuzzed).
 *
 * cron_next() does calendar arithmetic itself (days since the epoch <-> year, month, day,
 * after Howard Hinnant's civil-date algorithms), so it depends on no time zone, no libc
 * time state and no timegm(). It walks forward from the next whole minute, jumping a whole
 * month when the month does not match, a day when the day does not, then an hour, then a
 * minute; each step lands on the first minute of the next unit, so a match is the earliest
 * one. Months are walked with their real lengths, so `0 0 31 * *` never lands on a 30-day
 * month and `0 0 29 2 *` only on leap years (2100 is not one). The walk stops at the year
 * 9999; parse-time checks make sure a parsed expression can fire at all, so the walk is
 * short (at most 8 years, for February 29).
 *
 * Threads: none of its own; pure functions.
 */
#include "jobs/cron.h"

#include <stdio.h>
#include <string.h>

#define MAX_YEAR 9999

struct field {
    const char *name;
    int min, max;
    int top;                  /* the highest value `*` and N/STEP reach (Sunday once) */
    const char *const *names; /* three-letter names, or NULL */
    int nnames, names_base;   /* how many, and the value of names[0] */
    const char *names_kind;   /* "month" or "weekday", for errors */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* The five fields, in order. Adding one is not planned: five is the format. */
static const struct field fields[5] = {
    {"minute", 0, 59, 59, NULL, 0, 0, NULL},
    {"hour", 0, 23, 23, NULL, 0, 0, NULL},
    {"day-of-month", 1, 31, 31, NULL, 0, 0, NULL},
    {"month", 1, 12, 12, month_names, 12, 1, "month"},
    {"day-of-week", 0, 7, 6, day_names, 7, 0, "weekday"}, /* 7 is Sunday too */
};

/* Macros: `@name` stands for an expression. Adding one: a row here and a line in cron.h. */
static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- errors ---- */

/* A printable excerpt of s[0..len): non-printable bytes become '?', long text is cut. */
static const char *excerpt(const char *s, size_t len, char *out, size_t outlen)
{
    size_t n = 0, max = outlen - 4;
    for (size_t i = 0; i < len && n < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[n++] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    if (len > max) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* ---- parsing ---- */

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* Reads one value of f at s[0..len): digits, or a name when f has names. 0 or -1. */
static int parse_value(const struct field *f, const char *s, size_t len, int *v, char *err,
                       size_t errlen)
{
    char ex[40];
    if (len == 0) {
        snprintf(err, errlen, "%s: a value is missing", f->name);
        return -1;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        long n = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                snprintf(err, errlen, "%s: '%s' is not a number", f->name,
                         excerpt(s, len, ex, sizeof(ex)));
                return -1;
            }
            if (n < 100000)
                n = n * 10 + (s[i] - '0');
        }
        if (n < f->min || n > f->max) {
            snprintf(err, errlen, "%s: %s is out of range %d-%d", f->name,
                     excerpt(s, len, ex, sizeof(ex)), f->min, f->max);
            return -1;
        }
        *v = (int)n;
        return 0;
    }
    if (f->names && len == 3) {
        for (int i = 0; i < f->nnames; i++) {
            const char *name = f->names[i];
            if (lower(s[0]) == name[0] && lower(s[1]) == name[1] && lower(s[2]) == name[2]) {
                *v = f->names_base + i;
                return 0;
            }
        }
    }
    if (f->names)
        snprintf(err, errlen, "%s: '%s' is not a number or %s name", f->name,
                 excerpt(s, len, ex, sizeof(ex)), f->names_kind);
    else
        snprintf(err, errlen, "%s: '%s' is not a number", f->name, excerpt(s, len, ex, sizeof(ex)));
    return -1;
}

/* One list item at s[0..len) into *bits. */
static int parse_item(const struct field *f, const char *s, size_t len, uint64_t *bits, char *err,
                      size_t errlen)
{
    char ex[40];
    const char *slash = memchr(s, '/', len);
    size_t rlen = slash ? (size_t)(slash - s) : len;
    int lo, hi, step = 1;
    if (slash) {
        const char *st = slash + 1;
        size_t slen = len - rlen - 1;
        if (memchr(st, '/', slen)) {
            snprintf(err, errlen, "%s: '%s' has more than one '/'", f->name,
                     excerpt(s, len, ex, sizeof(ex)));
            return -1;
        }
        if (slen == 0) {
            snprintf(err, errlen, "%s: a step is missing after '/' in '%s'", f->name,
                     excerpt(s, len, ex, sizeof(ex)));
            return -1;
        }
        long n = 0;
        for (size_t i = 0; i < slen; i++) {
            if (st[i] < '0' || st[i] > '9') {
                snprintf(err, errlen, "%s: step '%s' is not a number", f->name,
                         excerpt(st, slen, ex, sizeof(ex)));
                return -1;
            }
            if (n < 100000)
                n = n * 10 + (st[i] - '0');
        }
        int span = f->top - f->min + 1;
        if (n < 1 || n > span) {
            snprintf(err, errlen, "%s: step %s is out of range 1-%d", f->name,
                     excerpt(st, slen, ex, sizeof(ex)), span);
            return -1;
        }
        step = (int)n;
    }
    if (rlen == 0) {
        snprintf(err, errlen, "%s: a value is missing before '/' in '%s'", f->name,
                 excerpt(s, len, ex, sizeof(ex)));
        return -1;
    }
    if (rlen == 1 && s[0] == '*') {
        lo = f->min;
        hi = f->top;
    } else {
        const char *dash = memchr(s, '-', rlen);
        if (dash && memchr(dash + 1, '-', rlen - (size_t)(dash - s) - 1)) {
            snprintf(err, errlen, "%s: '%s' has more than one '-'", f->name,
                     excerpt(s, rlen, ex, sizeof(ex)));
            return -1;
        }
        if (dash == s) {
            snprintf(err, errlen, "%s: '%s' is not a number", f->name,
                     excerpt(s, rlen, ex, sizeof(ex)));
            return -1;
        }
        size_t alen = dash ? (size_t)(dash - s) : rlen;
        if (parse_value(f, s, alen, &lo, err, errlen) < 0)
            return -1;
        if (dash) {
            size_t blen = rlen - alen - 1;
            if (blen == 0) {
                snprintf(err, errlen, "%s: the end of range '%s' is missing", f->name,
                         excerpt(s, rlen, ex, sizeof(ex)));
                return -1;
            }
            if (parse_value(f, dash + 1, blen, &hi, err, errlen) < 0)
                return -1;
            if (hi < lo) {
                snprintf(err, errlen, "%s: range %s goes backwards", f->name,
                         excerpt(s, rlen, ex, sizeof(ex)));
                return -1;
            }
        } else {
            hi = slash ? f->top : lo; /* N/STEP: from N to the end */
        }
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << (f->max == 7 && v == 7 ? 0 : v); /* 7: Sunday, as 0 */
    return 0;
}

/* One field at s[0..len): a comma-separated list. */
static int parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits, int *star,
                       char *err, size_t errlen)
{
    char ex[40];
    *bits = 0;
    *star = (len == 1 && s[0] == '*') || (len == 3 && memcmp(s, "*/1", 3) == 0);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        if (i == start) {
            snprintf(err, errlen, "%s: empty item in list '%s'", f->name,
                     excerpt(s, len, ex, sizeof(ex)));
            return -1;
        }
        if (parse_item(f, s + start, i - start, bits, err, errlen) < 0)
            return -1;
        start = i + 1;
    }
    return 0;
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Whether some allowed (month, day-of-month) pair exists, when only day-of-month counts. */
static int can_fire(const struct cron *c)
{
    if (!c->wday_star || c->mday_star)
        return 1; /* a weekday rule always finds days */
    for (int m = 1; m <= 12; m++) {
        if (!(c->months >> m & 1))
            continue;
        int dim = m == 2 ? 29 : days_in_month(2001, m);
        for (int d = 1; d <= dim; d++)
            if (c->mdays >> d & 1)
                return 1;
    }
    return 0;
}

int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
    char ex[40];
    size_t n = strnlen(expr, CRON_MAX_LEN + 1);
    memset(c, 0, sizeof(*c));
    if (n > CRON_MAX_LEN) {
        snprintf(err, errlen, "expression: longer than %d characters", CRON_MAX_LEN);
        return -1;
    }
    while (n && is_blank(expr[n - 1]))
        n--;
    while (n && is_blank(*expr))
        expr++, n--;
    if (n == 0) {
        snprintf(err, errlen,
                 "expression: empty (5 fields: minute hour day-of-month month "
                 "day-of-week, or a macro such as @daily)");
        return -1;
    }
    if (expr[0] == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            size_t ml = strlen(macros[i].name);
            if (ml != n)
                continue;
            size_t k = 0;
            while (k < ml && lower(expr[k]) == macros[i].name[k])
                k++;
            if (k == ml)
                return cron_parse(macros[i].expr, c, err, errlen);
        }
        if (n == 7 && strncmp(expr, "@reboot", 7) == 0)
            snprintf(err, errlen,
                     "expression: @reboot is not supported (jobs run on a "
                     "schedule, not at start-up)");
        else
            snprintf(err, errlen,
                     "expression: unknown macro '%s' (use @yearly, @monthly, "
                     "@weekly, @daily or @hourly)",
                     excerpt(expr, n, ex, sizeof(ex)));
        return -1;
    }
    const char *tok[6];
    size_t toklen[6];
    size_t ntok = 0, i = 0;
    while (i < n) {
        while (i < n && is_blank(expr[i]))
            i++;
        size_t start = i;
        while (i < n && !is_blank(expr[i]))
            i++;
        if (ntok < 6) {
            tok[ntok] = expr + start;
            toklen[ntok] = i - start;
        }
        ntok++;
    }
    if (ntok != 5) {
        snprintf(err, errlen,
                 "expression: expected 5 fields (minute hour day-of-month month "
                 "day-of-week), got %zu%s",
                 ntok, ntok == 6 ? " (seconds and years are not supported)" : "");
        return -1;
    }
    uint64_t bits[5];
    int star[5];
    for (size_t f = 0; f < 5; f++)
        if (parse_field(&fields[f], tok[f], toklen[f], &bits[f], &star[f], err, errlen) < 0)
            return -1;
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->mdays = (uint32_t)bits[2];
    c->months = (uint16_t)bits[3];
    c->wdays = (uint8_t)bits[4];
    c->mday_star = (uint8_t)star[2];
    c->wday_star = (uint8_t)star[4];
    if (!can_fire(c)) {
        char ex2[40];
        snprintf(err, errlen, "day-of-month: %s never occurs in month %s",
                 excerpt(tok[2], toklen[2], ex, sizeof(ex)),
                 excerpt(tok[3], toklen[3], ex2, sizeof(ex2)));
        memset(c, 0, sizeof(*c));
        return -1;
    }
    return 0;
}

/* ---- calendar ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int weekday(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

static int day_matches(const struct cron *c, int64_t y, int m, int d)
{
    int mday = (int)(c->mdays >> d & 1);
    int wday = c->wdays >> weekday(days_from_civil(y, m, d)) & 1;
    if (c->mday_star || c->wday_star)
        return mday && wday; /* the `*` one is all ones: only the other counts */
    return mday || wday;
}

int cron_match(const struct cron *c, time_t t)
{
    if (t < 0)
        return 0;
    int64_t days = (int64_t)t / 86400, secs = (int64_t)t % 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    return (c->months >> m & 1) && day_matches(c, y, m, d) && (c->hours >> (secs / 3600) & 1) &&
           (c->minutes >> (secs / 60 % 60) & 1);
}

/* The walk's position: steps land on the first minute of the next unit. */
struct pos {
    int64_t y;
    int mo, d, h, mi;
};

static void next_month(struct pos *p)
{
    if (++p->mo > 12) {
        p->mo = 1;
        p->y++;
    }
    p->d = 1;
    p->h = p->mi = 0;
}

static void next_day(struct pos *p)
{
    if (++p->d > days_in_month(p->y, p->mo)) {
        next_month(p);
        return;
    }
    p->h = p->mi = 0;
}

static void next_hour(struct pos *p)
{
    if (++p->h > 23) {
        next_day(p);
        return;
    }
    p->mi = 0;
}

time_t cron_next(const struct cron *c, time_t after)
{
    static const int64_t limit = 253402300800LL; /* 10000-01-01T00:00:00Z */
    if (after >= limit - 60 || !c->months || !c->hours || !c->minutes)
        return (time_t)-1;
    int64_t t = after < 0 ? 0 : ((int64_t)after / 60 + 1) * 60;
    struct pos p;
    civil_from_days(t / 86400, &p.y, &p.mo, &p.d);
    p.h = (int)(t % 86400 / 3600);
    p.mi = (int)(t % 3600 / 60);
    while (p.y <= MAX_YEAR) {
        if (!(c->months >> p.mo & 1)) {
            next_month(&p);
        } else if (!day_matches(c, p.y, p.mo, p.d)) {
            next_day(&p);
        } else if (!(c->hours >> p.h & 1)) {
            next_hour(&p);
        } else {
            while (p.mi < 60 && !(c->minutes >> p.mi & 1))
                p.mi++;
            if (p.mi < 60)
                return (time_t)(days_from_civil(p.y, p.mo, p.d) * 86400 + p.h * 3600 + p.mi * 60);
            next_hour(&p);
        }
    }
    return (time_t)-1;
}
