/*
 * Tests of server/upstream.c without the network: backend URLs parsed into targets (scheme,
 * host, port, Host value, base path, pool key, literal addresses), refused URLs, the mapping
 * of connect errors to statuses (the original's: refused/unreachable → 503, timeout → 504,
 * anything else → 502), and resolution of literals and Unix paths.
 */
#include "kz_test.h"

#include "upstream.h"

#include <apr_errno.h>
#include <string.h>

typedef struct {
    const char *url;
    kz_up_scheme_e scheme;
    const char *host;
    unsigned port;
    const char *authority;
    const char *base;
    int literal;
    const char *key;
} target_case_t;

static const target_case_t good[] = {
    {"http://127.0.0.1:3000", KZ_UP_HTTP, "127.0.0.1", 3000, "127.0.0.1:3000", "", 1,
     "http://127.0.0.1:3000/0"},
    {"http://backend", KZ_UP_HTTP, "backend", 80, "backend", "", 0, "http://backend:80/0"},
    {"https://api.example:8443/v1/", KZ_UP_HTTPS, "api.example", 8443, "api.example:8443", "/v1", 0,
     "https://api.example:8443/1"},
    {"https://api.example", KZ_UP_HTTPS, "api.example", 443, "api.example", "", 0,
     "https://api.example:443/1"},
    {"http://[::1]:8080/app//", KZ_UP_HTTP, "::1", 8080, "[::1]:8080", "/app", 1,
     "http://::1:8080/0"},
    {"HTTP://Mixed.Case:81", KZ_UP_HTTP, "Mixed.Case", 81, "Mixed.Case:81", "", 0,
     "http://Mixed.Case:81/0"},
    {"unix:///run/app.sock", KZ_UP_UNIX, "localhost", 0, "localhost", "", 0, "unix:/run/app.sock"},
};

static void test_parse_good(void)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        const target_case_t *c = &good[i];
        kz_upstream_target_t *t = NULL;
        const char *err = kz_upstream_target_parse(&t, c->url, 1, kz_test_pool);

        CU_ASSERT_PTR_NULL_FATAL(err);
        CU_ASSERT_EQUAL(t->scheme, c->scheme);
        CU_ASSERT_STRING_EQUAL(t->host, c->host);
        CU_ASSERT_EQUAL(t->port, c->port);
        CU_ASSERT_STRING_EQUAL(t->authority, c->authority);
        CU_ASSERT_STRING_EQUAL(t->base, c->base);
        CU_ASSERT_EQUAL(t->is_literal, c->literal);
        CU_ASSERT_STRING_EQUAL(t->key, c->key);
        CU_ASSERT_EQUAL(t->tls, c->scheme == KZ_UP_HTTPS);
        CU_ASSERT_PTR_NULL(t->sa); /* not resolved by parsing */
    }
}

static const struct {
    const char *url;
    const char *error_part;
} bad[] = {
    {"ftp://host", "must start with http://"},
    {"host:80", "must start with http://"},
    {"http://", "not a valid host"},
    {"http://:80", "not a valid host"},
    {"http://host:99999", "not a valid host"},
    {"http://host:80/a?b", "query or fragment"},
    {"http://host/a#b", "query or fragment"},
    {"unix://relative.sock", "absolute socket path"},
    {"http://[fe80::1%eth0]:80", "not a valid host"},
};

static void test_parse_bad(void)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        kz_upstream_target_t *t = NULL;
        const char *err = kz_upstream_target_parse(&t, bad[i].url, 1, kz_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        if (!strstr(err, bad[i].error_part)) {
            printf("\n%s: got '%s'\n", bad[i].url, err);
        }
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].error_part));
    }
}

static void test_status_mapping(void)
{
    CU_ASSERT_EQUAL(kz_upstream_status(APR_ECONNREFUSED), 503);
    CU_ASSERT_EQUAL(kz_upstream_status(APR_EHOSTUNREACH), 503);
    CU_ASSERT_EQUAL(kz_upstream_status(APR_ENETUNREACH), 503);
    CU_ASSERT_EQUAL(kz_upstream_status(APR_ENOENT), 503); /* a Unix socket that is not there */
    CU_ASSERT_EQUAL(kz_upstream_status(APR_TIMEUP), 504);
    CU_ASSERT_EQUAL(kz_upstream_status(APR_ECONNRESET), 502);
    CU_ASSERT_EQUAL(kz_upstream_status(APR_EGENERAL), 502);
}

static void test_resolve(void)
{
    kz_upstream_target_t *t = NULL;
    apr_sockaddr_t *sa;

    CU_ASSERT_PTR_NULL_FATAL(
        kz_upstream_target_parse(&t, "http://127.0.0.1:4321", 1, kz_test_pool));
    CU_ASSERT_EQUAL(kz_upstream_resolve(t), APR_SUCCESS);
    sa = t->sa;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
    CU_ASSERT_EQUAL(sa->port, 4321);
    CU_ASSERT_EQUAL(sa->family, APR_INET);
    /* A literal is resolved once: the list a loop may hold is never replaced. */
    CU_ASSERT_EQUAL(kz_upstream_resolve(t), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(t->sa, sa);

#if APR_HAVE_SOCKADDR_UN /* APR's capability, not an OS test: Windows' APR has no AF_UNIX */
    CU_ASSERT_PTR_NULL_FATAL(kz_upstream_target_parse(&t, "unix:///tmp/x.sock", 1, kz_test_pool));
    CU_ASSERT_EQUAL(kz_upstream_resolve(t), APR_SUCCESS);
    sa = t->sa;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
    CU_ASSERT_EQUAL(sa->family, APR_UNIX);
#endif

    CU_ASSERT_PTR_NULL_FATAL(
        kz_upstream_target_parse(&t, "http://nonexistent.invalid:80", 1, kz_test_pool));
    CU_ASSERT_NOT_EQUAL(kz_upstream_resolve(t), APR_SUCCESS);
    CU_ASSERT_PTR_NULL(t->sa); /* unresolved: requests get 503 until a later try works */
}

static const kz_test_case_t cases[] = {
    {"parse good URLs", test_parse_good},
    {"parse bad URLs", test_parse_bad},
    {"status mapping", test_status_mapping},
    {"resolve", test_resolve},
    {NULL, NULL},
};

KZ_TEST_SUITE(upstream, cases)
