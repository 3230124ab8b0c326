/*
 * The one unit-test runner: adds every suite that registered itself through KZ_TEST_SUITE,
 * runs them with CUnit's basic interface and exits non-zero when any assertion failed.
 * An optional argument runs only the suite of that name.
 */
#include "kz_test.h"

#include <CUnit/Basic.h>
#include <apr_general.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

apr_pool_t *kz_test_pool;
static kz_test_suite_t *suites;

void kz_test_register(kz_test_suite_t *suite)
{
    suite->next = suites;
    suites = suite;
}

static int abort_on_oom(int retcode)
{
    fprintf(stderr, "out of memory (%d)\n", retcode);
    abort();
}

static void pool_setup(void)
{
    apr_pool_create_ex(&kz_test_pool, NULL, abort_on_oom, NULL);
}

static void pool_teardown(void)
{
    apr_pool_destroy(kz_test_pool);
    kz_test_pool = NULL;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    unsigned int failures;

    apr_initialize();
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    for (kz_test_suite_t *s = suites; s; s = s->next) {
        if (only && strcmp(only, s->name) != 0) {
            continue;
        }
        CU_pSuite suite =
            CU_add_suite_with_setup_and_teardown(s->name, NULL, NULL, pool_setup, pool_teardown);
        for (const kz_test_case_t *c = s->cases; c->name; c++) {
            CU_add_test(suite, c->name, c->fn);
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    apr_terminate();
    return failures ? 1 : 0;
}
