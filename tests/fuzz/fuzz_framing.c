/* fuzz_framing.c - libFuzzer target for src/http/framing.c. The input is a client's byte
   stream. It is fed whole, then in pieces whose sizes come from the input's own bytes
   (a client's bytes arrive in any pieces): both must reach the same status, pass on the
   bytes before the offending request at least, and count the same requests; a status is 0 or one of
   400, 413, 414, 431, 501, 505, with a reason; a dead stream passes nothing more. Any
   crash, sanitizer report or broken property is a finding.
   Built with clang -fsanitize=fuzzer,address,undefined by tests/CMakeLists.txt. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http/framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct framing_limits lim = {
    .max_line = 256,
    .max_field = 128,
    .max_head = 512,
    .max_fields = 8,
    .max_params = 4,
    .max_cookies = 4,
    .max_body = 64,
};

static int feed(const uint8_t *data, size_t size, int split, size_t *passed, uint64_t *reqs)
{
    struct framing f;
    framing_init(&f, &lim);
    size_t i = 0, good;
    int status = 0;
    *passed = 0;
    while (i < size) {
        size_t n = split ? 1 + data[i] % 7 : size - i;
        if (n > size - i)
            n = size - i;
        status = framing_feed(&f, data + i, n, &good);
        if (good > n)
            abort();
        *passed += good;
        if (status) {
            if (!f.reason || framing_feed(&f, data, size, &good) != status || good != 0)
                abort();
            break;
        }
        i += n;
    }
    *reqs = f.requests;
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t p1, p2;
    uint64_t r1, r2;
    int s1 = feed(data, size, 0, &p1, &r1);
    int s2 = feed(data, size, 1, &p2, &r2);
    if (s1 != 0 && s1 != 400 && s1 != 413 && s1 != 414 && s1 != 431 && s1 != 501 && s1 != 505)
        abort();
    if (s1 != s2 || r1 != r2)
        abort();
    /* split feeding passes at least the bytes before the offending request (more when
       earlier pieces held its beginning: the gate then answers while libmicrohttpd reads
       it), and everything when nothing is wrong */
    if (p2 < p1 || (s1 == 0 && (p1 != size || p2 != size)))
        abort();
    return 0;
}
