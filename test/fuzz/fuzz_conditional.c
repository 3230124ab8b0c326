/*
 * libFuzzer target for conditional requests (RFC 9110 §13, server/conditional.c): entity-tag
 * lists, HTTP-dates (apr_date_parse_http) and If-Range. The first input byte says which fields
 * are absent (bits 0-5) and picks the method (bit 6); the second picks the Last-Modified time;
 * the rest holds, separated by newlines, If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since, If-Range and the representation's entity-tag. Besides sanitizer reports,
 * it checks the results' ranges and that a strong match is also a weak one.
 * Build and run with test/fuzz/run.sh.
 */
#include "conditional.h"

#include "fuzz_common.h"

#define NPARTS 6

/* 0 (unknown), the epoch's first second, RFC 9110's example date, and one near 2038 and 2100. */
static const apr_time_t mtimes[] = {0, APR_USEC_PER_SEC, 784111777 * APR_USEC_PER_SEC,
                                    2147483647 * APR_USEC_PER_SEC,
                                    4102444800 * APR_USEC_PER_SEC + 999999};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *parts[NPARTS];
    const char *f[NPARTS];
    kz_cond_t c;
    apr_time_t mtime;
    int rc, get_or_head;

    if (size < 2) {
        return 0;
    }
    mtime = mtimes[data[1] % (sizeof(mtimes) / sizeof(*mtimes))];
    get_or_head = data[0] >> 6 & 1;
    kz_fuzz_split(parts, NPARTS, data + 2, size - 2);
    for (int i = 0; i < NPARTS; i++) {
        f[i] = data[0] >> i & 1 ? NULL : parts[i];
    }
    c = (kz_cond_t){f[0], f[1], f[2], f[3], f[4]};

    rc = kz_cond_evaluate(&c, get_or_head, f[5], mtime);
    KZ_FUZZ_ASSERT(rc == 0 || rc == 304 || rc == 412);
    KZ_FUZZ_ASSERT(get_or_head || rc != 304);
    for (int i = 0; i < 2; i++) {
        int strong = kz_etag_match(f[i], f[5], 0), weak = kz_etag_match(f[i], f[5], 1);

        KZ_FUZZ_ASSERT((strong == 0 || strong == 1) && (weak == 0 || weak == 1));
        KZ_FUZZ_ASSERT(!strong || weak);
    }
    rc = kz_cond_if_range(f[4], f[5], mtime);
    KZ_FUZZ_ASSERT(rc == 0 || rc == 1);
    KZ_FUZZ_ASSERT(f[4] || rc == 1);
    for (int i = 0; i < NPARTS; i++) {
        free(parts[i]);
    }
    return 0;
}
