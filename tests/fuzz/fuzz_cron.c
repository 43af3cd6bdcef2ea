/* fuzz_cron.c - libFuzzer target for src/jobs/cron.c. The input is parsed as an expression;
   an error must be one printable line that names a field or "expression". A parsed
   expression is evaluated from start times taken from the input's hash: every result must be
   a whole minute, strictly later, a match, the same when asked again from a minute before
   it, and (for the next one) strictly later still. Any crash, sanitizer report, slow input
   or broken property is a finding.
   Built with clang -fsanitize=fuzzer,address,undefined by tests/CMakeLists.txt. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const field_names[] = {
    "minute:", "hour:", "day-of-month:", "month:", "day-of-week:", "expression:"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char expr[CRON_MAX_LEN + 64], err[256];
    struct cron c;
    if (size >= sizeof(expr))
        size = sizeof(expr) - 1;
    memcpy(expr, data, size);
    expr[size] = '\0';
    if (cron_parse(expr, &c, err, sizeof(err)) < 0) {
        int named = 0;
        for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
            if (strncmp(err, field_names[i], strlen(field_names[i])) == 0)
                named = 1;
        if (!named)
            abort();
        for (const char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        return 0;
    }
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the input picks the start times */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    const time_t starts[] = {0, (time_t)(h % 16000000000ULL), (time_t)(h % 4102444800ULL),
                             253402214400LL /* 9999-12-31 */, -1};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        time_t t = starts[i];
        for (int k = 0; k < 3; k++) {
            time_t n = cron_next(&c, t);
            if (n == (time_t)-1)
                break;
            if (n <= t || n % 60 != 0 || !cron_match(&c, n) || cron_next(&c, n - 60) != n)
                abort();
            t = n;
        }
    }
    return 0;
}
