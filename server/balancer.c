/*
 * The reverse proxy's load balancer (issue 5, proxy-spec "loadBalancerMethod", passive and
 * active health; karpacz-behaviour.md §3 rproxy): random, round robin, least connections and
 * the power of two random choices over the backends that are usable now. The state is shared
 * by every event loop and only ever touched through APR atomics: a pick takes no lock, and a
 * race costs at most a slightly stale view of the loads or the health counters.
 */
#include "balancer.h"

#include <string.h>

/* Any non-zero 64-bit value works; this one (2^64 / golden ratio) has well-mixed bits. */
#define KZ_LB_SEED 0x9E3779B97F4A7C15ULL

/* Round robin retries its compare-and-swap this often under contention, then takes its pick
 * anyway: two loops then send one request each to the same backend, which is harmless. */
#define KZ_LB_RR_TRIES 16

/* Candidate tiers of kz_lb_pick(), best first; KZ_LB_TIER_ANY always has one. */
enum { KZ_LB_TIER_USABLE_OTHER, KZ_LB_TIER_USABLE, KZ_LB_TIER_OTHER, KZ_LB_TIER_ANY };

static const char *const method_names[] = {"random", "round_robin", "least_conn", "two_random"};

int kz_lb_method_parse(const char *name)
{
    if (!name) {
        return -1;
    }
    for (int m = 0; m < (int)(sizeof(method_names) / sizeof(method_names[0])); m++) {
        if (strcmp(name, method_names[m]) == 0) {
            return m;
        }
    }
    return -1;
}

kz_lb_t *kz_lb_create(apr_pool_t *p, int n, kz_lb_method_e method, int passive,
                      apr_uint32_t max_fails, apr_interval_time_t window)
{
    kz_lb_t *lb = apr_pcalloc(p, sizeof(*lb));

    lb->n = n > 0 ? n : 0;
    lb->backends = lb->n ? apr_pcalloc(p, sizeof(*lb->backends) * (apr_size_t)lb->n) : NULL;
    lb->method = (method >= KZ_LB_RANDOM && method <= KZ_LB_TWO_RANDOM) ? method : KZ_LB_RANDOM;
    lb->passive = passive != 0;
    lb->max_fails = max_fails;
    lb->window = window > 0 ? window : 0;
    return lb;
}

apr_uint32_t kz_lb_rand(apr_uint64_t *state)
{
    apr_uint64_t x = *state ? *state : KZ_LB_SEED;

    /* xorshift64*: the shifts are a bijection on non-zero states, so x never becomes 0. */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (apr_uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A number in [0, m): the high half of a 32x32 product, whose bias is below m / 2^32. */
static int rand_below(apr_uint64_t *rng, int m)
{
    return (int)(((apr_uint64_t)kz_lb_rand(rng) * (apr_uint64_t)m) >> 32);
}

static int in_range(const kz_lb_t *lb, int i)
{
    return lb && i >= 0 && i < lb->n;
}

int kz_lb_usable(kz_lb_t *lb, int i, apr_time_t now)
{
    kz_lb_backend_t *b;
    apr_time_t start;

    if (!in_range(lb, i)) {
        return 0;
    }
    b = &lb->backends[i];
    if (apr_atomic_read32(&b->probe_down)) {
        return 0;
    }
    if (!lb->passive || apr_atomic_read32(&b->fails) <= lb->max_fails) {
        return 1;
    }
    start = (apr_time_t)apr_atomic_read64(&b->window_start);
    return start == 0 || now - start >= lb->window;
}

static int eligible(kz_lb_t *lb, int i, apr_time_t now, int avoid, int tier)
{
    switch (tier) {
    case KZ_LB_TIER_USABLE_OTHER:
        return i != avoid && kz_lb_usable(lb, i, now);
    case KZ_LB_TIER_USABLE:
        return kz_lb_usable(lb, i, now);
    case KZ_LB_TIER_OTHER:
        return i != avoid;
    default:
        return 1;
    }
}

static int count_eligible(kz_lb_t *lb, apr_time_t now, int avoid, int tier)
{
    int m = 0;

    for (int i = 0; i < lb->n; i++) {
        m += eligible(lb, i, now, avoid, tier);
    }
    return m;
}

/* The k-th (from 0) eligible backend; if another loop changed the health state since it was
 * counted and there are fewer now, the last eligible one; -1 if none is left. */
static int nth_eligible(kz_lb_t *lb, apr_time_t now, int avoid, int tier, int k)
{
    int last = -1;

    for (int i = 0; i < lb->n; i++) {
        if (eligible(lb, i, now, avoid, tier)) {
            if (k-- == 0) {
                return i;
            }
            last = i;
        }
    }
    return last;
}

static int pick_random(kz_lb_t *lb, apr_time_t now, apr_uint64_t *rng, int avoid, int tier, int m)
{
    return nth_eligible(lb, now, avoid, tier, rand_below(rng, m));
}

static int pick_two_random(kz_lb_t *lb, apr_time_t now, apr_uint64_t *rng, int avoid, int tier,
                           int m)
{
    int a, b, ia, ib;

    if (m < 2) {
        return nth_eligible(lb, now, avoid, tier, 0);
    }
    /* Two distinct draws: the second skips over the first. */
    a = rand_below(rng, m);
    b = rand_below(rng, m - 1);
    b += b >= a;
    ia = nth_eligible(lb, now, avoid, tier, a);
    ib = nth_eligible(lb, now, avoid, tier, b);
    if (ia < 0 || ib < 0) {
        return ia < 0 ? ib : ia;
    }
    /* A tie keeps the first draw, itself uniform. */
    return apr_atomic_read32(&lb->backends[ib].active) < apr_atomic_read32(&lb->backends[ia].active)
               ? ib
               : ia;
}

static int first_eligible_from(kz_lb_t *lb, int start, apr_time_t now, int avoid, int tier)
{
    for (int k = 0; k < lb->n; k++) {
        int i = (start + k) % lb->n;

        if (eligible(lb, i, now, avoid, tier)) {
            return i;
        }
    }
    return -1;
}

/* `next` always holds the backend after the last one picked, so skipping an unusable backend
 * keeps the cycle's order instead of giving its turn to the one after it twice. */
static int pick_round_robin(kz_lb_t *lb, apr_time_t now, int avoid, int tier)
{
    for (int attempt = 0;; attempt++) {
        apr_uint32_t old = apr_atomic_read32(&lb->next);
        int i = first_eligible_from(lb, (int)(old % (apr_uint32_t)lb->n), now, avoid, tier);

        if (i < 0) {
            return -1;
        }
        if (apr_atomic_cas32(&lb->next, (apr_uint32_t)((i + 1) % lb->n), old) == old ||
            attempt + 1 >= KZ_LB_RR_TRIES) {
            return i;
        }
    }
}

/* Scanning from a rotating start, the first of the least loaded wins: equal loads spread. */
static int pick_least_conn(kz_lb_t *lb, apr_time_t now, int avoid, int tier)
{
    int start = (int)(apr_atomic_inc32(&lb->next) % (apr_uint32_t)lb->n);
    int best = -1;
    apr_uint32_t best_active = 0;

    for (int k = 0; k < lb->n; k++) {
        int i = (start + k) % lb->n;
        apr_uint32_t active;

        if (!eligible(lb, i, now, avoid, tier)) {
            continue;
        }
        active = apr_atomic_read32(&lb->backends[i].active);
        if (best < 0 || active < best_active) {
            best = i;
            best_active = active;
        }
    }
    return best;
}

int kz_lb_pick(kz_lb_t *lb, apr_time_t now, apr_uint64_t *rng, int avoid)
{
    apr_uint64_t fallback_rng = 0;
    int tier = KZ_LB_TIER_USABLE_OTHER;
    int m, i;

    if (!lb || lb->n <= 0) {
        return -1;
    }
    if (!rng) {
        rng = &fallback_rng;
    }
    while ((m = count_eligible(lb, now, avoid, tier)) == 0 && tier < KZ_LB_TIER_ANY) {
        tier++;
    }
    switch (lb->method) {
    case KZ_LB_ROUND_ROBIN:
        i = pick_round_robin(lb, now, avoid, tier);
        break;
    case KZ_LB_LEAST_CONN:
        i = pick_least_conn(lb, now, avoid, tier);
        break;
    case KZ_LB_TWO_RANDOM:
        i = pick_two_random(lb, now, rng, avoid, tier, m);
        break;
    default:
        i = pick_random(lb, now, rng, avoid, tier, m);
        break;
    }
    /* Only when another loop emptied the tier between the count and the pick. */
    if (i < 0) {
        i = (avoid == 0 && lb->n > 1) ? 1 : 0;
    }
    return i;
}

void kz_lb_acquire(kz_lb_t *lb, int i)
{
    if (in_range(lb, i)) {
        apr_atomic_inc32(&lb->backends[i].active);
    }
}

void kz_lb_release(kz_lb_t *lb, int i)
{
    apr_uint32_t cur;

    if (!in_range(lb, i)) {
        return;
    }
    /* A stray release must not wrap the count to 2^32-1, which would starve the backend. */
    cur = apr_atomic_read32(&lb->backends[i].active);
    while (cur != 0) {
        apr_uint32_t seen = apr_atomic_cas32(&lb->backends[i].active, cur - 1, cur);

        if (seen == cur) {
            return;
        }
        cur = seen;
    }
}

void kz_lb_fail(kz_lb_t *lb, int i, apr_time_t now)
{
    kz_lb_backend_t *b;
    apr_uint64_t start;

    if (!in_range(lb, i) || !lb->passive) {
        return;
    }
    b = &lb->backends[i];
    start = apr_atomic_read64(&b->window_start);
    if (start == 0 || now - (apr_time_t)start >= lb->window) {
        /* 0 means "no window", so a failure at time 0 opens one at 1 µs. */
        apr_uint64_t stamp = now > 0 ? (apr_uint64_t)now : 1;

        if (apr_atomic_cas64(&b->window_start, stamp, start) == start) {
            apr_atomic_set32(&b->fails, 1);
            return;
        }
    }
    apr_atomic_inc32(&b->fails);
}

void kz_lb_probe(kz_lb_t *lb, int i, int up)
{
    kz_lb_backend_t *b;

    if (!in_range(lb, i)) {
        return;
    }
    b = &lb->backends[i];
    if (!up) {
        apr_atomic_set32(&b->probe_down, 1);
        return;
    }
    apr_atomic_set32(&b->fails, 0);
    apr_atomic_set64(&b->window_start, 0);
    apr_atomic_set32(&b->probe_down, 0);
}
