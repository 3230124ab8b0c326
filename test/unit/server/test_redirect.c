/*
 * Tests of server/redirect.c: the Location of wwwredirect for Host values and request targets,
 * and the hosts it leaves alone (www. already, addresses, localhost, anything not a host name).
 */
#include "rewrite.h"
#include "kz_test.h"

#include <string.h>

typedef struct www_row {
    const char *label;
    const char *host, *target;
    const char *location; /* NULL: no redirect */
} www_row_t;

static const www_row_t rows[] = {
    {"bare domain", "example.com", "/a?b=1", "http://www.example.com/a?b=1"},
    {"port kept", "example.com:8080", "/", "http://www.example.com:8080/"},
    {"lowercased", "Example.COM", "/X", "http://www.example.com/X"},
    {"target kept raw", "example.com", "/a%20b/../c", "http://www.example.com/a%20b/../c"},
    {"www-like but not www.", "wwwx.com", "/", "http://www.wwwx.com/"},
    {"subdomain", "blog.example.com", "/p", "http://www.blog.example.com/p"},
    {"absolute-form target", "example.com", "http://example.com/p?q", "http://www.example.com/p?q"},
    {"absolute-form without path", "example.com", "http://example.com", "http://www.example.com/"},
    {"already www.", "www.example.com", "/", NULL},
    {"already WWW.", "WWW.example.com:80", "/", NULL},
    {"IPv4", "127.0.0.1", "/", NULL},
    {"IPv4 with port", "192.0.2.1:8080", "/", NULL},
    {"IPv6 literal", "[::1]:8080", "/", NULL},
    {"localhost", "localhost", "/", NULL},
    {"LocalHost with port", "LocalHost:8080", "/", NULL},
    {"a .localhost name", "app.localhost", "/", NULL},
    {"userinfo from an absolute-form authority", "a@evil.test", "/", NULL},
    {"empty host", "", "/", NULL},
    {"empty name with a port (absolute-form authority)", ":80", "/", NULL},
    {"no host", NULL, "/", NULL},
};

static void test_www_location(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const www_row_t *row = &rows[i];
        const char *got = kz_www_location(row->host, row->target, kz_test_pool);

        if (row->location ? !got || strcmp(got, row->location) : got != NULL) {
            fprintf(stderr, "\n  %s: got %s\n", row->label, got ? got : "(NULL)");
        }
        if (row->location) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            CU_ASSERT_STRING_EQUAL(got, row->location);
        } else {
            CU_ASSERT_PTR_NULL(got);
        }
    }
}

static const kz_test_case_t cases[] = {
    {"www Location", test_www_location},
    {NULL, NULL},
};

KZ_TEST_SUITE(redirect, cases)
