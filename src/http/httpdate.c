/*
 * httpdate.c - HTTP dates; see httpdate.h. Locale-independent: the day and month names
 * are this file's, not strftime's.
 */
#include "http/httpdate.h"

#include <stdio.h>
#include <string.h>

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void httpdate_format(time_t t, char out[HTTPDATE_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, HTTPDATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

int httpdate_parse(const char *s, time_t *t)
{
    char wday[4], mon[4], gmt[4];
    int d, y, h, mi, sec, n = 0;
    if (!s || strlen(s) != HTTPDATE_LEN - 1 ||
        sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wday, &d, mon, &y, &h, &mi, &sec, gmt,
               &n) != 8 ||
        n != HTTPDATE_LEN - 1 || s[3] != ',' || strcmp(gmt, "GMT") != 0)
        return -1;
    (void)wday;
    int m = 0;
    while (m < 12 && strcmp(months[m], mon) != 0)
        m++;
    if (m == 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *t = timegm(&tm);
    return 0;
}
