/*
 * Helpers shared by the libFuzzer targets of test/fuzz: one process-wide APR pool (cleared
 * after every input by the target) and exact-size NUL-terminated copies of the input, so that
 * AddressSanitizer sees a read past the end of the fuzzed text. Build with test/fuzz/run.sh.
 */
#ifndef KZ_FUZZ_COMMON_H
#define KZ_FUZZ_COMMON_H

#include <apr_general.h>
#include <apr_pools.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The pool every target allocates in. apr_terminate() runs at exit, before LeakSanitizer's final
 * check, so what pools hold (PCRE2 code freed by cleanups, say) is not reported: APR may take
 * pool memory from mmap, which LeakSanitizer does not scan for pointers.
 */
static inline apr_pool_t *kz_fuzz_pool(void)
{
    static apr_pool_t *pool;

    if (!pool) {
        apr_initialize();
        atexit(apr_terminate);
        apr_pool_create(&pool, NULL);
    }
    return pool;
}

/* A malloc'ed copy of data[0..size) with a NUL after it (free it). */
static inline char *kz_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * Splits a malloc'ed NUL-terminated copy of the input at its first n-1 NUL or newline bytes into
 * n exact-size strings (missing parts are ""); free each.
 */
static inline void kz_fuzz_split(char **parts, int n, const uint8_t *data, size_t size)
{
    size_t at = 0;

    for (int i = 0; i < n; i++) {
        size_t end = at;

        while (i < n - 1 && end < size && data[end] != '\n' && data[end] != '\0') {
            end++;
        }
        if (i == n - 1) {
            end = size;
        }
        parts[i] = kz_fuzz_cstr(data + at, end - at);
        at = end < size ? end + 1 : size;
    }
}

/* Stops the run on a broken invariant, naming it (libFuzzer reports the abort with the input). */
#define KZ_FUZZ_ASSERT(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
