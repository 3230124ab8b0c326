/*
 * libFuzzer target for Range field parsing (RFC 9110 §14.2, server/range.c): the first input
 * byte picks the representation's size (a fixed table, or the next 8 bytes), the second the
 * range limit, the rest is the field value. Besides sanitizer reports, it checks what
 * kz_range_parse() promises: on KZ_RANGE_OK, 1 to max_ranges ranges inside the representation,
 * ascending, neither overlapping nor touching. Build and run with test/fuzz/run.sh.
 */
#include "range.h"

#include "fuzz_common.h"

static const apr_off_t sizes[] = {0,
                                  1,
                                  2,
                                  10,
                                  100,
                                  1000,
                                  65536,
                                  (apr_off_t)1 << 31,
                                  (apr_off_t)1 << 40,
                                  ((apr_off_t)1 << 62) - 1,
                                  (apr_off_t)1 << 62,
                                  INT64_MAX};

static apr_off_t pick_size(const uint8_t **data, size_t *size)
{
    uint8_t sel = **data;
    apr_uint64_t v = 0;

    (*data)++, (*size)--;
    if (sel < 0xf0 || *size < 8) {
        return sizes[sel % (sizeof(sizes) / sizeof(*sizes))];
    }
    for (int i = 0; i < 8; i++) {
        v = v << 8 | (*data)[i];
    }
    *data += 8, *size -= 8;
    return (apr_off_t)(v & INT64_MAX);
}

static void check(const kz_range_t *r, int n, apr_off_t size, int max_ranges)
{
    KZ_FUZZ_ASSERT(n >= 1 && n <= max_ranges);
    for (int i = 0; i < n; i++) {
        KZ_FUZZ_ASSERT(r[i].first >= 0 && r[i].first <= r[i].last && r[i].last < size);
        KZ_FUZZ_ASSERT(i == 0 || r[i].first > r[i - 1].last + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = kz_fuzz_pool();
    kz_range_t *ranges = NULL;
    apr_off_t file_size;
    int max_ranges, n = 0;
    char *value;

    if (size < 2) {
        return 0;
    }
    file_size = pick_size(&data, &size);
    if (size < 1) {
        return 0;
    }
    max_ranges = data[0] % 33; /* 0 too: refused as "no ranges allowed" */
    value = kz_fuzz_cstr(data + 1, size - 1);
    if (kz_range_parse(&ranges, &n, value, file_size, max_ranges, pool) == KZ_RANGE_OK) {
        check(ranges, n, file_size, max_ranges);
    }
    free(value);
    apr_pool_clear(pool);
    return 0;
}
