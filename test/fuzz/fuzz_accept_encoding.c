/*
 * libFuzzer target for Accept-Encoding negotiation (RFC 9110 §12.5.3, server/compress.c): the
 * input is the field value. Besides sanitizer reports, it checks that every weight is 0 to 1000
 * and that the order kz_accept_encoding_order() gives holds distinct, acceptable codings other
 * than identity, by weight. The same text also goes through kz_compressible_type(). Build and
 * run with test/fuzz/run.sh.
 */
#include "compress.h"

#include "fuzz_common.h"

static void check(const kz_accept_enc_t *ae, const kz_encoding_e *order, int n)
{
    int seen[KZ_ENC_COUNT] = {0};

    for (int i = 0; i < KZ_ENC_COUNT; i++) {
        KZ_FUZZ_ASSERT(ae->q[i] >= 0 && ae->q[i] <= 1000);
    }
    KZ_FUZZ_ASSERT(n >= 0 && n <= KZ_ENC_COUNT - 1);
    for (int i = 0; i < n; i++) {
        KZ_FUZZ_ASSERT(order[i] > KZ_ENC_IDENTITY && order[i] < KZ_ENC_COUNT);
        KZ_FUZZ_ASSERT(!seen[order[i]] && ae->q[order[i]] > 0);
        KZ_FUZZ_ASSERT(i == 0 || ae->q[order[i - 1]] >= ae->q[order[i]]);
        seen[order[i]] = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = kz_fuzz_cstr(data, size);
    kz_encoding_e order[KZ_ENC_COUNT - 1];
    kz_accept_enc_t ae;
    int n;

    kz_accept_encoding_parse(&ae, value);
    n = kz_accept_encoding_order(&ae, order);
    check(&ae, order, n);
    for (int i = 0; i < n; i++) {
        KZ_FUZZ_ASSERT(kz_encoding_name(order[i])[0] && kz_encoding_suffix(order[i])[0] == '.');
    }
    kz_compressible_type(value);
    free(value);
    return 0;
}
