/*
 * Sets of client addresses: single IPv4/IPv6 addresses and CIDR ranges (RFC 4632, RFC 4291
 * §2.3), used by blocklist and by nonStandardCodes' `users`. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) matches as its IPv4 address, both in the set and when looked up.
 */
#ifndef KZ_IPSET_H
#define KZ_IPSET_H

#include <apr_pools.h>

typedef struct kz_ipset kz_ipset_t;

/** An empty set allocated in p. */
kz_ipset_t *kz_ipset_make(apr_pool_t *p);

/**
 * Adds "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" (brackets allowed around v6). Returns NULL, or an
 * error message (allocated in p) naming what is wrong; the set is unchanged on error.
 */
const char *kz_ipset_add(kz_ipset_t *set, const char *text, apr_pool_t *p);

/** Checks text as kz_ipset_add() would, without a set (for configuration checks). */
const char *kz_ipset_check(const char *text, apr_pool_t *p);

/** 1 when ip (textual, as a connection's peer address) is in the set; 0 otherwise or invalid. */
int kz_ipset_contains(const kz_ipset_t *set, const char *ip);

/** Number of entries (for tests and logs). */
int kz_ipset_count(const kz_ipset_t *set);

#endif
