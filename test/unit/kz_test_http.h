/*
 * Helpers shared by the tests of the two HTTP/1.1 head parsers (server/http_parse.c for requests,
 * server/upstream_http.c for backend responses): checking parsed field lines against a table row
 * and building heads with many fields.
 */
#ifndef KZ_TEST_HTTP_H
#define KZ_TEST_HTTP_H

#include "http_parse.h"

#include <apr.h>

/** One field a table row expects, as NUL-terminated name and (trimmed) value. */
typedef struct kz_test_field_exp {
    const char *name;
    const char *value;
} kz_test_field_exp_t;

/**
 * Asserts that the ngot parsed fields got[] are exactly the nexp fields exp[] (the counts fatally),
 * with names and values NUL-terminated in place and pointing into buf[0..head_len), not copies.
 */
void kz_test_check_fields(const kz_http_field_t *got, int ngot, const kz_test_field_exp_t *exp,
                          int nexp, const char *buf, apr_size_t head_len);

/** "X-F0: 0" CRLF "X-F1: 1" CRLF … for n field lines, allocated in kz_test_pool. */
char *kz_test_many_fields(int n);

#endif
