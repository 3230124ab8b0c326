/*
 * Sets of client addresses (ipset.h): IPv4 (RFC 791 dotted quad) and IPv6 (RFC 4291 §2.2 text
 * forms) addresses, read by kz_ip_parse (kz_net.h), and CIDR ranges (RFC 4632, RFC 4291 §2.3).
 * Every address is kept as 128 bits, IPv4 as its IPv4-mapped form ::ffff:a.b.c.d (RFC 4291
 * §2.5.5.2), so a mapped address and the plain IPv4 one are the same key; an IPv4 /n range is the
 * mapped /(96+n) range. Entries are grouped by prefix length, each group a hash table of masked
 * addresses, so a lookup parses the address once (no allocation) and probes one table per distinct
 * prefix length in the set.
 */
#include "ipset.h"
#include "kz_net.h"

#include <apr_lib.h>
#include <apr_strings.h>

#include <string.h>

#define KZ_IPSET_LENS 129 /* prefix lengths 0..128 */

typedef struct kz_addr128 {
    apr_uint64_t hi, lo;
} kz_addr128_t;

/* One prefix length: an open-addressing table of indexes into a dense key array. */
typedef struct kz_ipset_group {
    kz_addr128_t *keys;
    apr_uint32_t *slots; /* index + 1 into keys; 0 = empty */
    apr_uint32_t nkeys, cap_keys, nslots;
} kz_ipset_group_t;

struct kz_ipset {
    apr_pool_t *pool;
    kz_ipset_group_t *groups[KZ_IPSET_LENS];
    int lens[KZ_IPSET_LENS]; /* prefix lengths present, longest first */
    int nlens;
    int count;
};

/* ---- parsing --------------------------------------------------------------------------- */

static kz_addr128_t addr_from_bytes(const unsigned char b[16])
{
    kz_addr128_t a = {0, 0};

    for (int i = 0; i < 8; i++) {
        a.hi = (a.hi << 8) | b[i];
        a.lo = (a.lo << 8) | b[i + 8];
    }
    return a;
}

/*
 * Parses an address (len bytes, no prefix) into 128 bits; *v4 tells whether it was written as
 * IPv4. Brackets are allowed around IPv6 only. With peer set, a zone index ("fe80::1%eth0") is
 * ignored, as a connection's peer address may carry one; an entry may not.
 */
static int parse_addr(const char *s, apr_size_t len, int peer, kz_addr128_t *out, int *v4)
{
    unsigned char b[16];
    const char *zone;

    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
        if (!memchr(s, ':', len)) {
            return 0;
        }
    }
    zone = peer ? memchr(s, '%', len) : NULL;
    if (zone && zone > s && (apr_size_t)(zone - s) + 1 < len && memchr(s, ':', len)) {
        len = (apr_size_t)(zone - s);
    }
    if (!kz_ip_parse(s, len, b, v4)) {
        return 0;
    }
    *out = addr_from_bytes(b);
    return 1;
}

static kz_addr128_t mask(kz_addr128_t a, int plen)
{
    if (plen <= 0) {
        a.hi = a.lo = 0;
    } else if (plen <= 64) {
        if (plen < 64) {
            a.hi &= ~(apr_uint64_t)0 << (64 - plen);
        }
        a.lo = 0;
    } else if (plen < 128) {
        a.lo &= ~(apr_uint64_t)0 << (128 - plen);
    }
    return a;
}

/*
 * Parses "addr" or "addr/n" (an IPv4 n counts in IPv4 bits). Host bits below the prefix are
 * allowed and ignored ("10.1.2.3/8" is 10.0.0.0/8), as most tools accept them.
 */
static const char *parse_entry(const char *text, kz_addr128_t *addr, int *plen, apr_pool_t *p)
{
    const char *slash = strchr(text, '/');
    apr_size_t len = slash ? (apr_size_t)(slash - text) : strlen(text);
    int v4, max;

    if (!parse_addr(text, len, 0, addr, &v4)) {
        return apr_psprintf(p, "invalid IP address '%s'", text);
    }
    max = v4 ? 32 : 128;
    *plen = max;
    if (slash) {
        const char *d = slash + 1;
        int n = 0;

        if (!*d || strlen(d) > 3 || (d[0] == '0' && d[1])) {
            return apr_psprintf(p, "invalid prefix length in '%s' (0 to %d)", text, max);
        }
        for (; *d; d++) {
            if (!apr_isdigit(*d)) {
                return apr_psprintf(p, "invalid prefix length in '%s' (0 to %d)", text, max);
            }
            n = n * 10 + (*d - '0');
        }
        if (n > max) {
            return apr_psprintf(p, "invalid prefix length in '%s' (0 to %d)", text, max);
        }
        *plen = n;
    }
    if (v4) {
        *plen += 96;
    }
    *addr = mask(*addr, *plen);
    return NULL;
}

/* ---- the set --------------------------------------------------------------------------- */

static apr_uint32_t addr_hash(kz_addr128_t a)
{
    apr_uint64_t h = (a.hi ^ (a.lo * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;

    return (apr_uint32_t)((h ^ (h >> 31)) >> 16);
}

/* The slot holding a, or the empty slot where it would go. */
static apr_uint32_t *group_slot(const kz_ipset_group_t *g, kz_addr128_t a)
{
    apr_uint32_t i = addr_hash(a) & (g->nslots - 1);

    for (;;) {
        apr_uint32_t k = g->slots[i];
        if (!k || (g->keys[k - 1].hi == a.hi && g->keys[k - 1].lo == a.lo)) {
            return &g->slots[i];
        }
        i = (i + 1) & (g->nslots - 1);
    }
}

/* Keeps the table at most half full; the old arrays stay in the pool (sets are built once). */
static void group_grow(kz_ipset_group_t *g, apr_pool_t *p)
{
    if (g->nkeys == g->cap_keys) {
        apr_uint32_t cap = g->cap_keys ? g->cap_keys * 2 : 4;
        kz_addr128_t *keys = apr_palloc(p, cap * sizeof(*keys));

        if (g->nkeys) {
            memcpy(keys, g->keys, g->nkeys * sizeof(*keys));
        }
        g->keys = keys;
        g->cap_keys = cap;
    }
    if ((g->nkeys + 1) * 2 > g->nslots) {
        g->nslots = g->nslots ? g->nslots * 2 : 8;
        g->slots = apr_pcalloc(p, g->nslots * sizeof(*g->slots));
        for (apr_uint32_t k = 0; k < g->nkeys; k++) {
            *group_slot(g, g->keys[k]) = k + 1;
        }
    }
}

static kz_ipset_group_t *set_group(kz_ipset_t *set, int plen)
{
    kz_ipset_group_t *g = set->groups[plen];
    int i;

    if (g) {
        return g;
    }
    g = apr_pcalloc(set->pool, sizeof(*g));
    set->groups[plen] = g;
    for (i = set->nlens; i > 0 && set->lens[i - 1] < plen; i--) {
        set->lens[i] = set->lens[i - 1];
    }
    set->lens[i] = plen;
    set->nlens++;
    return g;
}

kz_ipset_t *kz_ipset_make(apr_pool_t *p)
{
    kz_ipset_t *set = apr_pcalloc(p, sizeof(*set));

    set->pool = p;
    return set;
}

const char *kz_ipset_add(kz_ipset_t *set, const char *text, apr_pool_t *p)
{
    kz_addr128_t addr;
    kz_ipset_group_t *g;
    apr_uint32_t *slot;
    int plen;
    const char *err = parse_entry(text, &addr, &plen, p);

    if (err) {
        return err;
    }
    g = set_group(set, plen);
    group_grow(g, set->pool);
    slot = group_slot(g, addr);
    if (!*slot) {
        g->keys[g->nkeys++] = addr;
        *slot = g->nkeys;
        set->count++;
    }
    return NULL;
}

const char *kz_ipset_check(const char *text, apr_pool_t *p)
{
    kz_addr128_t addr;
    int plen;

    return parse_entry(text, &addr, &plen, p);
}

int kz_ipset_contains(const kz_ipset_t *set, const char *ip)
{
    kz_addr128_t addr;
    int v4;

    if (!set || !ip || !set->count || !parse_addr(ip, strlen(ip), 1, &addr, &v4)) {
        return 0;
    }
    for (int i = 0; i < set->nlens; i++) {
        int plen = set->lens[i];

        if (*group_slot(set->groups[plen], mask(addr, plen))) {
            return 1;
        }
    }
    return 0;
}

int kz_ipset_count(const kz_ipset_t *set)
{
    return set ? set->count : 0;
}
