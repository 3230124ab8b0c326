/*
 * Helpers shared by the tests of the HTTP/1.1 head parsers (see kz_test_http.h).
 */
#include "kz_test_http.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <string.h>

void kz_test_check_fields(const kz_http_field_t *got, int ngot, const kz_test_field_exp_t *exp,
                          int nexp, const char *buf, apr_size_t head_len)
{
    CU_ASSERT_EQUAL_FATAL(ngot, nexp);
    for (int j = 0; j < nexp; j++) {
        const kz_http_field_t *f = &got[j];
        CU_ASSERT_EQUAL(f->name_len, strlen(exp[j].name));
        CU_ASSERT_EQUAL(f->value_len, strlen(exp[j].value));
        CU_ASSERT_STRING_EQUAL(f->name, exp[j].name);   /* also NUL-terminated in place */
        CU_ASSERT_STRING_EQUAL(f->value, exp[j].value); /* and trimmed */
        /* pointers into the caller's buffer, not copies */
        CU_ASSERT(f->name >= buf && f->name < buf + head_len);
        CU_ASSERT(f->value >= buf && f->value < buf + head_len);
    }
}

char *kz_test_many_fields(int n)
{
    char *s = "";
    for (int i = 0; i < n; i++) {
        s = apr_psprintf(kz_test_pool, "%sX-F%d: %d\r\n", s, i, i);
    }
    return s;
}
