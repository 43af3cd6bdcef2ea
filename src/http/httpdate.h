/*
 * httpdate.h - the HTTP date (RFC 9110 5.6.7, "Sun, 06 Nov 1994 08:49:37 GMT") of
 * Last-Modified and If-Modified-Since.
 * Threads: any (no state; gmtime_r and timegm only).
 */
#ifndef ONEFILE_HTTP_HTTPDATE_H
#define ONEFILE_HTTP_HTTPDATE_H
#include <time.h>

#define HTTPDATE_LEN 30 /* with the NUL */

/* Formats t (UTC) into out. */
void httpdate_format(time_t t, char out[HTTPDATE_LEN]);
/* Parses the IMF-fixdate form (the only one a sender may generate; the obsolete RFC 850
   and asctime forms are refused): 0 with *t set, or -1. */
int httpdate_parse(const char *s, time_t *t);
#endif
