/*
 * The reverse proxy's load balancer (issue 5, proxy-spec "loadBalancerMethod" and the passive
 * and active health checks; karpacz-behaviour.md §3 rproxy): choosing a backend by one of four
 * methods, and the health state every event loop shares. Lock-free: every shared counter is an
 * APR atomic. No I/O; time and randomness come in as arguments, so results are deterministic.
 */
#ifndef KZ_BALANCER_H
#define KZ_BALANCER_H

#include <apr_atomic.h>
#include <apr_pools.h>
#include <apr_time.h>

/** How kz_lb_pick() chooses among the usable backends. */
typedef enum kz_lb_method {
    KZ_LB_RANDOM,      /**< uniform random (the original's only method, the default) */
    KZ_LB_ROUND_ROBIN, /**< each in turn */
    KZ_LB_LEAST_CONN, /**< fewest requests in flight; ties go to the first after a rotating start */
    KZ_LB_TWO_RANDOM  /**< the less loaded of two distinct random backends */
} kz_lb_method_e;

/**
 * Parses a `loadBalancerMethod` value: "random", "round_robin", "least_conn" or "two_random"
 * (exact, case-sensitive) gives the method; anything else, NULL included, gives -1.
 */
int kz_lb_method_parse(const char *name);

/** One backend's shared state (the caller keeps its own per-backend data by index). */
typedef struct kz_lb_backend {
    volatile apr_uint32_t active;       /**< requests in flight on every loop */
    volatile apr_uint32_t fails;        /**< passive failures in the current window */
    volatile apr_uint64_t window_start; /**< apr_time_t of the window's first failure, 0 = none */
    volatile apr_uint32_t probe_down;   /**< the last active probe failed */
} kz_lb_backend_t;

/** A set of backends and how to choose among them; shared by every loop. */
typedef struct kz_lb {
    kz_lb_backend_t *backends;
    int n;
    kz_lb_method_e method;
    int passive;                /**< enableLoadBalancerHealthCheck */
    apr_uint32_t max_fails;     /**< loadBalancerHealthCheckMaximumFails */
    apr_interval_time_t window; /**< loadBalancerHealthCheckWindow */
    volatile apr_uint32_t next; /**< round robin's next in turn; least_conn's rotating start */
} kz_lb_t;

/**
 * Creates a balancer of n backends (zeroed: idle, healthy, data NULL) in p. A negative n is
 * taken as 0; a method out of range as KZ_LB_RANDOM; a negative window as 0 (no passive
 * check can then mark a backend unusable).
 */
kz_lb_t *kz_lb_create(apr_pool_t *p, int n, kz_lb_method_e method, int passive,
                      apr_uint32_t max_fails, apr_interval_time_t window);

/**
 * The next 32 random bits of an xorshift64* generator whose state the caller owns (one per
 * loop: not thread-safe on one state). A zero state is replaced by a fixed non-zero seed first,
 * so the state is never 0 afterwards.
 */
apr_uint32_t kz_lb_rand(apr_uint64_t *state);

/**
 * Whether backend i may be picked at `now`: its last active probe did not fail, and (with
 * passive checks on) it has had at most max_fails failures in a window that has not yet passed.
 * 0 for an index out of range.
 */
int kz_lb_usable(kz_lb_t *lb, int i, apr_time_t now);

/**
 * Picks a backend index by lb's method. Preference, first that has a candidate: usable and not
 * `avoid`; usable (so only `avoid`: the health state outweighs one request's failure); not
 * `avoid`; any (the original's "if every URL is out, one is still tried"; round robin then
 * gives the next in turn). `avoid` is a backend that just failed for this request, or -1.
 * Returns -1 only when lb has no backends. Safe to call from every loop at once.
 */
int kz_lb_pick(kz_lb_t *lb, apr_time_t now, apr_uint64_t *rng, int avoid);

/** A request starts on backend i (counted for least_conn and two_random). */
void kz_lb_acquire(kz_lb_t *lb, int i);

/** A request on backend i ends (one kz_lb_release() per kz_lb_acquire(); never below 0). */
void kz_lb_release(kz_lb_t *lb, int i);

/**
 * A passive failure of backend i at `now` (failed connect, handshake or timeout). Starts a new
 * window (counter 1) when none is open or the last one has passed; else adds one. Ignored when
 * passive checks are off. Two failures racing at a window's start may count as one: the count
 * is a health estimate, not an exact tally.
 */
void kz_lb_fail(kz_lb_t *lb, int i, apr_time_t now);

/**
 * An active probe's result for backend i: down makes it unusable until a probe says up; up also
 * clears the passive counter and window.
 */
void kz_lb_probe(kz_lb_t *lb, int i, int up);

#endif
