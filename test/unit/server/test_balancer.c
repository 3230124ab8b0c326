/*
 * Tests of server/balancer.c: method names, the xorshift generator, each method's choices
 * (uniform random by a chi-square bound, round robin's exact cycle around unusable backends,
 * least_conn's rotating tie-break, two_random's distinct pair), passive health windows, active
 * probes, `avoid`, the all-unusable fallback, bad indexes, and picks racing on four threads.
 */
#include "kz_test.h"

#include "balancer.h"

#include <apr_thread_proc.h>

#include <stdio.h>

#define SEC   APR_USEC_PER_SEC
#define T0    ((apr_time_t)1000 * SEC)
#define NPICK 30000

static kz_lb_t *make_lb(int n, kz_lb_method_e method)
{
    return kz_lb_create(kz_test_pool, n, method, 1, 3, 5 * SEC);
}

/* Marks the backends of `mask` down by active probe. */
static void set_down(kz_lb_t *lb, unsigned mask)
{
    for (int i = 0; i < lb->n; i++) {
        kz_lb_probe(lb, i, !(mask & (1u << i)));
    }
}

static void set_loads(kz_lb_t *lb, const unsigned *loads)
{
    for (int i = 0; i < lb->n; i++) {
        for (unsigned k = 0; k < loads[i]; k++) {
            kz_lb_acquire(lb, i);
        }
    }
}

/* Counts npick picks per backend into counts[lb->n]; returns how many were out of range. */
static int count_picks(kz_lb_t *lb, apr_uint64_t seed, int avoid, int *counts, int npick)
{
    apr_uint64_t rng = seed;
    int bad = 0;

    for (int i = 0; i < lb->n; i++) {
        counts[i] = 0;
    }
    for (int k = 0; k < npick; k++) {
        int i = kz_lb_pick(lb, T0, &rng, avoid);

        if (i < 0 || i >= lb->n) {
            bad++;
        } else {
            counts[i]++;
        }
    }
    return bad;
}

static double chi_square(const int *counts, int n, int skip)
{
    int total = 0, cells = 0;
    double chi = 0;

    for (int i = 0; i < n; i++) {
        if (i != skip) {
            total += counts[i];
            cells++;
        }
    }
    for (int i = 0; i < n; i++) {
        if (i != skip) {
            double d = counts[i] - (double)total / cells;
            chi += d * d / ((double)total / cells);
        }
    }
    return chi;
}

static void test_method_parse(void)
{
    static const struct {
        const char *name;
        int expect;
    } rows[] = {
        {"random", KZ_LB_RANDOM},
        {"round_robin", KZ_LB_ROUND_ROBIN},
        {"least_conn", KZ_LB_LEAST_CONN},
        {"two_random", KZ_LB_TWO_RANDOM},
        {"Random", -1},
        {"least-conn", -1},
        {"round_robin ", -1},
        {"", -1},
        {"leastconn", -1},
    };

    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        CU_ASSERT_EQUAL(kz_lb_method_parse(rows[k].name), rows[k].expect);
    }
    CU_ASSERT_EQUAL(kz_lb_method_parse(NULL), -1);
}

static void test_rand_sequence(void)
{
    apr_uint64_t s = 1, z = 0, a = 77, b = 77;

    /* xorshift64* from seed 1, pinned so a change of generator is noticed. */
    CU_ASSERT_EQUAL(kz_lb_rand(&s), 1206177355u);
    CU_ASSERT_EQUAL(s, 0x2000001ULL);
    CU_ASSERT_EQUAL(kz_lb_rand(&s), 2882512552u);
    CU_ASSERT_EQUAL(kz_lb_rand(&s), 3117485455u);
    CU_ASSERT_EQUAL(s, 0xd004003202803ULL);
    /* A zero state is replaced by the fixed seed, and never stays 0. */
    CU_ASSERT_EQUAL(kz_lb_rand(&z), 226735074u);
    CU_ASSERT_EQUAL(z, 0x3f721dffe39b342ULL);
    for (int k = 0; k < 1000; k++) {
        CU_ASSERT_EQUAL(kz_lb_rand(&a), kz_lb_rand(&b));
        CU_ASSERT_NOT_EQUAL(a, 0);
    }
}

static void test_random_uniform(void)
{
    kz_lb_t *lb = make_lb(5, KZ_LB_RANDOM);
    int counts[5];

    CU_ASSERT_EQUAL(count_picks(lb, 42, -1, counts, NPICK), 0);
    /* 18.47 is chi-square's 0.1% critical value at 4 degrees of freedom. */
    CU_ASSERT(chi_square(counts, 5, -1) < 18.47);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT(counts[i] > 5400 && counts[i] < 6600);
    }
    /* One backend down: never picked, the other four still uniform (16.27 at 3 d.f.). */
    set_down(lb, 1u << 2);
    CU_ASSERT_EQUAL(count_picks(lb, 43, -1, counts, NPICK), 0);
    CU_ASSERT_EQUAL(counts[2], 0);
    CU_ASSERT(chi_square(counts, 5, 2) < 16.27);
}

static void test_round_robin_cycle(void)
{
    static const struct {
        const char *what;
        unsigned down;
        int expect[8];
    } rows[] = {
        {"all healthy", 0x0, {0, 1, 2, 3, 0, 1, 2, 3}},
        {"one down keeps the order", 0x2, {0, 2, 3, 0, 2, 3, 0, 2}},
        {"two adjacent down", 0x6, {0, 3, 0, 3, 0, 3, 0, 3}},
        {"first down", 0x1, {1, 2, 3, 1, 2, 3, 1, 2}},
        {"last down", 0x8, {0, 1, 2, 0, 1, 2, 0, 1}},
        {"all down: still the next in turn", 0xf, {0, 1, 2, 3, 0, 1, 2, 3}},
        {"only one up", 0xb, {2, 2, 2, 2, 2, 2, 2, 2}},
    };

    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        kz_lb_t *lb = make_lb(4, KZ_LB_ROUND_ROBIN);
        apr_uint64_t rng = 1;

        set_down(lb, rows[k].down);
        for (int p = 0; p < 8; p++) {
            int got = kz_lb_pick(lb, T0, &rng, -1);

            if (got != rows[k].expect[p]) {
                fprintf(stderr, "\n  %s: pick %d = %d, expected %d", rows[k].what, p, got,
                        rows[k].expect[p]);
            }
            CU_ASSERT_EQUAL(got, rows[k].expect[p]);
        }
    }
}

static void test_round_robin_recovery(void)
{
    kz_lb_t *lb = make_lb(4, KZ_LB_ROUND_ROBIN);
    apr_uint64_t rng = 1;

    set_down(lb, 0x2);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 0);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 2);
    kz_lb_probe(lb, 1, 1);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 3);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 0);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 1);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 2);
}

static void test_least_conn(void)
{
    static const struct {
        const char *what;
        unsigned loads[4];
        unsigned down;
        int expect[5];
    } rows[] = {
        {"equal loads rotate", {0, 0, 0, 0}, 0x0, {0, 1, 2, 3, 0}},
        {"tie broken by the rotating start", {2, 0, 1, 0}, 0x0, {1, 1, 3, 3, 1}},
        {"one least", {3, 1, 2, 5}, 0x0, {1, 1, 1, 1, 1}},
        {"least is down", {3, 1, 2, 5}, 0x2, {2, 2, 2, 2, 2}},
        {"all down: least of all", {3, 1, 2, 5}, 0xf, {1, 1, 1, 1, 1}},
    };

    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        kz_lb_t *lb = make_lb(4, KZ_LB_LEAST_CONN);
        apr_uint64_t rng = 1;

        set_loads(lb, rows[k].loads);
        set_down(lb, rows[k].down);
        for (int p = 0; p < 5; p++) {
            int got = kz_lb_pick(lb, T0, &rng, -1);

            if (got != rows[k].expect[p]) {
                fprintf(stderr, "\n  %s: pick %d = %d, expected %d", rows[k].what, p, got,
                        rows[k].expect[p]);
            }
            CU_ASSERT_EQUAL(got, rows[k].expect[p]);
        }
    }
}

static void test_least_conn_spreads(void)
{
    kz_lb_t *lb = make_lb(4, KZ_LB_LEAST_CONN);
    static const int expect[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    apr_uint64_t rng = 1;

    for (int p = 0; p < 8; p++) {
        int i = kz_lb_pick(lb, T0, &rng, -1);

        CU_ASSERT_EQUAL(i, expect[p]);
        kz_lb_acquire(lb, i);
    }
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(lb->backends[i].active, 2);
    }
    /* Backend 2 finishes one: it alone is least loaded whatever the start. */
    kz_lb_release(lb, 2);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 2);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 2);
}

static void test_two_random(void)
{
    static const unsigned loads2[2] = {5, 0}, loads3[3] = {0, 1, 2};
    kz_lb_t *one = make_lb(1, KZ_LB_TWO_RANDOM);
    kz_lb_t *two = make_lb(2, KZ_LB_TWO_RANDOM);
    kz_lb_t *three = make_lb(3, KZ_LB_TWO_RANDOM);
    kz_lb_t *four = make_lb(4, KZ_LB_TWO_RANDOM);
    int counts[4];

    CU_ASSERT_EQUAL(count_picks(one, 5, -1, counts, 100), 0);
    CU_ASSERT_EQUAL(counts[0], 100);
    /* n = 2: the two draws are distinct, so the idle one always wins. */
    set_loads(two, loads2);
    CU_ASSERT_EQUAL(count_picks(two, 6, -1, counts, 1000), 0);
    CU_ASSERT_EQUAL(counts[1], 1000);
    /* Loads 0,1,2: pairs {0,1} {0,2} {1,2} equally likely, so 2/3, 1/3 and never the busiest. */
    set_loads(three, loads3);
    CU_ASSERT_EQUAL(count_picks(three, 7, -1, counts, 3000), 0);
    CU_ASSERT_EQUAL(counts[2], 0);
    CU_ASSERT(counts[0] > 1850 && counts[0] < 2150);
    CU_ASSERT_EQUAL(counts[0] + counts[1], 3000);
    /* Equal loads: the first draw wins ties, so the choice stays uniform. */
    CU_ASSERT_EQUAL(count_picks(four, 8, -1, counts, 3000), 0);
    CU_ASSERT(chi_square(counts, 4, -1) < 16.27);
}

static void test_passive_window(void)
{
    /* max_fails 3, window 5 s: op 'f' fails at T0+at, 'u' only checks. */
    static const struct {
        const char *what;
        char op;
        apr_time_t at;
        int usable;
        apr_uint32_t fails;
        apr_time_t start;
    } rows[] = {
        {"first failure opens the window", 'f', 0, 1, 1, T0},
        {"second", 'f', 1 * SEC, 1, 2, T0},
        {"max_fails failures keep it usable", 'f', 2 * SEC, 1, 3, T0},
        {"max_fails+1 in the window: out", 'f', 3 * SEC, 0, 4, T0},
        {"still out just before the window ends", 'u', 5 * SEC - 1, 0, 4, T0},
        {"usable once the window has passed", 'u', 5 * SEC, 1, 4, T0},
        {"a failure at the window's end restarts the count", 'f', 5 * SEC, 1, 1, T0 + 5 * SEC},
        {"restarted window counts again", 'f', 6 * SEC, 1, 2, T0 + 5 * SEC},
        {"third in the new window", 'f', 7 * SEC, 1, 3, T0 + 5 * SEC},
        {"out again at max_fails+1", 'f', 8 * SEC, 0, 4, T0 + 5 * SEC},
        {"more failures stay out", 'f', 9 * SEC, 0, 5, T0 + 5 * SEC},
        {"usable at the new window's end", 'u', 10 * SEC, 1, 5, T0 + 5 * SEC},
    };
    kz_lb_t *lb = make_lb(2, KZ_LB_RANDOM);

    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        apr_time_t now = T0 + rows[k].at;

        if (rows[k].op == 'f') {
            kz_lb_fail(lb, 0, now);
        }
        if (kz_lb_usable(lb, 0, now) != rows[k].usable) {
            fprintf(stderr, "\n  row %zu (%s) usable %d", k, rows[k].what, !rows[k].usable);
        }
        CU_ASSERT_EQUAL(kz_lb_usable(lb, 0, now), rows[k].usable);
        CU_ASSERT_EQUAL(lb->backends[0].fails, rows[k].fails);
        CU_ASSERT_EQUAL((apr_time_t)lb->backends[0].window_start, rows[k].start);
        CU_ASSERT_EQUAL(kz_lb_usable(lb, 1, now), 1);
    }
}

static void test_passive_off_and_edges(void)
{
    kz_lb_t *off = kz_lb_create(kz_test_pool, 2, KZ_LB_RANDOM, 0, 3, 5 * SEC);
    kz_lb_t *zero = kz_lb_create(kz_test_pool, 2, KZ_LB_RANDOM, 1, 0, 5 * SEC);
    kz_lb_t *three = make_lb(3, KZ_LB_RANDOM);
    int counts[3];

    for (int k = 0; k < 10; k++) {
        kz_lb_fail(off, 0, T0 + k);
    }
    CU_ASSERT_EQUAL(kz_lb_usable(off, 0, T0 + 10), 1);
    CU_ASSERT_EQUAL(off->backends[0].fails, 0);
    CU_ASSERT_EQUAL(off->backends[0].window_start, 0);
    /* max_fails 0: the first failure already takes it out. */
    kz_lb_fail(zero, 1, T0);
    CU_ASSERT_EQUAL(kz_lb_usable(zero, 1, T0), 0);
    /* A failure at time 0 still opens a window ("0 = none" would lose it). */
    kz_lb_fail(zero, 0, 0);
    CU_ASSERT_EQUAL(zero->backends[0].window_start, 1);
    CU_ASSERT_EQUAL(kz_lb_usable(zero, 0, 0), 0);
    /* Picks skip a passively failed backend. */
    for (int k = 0; k < 4; k++) {
        kz_lb_fail(three, 0, T0);
    }
    CU_ASSERT_EQUAL(count_picks(three, 9, -1, counts, 1000), 0);
    CU_ASSERT_EQUAL(counts[0], 0);
    CU_ASSERT_EQUAL(counts[1] + counts[2], 1000);
}

static void test_probe(void)
{
    kz_lb_t *lb = make_lb(3, KZ_LB_ROUND_ROBIN);
    kz_lb_t *off = kz_lb_create(kz_test_pool, 2, KZ_LB_RANDOM, 0, 3, 5 * SEC);
    apr_uint64_t rng = 1;

    kz_lb_probe(off, 1, 0);
    CU_ASSERT_EQUAL(kz_lb_usable(off, 1, T0), 0);
    CU_ASSERT_EQUAL(kz_lb_pick(off, T0, &rng, -1), 0);
    kz_lb_probe(off, 1, 1);
    CU_ASSERT_EQUAL(kz_lb_usable(off, 1, T0), 1);

    /* A probe down keeps the passive count; a probe up clears it and the window. */
    for (int k = 0; k < 4; k++) {
        kz_lb_fail(lb, 1, T0);
    }
    kz_lb_probe(lb, 1, 0);
    CU_ASSERT_EQUAL(lb->backends[1].fails, 4);
    CU_ASSERT_EQUAL(lb->backends[1].probe_down, 1);
    CU_ASSERT_EQUAL(kz_lb_usable(lb, 1, T0 + 10 * SEC), 0);
    kz_lb_probe(lb, 1, 1);
    CU_ASSERT_EQUAL(lb->backends[1].fails, 0);
    CU_ASSERT_EQUAL(lb->backends[1].window_start, 0);
    CU_ASSERT_EQUAL(lb->backends[1].probe_down, 0);
    CU_ASSERT_EQUAL(kz_lb_usable(lb, 1, T0), 1);
}

static void test_all_unusable(void)
{
    for (int m = KZ_LB_RANDOM; m <= KZ_LB_TWO_RANDOM; m++) {
        kz_lb_t *lb = make_lb(3, (kz_lb_method_e)m);
        int counts[3];

        set_down(lb, 0x7);
        CU_ASSERT_EQUAL(count_picks(lb, 10 + m, -1, counts, 300), 0);
        CU_ASSERT_EQUAL(counts[0] + counts[1] + counts[2], 300);
        if (m != KZ_LB_LEAST_CONN) {
            /* No load to tell them apart: every backend still gets tried. */
            CU_ASSERT(counts[0] > 0 && counts[1] > 0 && counts[2] > 0);
        }
    }
}

static void test_avoid(void)
{
    static const struct {
        const char *what;
        unsigned down;
        int avoid;
        int only; /* the one pick expected every time, -1: anything but avoid */
    } rows[] = {
        {"avoid among healthy", 0x0, 1, -1},
        {"avoid the only usable (first): still picked", 0x6, 0, 0},
        {"avoid the only usable (last): still picked", 0x3, 2, 2},
        {"all down: avoid still respected", 0x7, 2, -1},
        {"avoid a down one", 0x4, 2, -1},
        {"avoid out of range ignored", 0x5, 7, 1},
    };

    for (int m = KZ_LB_RANDOM; m <= KZ_LB_TWO_RANDOM; m++) {
        for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
            kz_lb_t *lb = make_lb(3, (kz_lb_method_e)m);
            int counts[3];

            set_down(lb, rows[k].down);
            CU_ASSERT_EQUAL(count_picks(lb, 20 + k, rows[k].avoid, counts, 300), 0);
            if (rows[k].only >= 0) {
                CU_ASSERT_EQUAL(counts[rows[k].only], 300);
            } else {
                CU_ASSERT_EQUAL(counts[rows[k].avoid], 0);
                CU_ASSERT_EQUAL(counts[0] + counts[1] + counts[2], 300);
            }
        }
    }
    /* n = 1: the one backend even when it is to be avoided. */
    CU_ASSERT_EQUAL(kz_lb_pick(make_lb(1, KZ_LB_ROUND_ROBIN), T0, NULL, 0), 0);
}

static void test_round_robin_avoid_order(void)
{
    kz_lb_t *lb = make_lb(4, KZ_LB_ROUND_ROBIN);
    apr_uint64_t rng = 1;

    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, 0), 1);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 2);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, 3), 0);
    CU_ASSERT_EQUAL(kz_lb_pick(lb, T0, &rng, -1), 1);
}

static void test_bad_input(void)
{
    kz_lb_t *empty = kz_lb_create(kz_test_pool, -3, (kz_lb_method_e)99, 1, 3, -5);
    kz_lb_t *lb = make_lb(2, KZ_LB_LEAST_CONN);

    CU_ASSERT_EQUAL(empty->n, 0);
    CU_ASSERT_PTR_NULL(empty->backends);
    CU_ASSERT_EQUAL(empty->method, KZ_LB_RANDOM);
    CU_ASSERT_EQUAL(empty->window, 0);
    CU_ASSERT_EQUAL(kz_lb_pick(empty, T0, NULL, -1), -1);
    CU_ASSERT_EQUAL(kz_lb_pick(NULL, T0, NULL, -1), -1);
    CU_ASSERT_EQUAL(kz_lb_usable(empty, 0, T0), 0);
    CU_ASSERT_EQUAL(kz_lb_usable(lb, -1, T0), 0);
    CU_ASSERT_EQUAL(kz_lb_usable(lb, 2, T0), 0);
    kz_lb_acquire(lb, 2);
    kz_lb_acquire(lb, -1);
    kz_lb_fail(lb, 5, T0);
    kz_lb_probe(lb, -2, 0);
    kz_lb_release(lb, 9);
    /* A stray release does not wrap the count. */
    kz_lb_release(lb, 0);
    CU_ASSERT_EQUAL(lb->backends[0].active, 0);
    kz_lb_acquire(lb, 0);
    kz_lb_release(lb, 0);
    kz_lb_release(lb, 0);
    CU_ASSERT_EQUAL(lb->backends[0].active, 0);
    CU_ASSERT_EQUAL(lb->backends[1].active, 0);
    /* A random method without a generator state still picks in range. */
    CU_ASSERT(kz_lb_pick(make_lb(3, KZ_LB_TWO_RANDOM), T0, NULL, -1) >= 0);
}

#define RACE_THREADS 4
#define RACE_ITERS   20000
#define RACE_N       3

typedef struct race {
    kz_lb_t *lb;
    volatile apr_uint32_t *gate; /* threads wait until all have started, so they overlap */
    apr_uint64_t seed;
    int id;
    int bad; /* picks out of range, or more active than threads */
    int counts[RACE_N];
} race_t;

static void *APR_THREAD_FUNC race_run(apr_thread_t *t, void *data)
{
    race_t *r = data;
    apr_uint64_t rng = r->seed;

    apr_atomic_inc32(r->gate);
    for (long spin = 0; apr_atomic_read32(r->gate) < RACE_THREADS && spin < 10000000L; spin++) {
        apr_thread_yield();
    }
    for (int k = 0; k < RACE_ITERS; k++) {
        apr_time_t now = T0 + (apr_time_t)k * 100;
        int i = kz_lb_pick(r->lb, now, &rng, k % 7 == 0 ? k % RACE_N : -1);

        if (i < 0 || i >= RACE_N) {
            r->bad++;
            continue;
        }
        r->counts[i]++;
        kz_lb_acquire(r->lb, i);
        if (apr_atomic_read32(&r->lb->backends[i].active) > RACE_THREADS) {
            r->bad++;
        }
        if (k % 13 == r->id) {
            kz_lb_fail(r->lb, i, now);
        }
        if (r->id == 0 && k % 1000 == 0) {
            kz_lb_probe(r->lb, 1, (k / 1000) % 2);
        }
        kz_lb_release(r->lb, i);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Runs the race for one method; returns how many threads started (all of them, normally). */
static int race_method(kz_lb_method_e m, race_t *races, int *total)
{
    kz_lb_t *lb = kz_lb_create(kz_test_pool, RACE_N, m, 1, 3, 1000);
    volatile apr_uint32_t gate = 0;
    apr_thread_t *threads[RACE_THREADS];
    int started = 0;

    for (int t = 0; t < RACE_THREADS; t++) {
        races[t] = (race_t){.lb = lb, .gate = &gate, .seed = 100 + (apr_uint64_t)t, .id = t};
        if (apr_thread_create(&threads[t], NULL, race_run, &races[t], kz_test_pool) !=
            APR_SUCCESS) {
            /* Let the ones started run on alone, and still join them. */
            apr_atomic_set32(&gate, RACE_THREADS);
            break;
        }
        started++;
    }
    *total = 0;
    for (int t = 0; t < started; t++) {
        apr_status_t rv;

        CU_ASSERT_EQUAL(apr_thread_join(&rv, threads[t]), APR_SUCCESS);
        CU_ASSERT_EQUAL(races[t].bad, 0);
        for (int i = 0; i < RACE_N; i++) {
            *total += races[t].counts[i];
        }
    }
    for (int i = 0; i < RACE_N; i++) {
        CU_ASSERT_EQUAL(lb->backends[i].active, 0);
    }
    return started;
}

static void test_concurrent(void)
{
    for (int m = KZ_LB_RANDOM; m <= KZ_LB_TWO_RANDOM; m++) {
        race_t races[RACE_THREADS];
        int total;

        CU_ASSERT_EQUAL(race_method((kz_lb_method_e)m, races, &total), RACE_THREADS);
        CU_ASSERT_EQUAL(total, RACE_THREADS * RACE_ITERS);
    }
}

static const kz_test_case_t cases[] = {
    {"method_parse", test_method_parse},
    {"rand_sequence", test_rand_sequence},
    {"random_uniform", test_random_uniform},
    {"round_robin_cycle", test_round_robin_cycle},
    {"round_robin_recovery", test_round_robin_recovery},
    {"round_robin_avoid_order", test_round_robin_avoid_order},
    {"least_conn", test_least_conn},
    {"least_conn_spreads", test_least_conn_spreads},
    {"two_random", test_two_random},
    {"passive_window", test_passive_window},
    {"passive_off_and_edges", test_passive_off_and_edges},
    {"probe", test_probe},
    {"all_unusable", test_all_unusable},
    {"avoid", test_avoid},
    {"bad_input", test_bad_input},
    {"concurrent", test_concurrent},
    {NULL, NULL},
};

KZ_TEST_SUITE(balancer, cases)
