/*
 * The unit-test harness: each test file declares one CUnit suite with KZ_TEST_SUITE, which
 * registers itself before main() runs; test/unit/main.c adds every registered suite to CUnit.
 * Each test gets a fresh APR pool in `kz_test_pool`, destroyed after the test.
 */
#ifndef KZ_TEST_H
#define KZ_TEST_H

#include <CUnit/CUnit.h>
#include <apr_pools.h>

typedef struct kz_test_case {
    const char *name;
    void (*fn)(void);
} kz_test_case_t;

typedef struct kz_test_suite {
    const char *name;
    const kz_test_case_t *cases;
    struct kz_test_suite *next;
} kz_test_suite_t;

/** The pool of the test that is running. */
extern apr_pool_t *kz_test_pool;

void kz_test_register(kz_test_suite_t *suite);

/** Declares the suite NAME made of the kz_test_case_t array CASES (ending with {NULL, NULL}). */
#define KZ_TEST_SUITE(NAME, CASES)                                                                 \
    static kz_test_suite_t kz_suite_##NAME = {#NAME, CASES, NULL};                                 \
    __attribute__((constructor)) static void kz_suite_register_##NAME(void)                        \
    {                                                                                              \
        kz_test_register(&kz_suite_##NAME);                                                        \
    }

#endif
