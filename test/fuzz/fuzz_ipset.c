/*
 * libFuzzer target for client addresses as text (RFC 4291 §2.2, RFC 5952; runtime/net.c,
 * server/ipset.c, server/clientip.c): kz_ip_parse() on the raw bytes (no NUL, so a read past
 * the end is caught), kz_ip_format() round trips, kz_ipset_contains() on a fixed set compared
 * with a byte-wise reference, kz_ip_canonical(), kz_forwarded_for(), and kz_ipset_check() and
 * kz_ipset_add() on the text as a configuration entry. Build and run with test/fuzz/run.sh.
 */
#include "ipset.h"
#include "kz_net.h"
#include "rewrite.h"

#include "fuzz_common.h"

static const char *const entries[] = {
    "10.0.0.0/8",
    "192.168.1.1",
    "1.2.3.4/31",
    "100.64.0.0/10",
    "::ffff:172.16.0.0/108",
    "2001:db8::/32",
    "[::1]",
    "fe80::/10",
    "2001:db8:1:2:3:4:5:6/127",
    "203.0.113.255/32",
    "::/128",
    "64:ff9b::/96",
};
#define NENTRIES (sizeof(entries) / sizeof(*entries))

static unsigned char ref_addr[NENTRIES][16];
static int ref_plen[NENTRIES];
static kz_ipset_t *set;

/* The set, and the same entries as bytes and prefix lengths for the reference lookup. */
static void setup(apr_pool_t *p)
{
    set = kz_ipset_make(p);
    for (size_t i = 0; i < NENTRIES; i++) {
        const char *e = entries[i], *slash = strchr(e, '/');
        apr_size_t len = slash ? (apr_size_t)(slash - e) : strlen(e);
        int v4 = 0;

        KZ_FUZZ_ASSERT(kz_ipset_add(set, e, p) == NULL);
        if (e[0] == '[') {
            e++, len -= 2;
        }
        KZ_FUZZ_ASSERT(kz_ip_parse(e, len, ref_addr[i], &v4));
        ref_plen[i] = slash ? atoi(slash + 1) + (v4 ? 96 : 0) : 128;
    }
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    for (int i = 0; i < bits; i++) {
        if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8))) {
            return 0;
        }
    }
    return 1;
}

static int ref_contains(const unsigned char addr[16])
{
    for (size_t i = 0; i < NENTRIES; i++) {
        if (prefix_equal(addr, ref_addr[i], ref_plen[i])) {
            return 1;
        }
    }
    return 0;
}

/* Parses data as an address; when it is one, checks formatting and lookups against it. */
static void check_address(const uint8_t *data, size_t size, const char *text)
{
    unsigned char addr[16], again[16];
    char out[KZ_IP_TEXT_SIZE], canon[KZ_IP_TEXT_SIZE];
    int v4 = -1, v4_again = -1, ok = kz_ip_parse((const char *)data, size, addr, &v4);
    apr_size_t n;

    KZ_FUZZ_ASSERT(ok == kz_ip_canonical(canon, (const char *)data, size));
    if (!ok) {
        return;
    }
    KZ_FUZZ_ASSERT(v4 == 0 || v4 == 1);
    KZ_FUZZ_ASSERT(!v4 || kz_ip_is_v4_mapped(addr));
    n = kz_ip_format(out, sizeof(out), addr, v4);
    KZ_FUZZ_ASSERT(n > 0 && n == strlen(out));
    KZ_FUZZ_ASSERT(kz_ip_parse(out, n, again, &v4_again) && v4_again == v4);
    KZ_FUZZ_ASSERT(memcmp(addr, again, 16) == 0);
    KZ_FUZZ_ASSERT(kz_ip_parse(canon, strlen(canon), again, NULL) && !memcmp(addr, again, 16));
    KZ_FUZZ_ASSERT(kz_ipset_contains(set, text) == ref_contains(addr));
}

/* Builds the fixed set once, before libFuzzer starts counting allocations. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *keep;

    kz_fuzz_pool(); /* initializes APR */
    apr_pool_create(&keep, NULL);
    setup(keep);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = kz_fuzz_pool();
    char *text = kz_fuzz_cstr(data, size);
    kz_ipset_t *scratch;

    check_address(data, size, text);
    kz_ipset_contains(set, text);
    kz_forwarded_for(text, pool);
    scratch = kz_ipset_make(pool);
    if (kz_ipset_check(text, pool) == NULL) {
        KZ_FUZZ_ASSERT(kz_ipset_add(scratch, text, pool) == NULL && kz_ipset_count(scratch) == 1);
    } else {
        KZ_FUZZ_ASSERT(kz_ipset_add(scratch, text, pool) != NULL && kz_ipset_count(scratch) == 0);
    }
    free(text);
    apr_pool_clear(pool);
    return 0;
}
