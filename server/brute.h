/*
 * Brute-force protection for HTTP Basic authentication: failures are counted per client address
 * in a window; past the limit the address gets 429 until the window passes. One table for the
 * whole server (every loop), bounded in size, guarded by a mutex (it is touched only when a
 * request carries credentials for a protected entry).
 */
#ifndef KZ_BRUTE_H
#define KZ_BRUTE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct kz_brute kz_brute_t;

/** A table in p (which must outlive every loop). */
kz_brute_t *kz_brute_create(apr_pool_t *p);

/**
 * When ip has reached the failure limit within the window ending at now: the seconds (at least 1,
 * rounded up) until it is let in again, for Retry-After; 0 when it is not blocked.
 */
int kz_brute_blocked(kz_brute_t *b, const char *ip, apr_time_t now);

/** Counts one failed attempt of ip at now. */
void kz_brute_fail(kz_brute_t *b, const char *ip, apr_time_t now);

#endif
