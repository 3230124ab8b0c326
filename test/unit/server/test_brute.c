/*
 * Tests of server/brute.c: the limit of 10 failures, the 300-second window that each failure
 * restarts, addresses counted apart, and the bounded table (eviction of the oldest entry when
 * full, expired entries dropped first).
 */
#include "kz_test.h"

#include "brute.h"

#include <stdio.h>

#define T0  apr_time_from_sec(1000000)
#define SEC apr_time_from_sec(1)

static void test_limit(void)
{
    kz_brute_t *b = kz_brute_create(kz_test_pool);

    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0), 0);
    for (int i = 0; i < 9; i++) {
        kz_brute_fail(b, "192.0.2.1", T0 + i * SEC);
    }
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 9 * SEC), 0);
    kz_brute_fail(b, "192.0.2.1", T0 + 9 * SEC);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 9 * SEC), 300); /* seconds left */
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.2", T0 + 9 * SEC), 0);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "::ffff:192.0.2.1", T0 + 9 * SEC), 0);
    /* Blocked until 300 s after the last failure. */
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 308 * SEC), 1);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 309 * SEC - 1), 1);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 309 * SEC), 0);
    /* After the window, counting starts again from one. */
    kz_brute_fail(b, "192.0.2.1", T0 + 400 * SEC);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 400 * SEC), 0);
    for (int i = 0; i < 8; i++) {
        kz_brute_fail(b, "192.0.2.1", T0 + 401 * SEC);
    }
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 401 * SEC), 0);
    kz_brute_fail(b, "192.0.2.1", T0 + 401 * SEC);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "192.0.2.1", T0 + 401 * SEC), 300);
}

/* Each failure restarts the window, so slow guessing (one every 200 s) is blocked too. */
static void test_slow_guessing(void)
{
    kz_brute_t *b = kz_brute_create(kz_test_pool);

    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(kz_brute_blocked(b, "2001:db8::7", T0 + i * 200 * SEC), 0);
        kz_brute_fail(b, "2001:db8::7", T0 + i * 200 * SEC);
    }
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "2001:db8::7", T0 + 1850 * SEC), 250);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "2001:db8::7", T0 + 2100 * SEC), 0);
}

static void test_null(void)
{
    kz_brute_fail(NULL, "192.0.2.1", T0);
    CU_ASSERT_EQUAL(kz_brute_blocked(NULL, "192.0.2.1", T0), 0);
    CU_ASSERT_EQUAL(kz_brute_blocked(kz_brute_create(kz_test_pool), NULL, T0), 0);
}

static void block(kz_brute_t *b, const char *ip, apr_time_t at)
{
    for (int k = 0; k < 10; k++) {
        kz_brute_fail(b, ip, at);
    }
}

/* 4096 blocked addresses fill the table; the 4097th evicts the one blocked longest ago. */
static void test_full_table(void)
{
    kz_brute_t *b = kz_brute_create(kz_test_pool);
    char ip[32];
    int still = 0;

    for (int i = 0; i < 4096; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        block(b, ip, T0 + (i == 7 ? 0 : SEC + i));
    }
    block(b, "198.51.100.1", T0 + 2 * SEC);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "198.51.100.1", T0 + 2 * SEC), 300);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "10.0.0.7", T0 + 2 * SEC), 0);
    for (int i = 0; i < 4096; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        still += kz_brute_blocked(b, ip, T0 + 2 * SEC) > 0;
    }
    CU_ASSERT_EQUAL(still, 4095);
    /* Later, when every entry has expired, a new address drops them all and is counted. */
    kz_brute_fail(b, "198.51.100.2", T0 + 400 * SEC);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "198.51.100.1", T0 + 400 * SEC), 0);
    block(b, "198.51.100.3", T0 + 400 * SEC);
    CU_ASSERT_EQUAL(kz_brute_blocked(b, "198.51.100.3", T0 + 400 * SEC), 300);
}

static const kz_test_case_t cases[] = {
    {"limit", test_limit}, {"slow_guessing", test_slow_guessing},
    {"null", test_null},   {"full_table", test_full_table},
    {NULL, NULL},
};

KZ_TEST_SUITE(brute, cases)
