/*
 * Tests of server/ncodes.c: the load-time checks of nonStandardCodes and users (exact messages
 * with file:line:col), matching of entries by url, regex (on the encoded path and the query)
 * and client address, Location building (query appended in url mode, captures in regex mode),
 * the WWW-Authenticate challenge, Basic credentials (parsing, each hash algorithm, userList),
 * and the match limit of a catastrophic regular expression.
 */
#include "kz_test.h"

#include "config.h"
#include "ncodes.h"

#include <apr_strings.h>

#include <stdio.h>
#include <string.h>

#define SALT "a2FycGFjei1zYWx0LTE2Yg"

/* Every user's password is "correct horse" except dave's, "pa:ss:word". */
static const char users_yaml[] =
    "  users:\n"
    "    - name: alice\n"
    "      pass: '$pbkdf2-sha256$i=1000,l=32$" SALT
    "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8'\n"
    "    - name: bob\n"
    "      pass: '$scrypt$ln=10,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY'\n"
    "    - name: carol\n"
    "      pass: '$argon2id$v=19$m=19456,t=2,p=1$" SALT
    "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38'\n"
    "    - name: dave\n"
    "      pass: '$pbkdf2-sha256$i=1000,l=32$" SALT
    "$RBp7O6SkiHp+47pABW4DWN8zSI/3Aqmo7AMWzcjIEYA'\n";

static const char codes_yaml[] =
    "  nonStandardCodes:\n"
    "    - {scode: 301, url: /old, location: /new}\n"                                 /* 0 */
    "    - {scode: 302, regex: '^/blog/(\\d+)/(.*)$', location: '/posts/$2?id=$1'}\n" /* 1 */
    "    - {scode: 307, regex: '^/t/(?<name>[a-z]+)', location: '/x/${name}/$name/$$/$9/${1}$'}\n"
    "    - {scode: 308, url: '/my%20file', location: 'https://example.com/file'}\n"    /* 3 */
    "    - {scode: 403, regex: '\\.git(/|$)'}\n"                                       /* 4 */
    "    - {scode: 418, url: /teapot, users: ['10.0.0.0/8', '2001:db8::/32']}\n"       /* 5 */
    "    - {scode: 401, regex: '^/private(/|$)', realm: 'Say \"hi\" \\ here'}\n"       /* 6 */
    "    - {scode: 401, url: /admin, userList: [bob], disableBruteProtection: true}\n" /* 7 */
    "    - {scode: 410, regex: '^/q\\?(.*)gone'}\n"                                    /* 8 */
    "    - {scode: 400, regex: '^/(a+)+$'}\n";                                         /* 9 */

static const kz_ncodes_t *load_codes(void)
{
    kz_config_t *cfg = NULL;
    kz_diag_t *diag = NULL;
    const char *text = apr_pstrcat(kz_test_pool, "global:\n", users_yaml, codes_yaml, NULL);
    apr_status_t rv = kz_config_load_string(&cfg, &diag, "t.yaml", text, kz_test_pool);

    if (rv != APR_SUCCESS) {
        for (int i = 0; i < diag->errors->nelts; i++) {
            fprintf(stderr, "\n  %s", APR_ARRAY_IDX(diag->errors, i, const char *));
        }
    }
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->global_conf->ncodes);
    return (const kz_ncodes_t *)cfg->global_conf->ncodes;
}

/* ---- matching -------------------------------------------------------------------------- */

static const struct {
    const char *ip, *path, *query;
    int index; /* -1: nothing applies */
    int scode;
    const char *location;
    const char *why;
} match_cases[] = {
    {"127.0.0.1", "/old", NULL, 0, 301, "/new", "url redirect"},
    {"127.0.0.1", "/old", "a=1&b", 0, 301, "/new?a=1&b", "url mode appends the query"},
    {"127.0.0.1", "/old/", NULL, -1, 0, NULL, "url is an exact match"},
    {"127.0.0.1", "/blog/42/hello", NULL, 1, 302, "/posts/hello?id=42", "regex captures"},
    {"127.0.0.1", "/blog/42/a b", "x=1", 1, 302, "/posts/a%20b?x=1?id=42",
     "captures see the encoded path and the query"},
    {"127.0.0.1", "/t/abc", NULL, 2, 307, "/x/abc/abc/$//abc$",
     "named, braced, $$, unknown group, trailing $"},
    {"127.0.0.1", "/my file", NULL, 3, 308, "https://example.com/file",
     "a url written encoded matches the decoded path"},
    {"127.0.0.1", "/repo/.git/config", NULL, 4, 403, NULL, "fixed status by regex"},
    {"127.0.0.1", "/repo/.gitignore", NULL, -1, 0, NULL, "regex does not match"},
    {"10.1.2.3", "/teapot", NULL, 5, 418, NULL, "users: client in the range"},
    {"::ffff:10.9.9.9", "/teapot", NULL, 5, 418, NULL, "users: mapped client in the range"},
    {"2001:db8::5", "/teapot", NULL, 5, 418, NULL, "users: v6 client in the range"},
    {"127.0.0.1", "/teapot", NULL, -1, 0, NULL, "users: client outside every range"},
    {"127.0.0.1", "/private", NULL, 6, 401, NULL, "401 by regex"},
    {"127.0.0.1", "/private/x", NULL, 6, 401, NULL, "401 below the protected path"},
    {"127.0.0.1", "/privateer", NULL, -1, 0, NULL, "not a protected path"},
    {"127.0.0.1", "/admin", NULL, 7, 401, NULL, "401 by url"},
    {"127.0.0.1", "/q", "x=gone", 8, 410, NULL, "regex on the query"},
    {"127.0.0.1", "/q", NULL, -1, 0, NULL, "no query, no match"},
};

static void test_match(void)
{
    const kz_ncodes_t *nc = load_codes();

    for (size_t i = 0; i < sizeof(match_cases) / sizeof(*match_cases); i++) {
        kz_ncodes_match_t m;
        int rc;

        memset(&m, 0, sizeof(m));
        m.client_ip = match_cases[i].ip;
        m.path = match_cases[i].path;
        m.query = match_cases[i].query;
        rc = kz_ncodes_next(&m, nc, kz_test_pool);
        if (rc != (match_cases[i].index >= 0) || (rc == 1 && m.index != match_cases[i].index)) {
            fprintf(stderr, "\n  %s: rc %d index %d\n", match_cases[i].why, rc, m.index);
        }
        CU_ASSERT_EQUAL(rc, match_cases[i].index >= 0);
        if (rc != 1) {
            continue;
        }
        CU_ASSERT_EQUAL(m.index, match_cases[i].index);
        CU_ASSERT_EQUAL(m.scode, match_cases[i].scode);
        if (match_cases[i].location) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(m.location);
            if (strcmp(m.location, match_cases[i].location) != 0) {
                fprintf(stderr, "\n  %s: location %s\n", match_cases[i].why, m.location);
            }
            CU_ASSERT_STRING_EQUAL(m.location, match_cases[i].location);
        } else {
            CU_ASSERT_PTR_NULL(m.location);
        }
    }
}

/* The walk goes on after a match: a 403 entry first, then the 401 entry, then nothing. */
static void test_walk(void)
{
    const kz_ncodes_t *nc = load_codes();
    kz_ncodes_match_t m;

    memset(&m, 0, sizeof(m));
    m.client_ip = "127.0.0.1";
    m.path = "/private/.git/x";
    CU_ASSERT_EQUAL_FATAL(kz_ncodes_next(&m, nc, kz_test_pool), 1);
    CU_ASSERT_EQUAL(m.index, 4);
    CU_ASSERT_EQUAL_FATAL(kz_ncodes_next(&m, nc, kz_test_pool), 1);
    CU_ASSERT_EQUAL(m.index, 6);
    CU_ASSERT_EQUAL(kz_ncodes_next(&m, nc, kz_test_pool), 0);
    CU_ASSERT_EQUAL(kz_ncodes_next(&m, nc, kz_test_pool), 0);
    CU_ASSERT_EQUAL(kz_ncodes_next(&m, NULL, kz_test_pool), 0);
}

/* Exponential backtracking hits the match limit: an error, never a skipped entry. */
static void test_match_limit(void)
{
    const kz_ncodes_t *nc = load_codes();
    kz_ncodes_match_t m;

    memset(&m, 0, sizeof(m));
    m.client_ip = "127.0.0.1";
    m.path = "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
    CU_ASSERT_EQUAL(kz_ncodes_next(&m, nc, kz_test_pool), -1);
    memset(&m, 0, sizeof(m));
    m.client_ip = "127.0.0.1";
    m.path = "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    CU_ASSERT_EQUAL_FATAL(kz_ncodes_next(&m, nc, kz_test_pool), 1);
    CU_ASSERT_EQUAL(m.scode, 400);
}

static void test_challenge(void)
{
    const kz_ncodes_t *nc = load_codes();
    kz_ncodes_match_t m;

    memset(&m, 0, sizeof(m));
    m.client_ip = "127.0.0.1";
    m.path = "/private";
    CU_ASSERT_EQUAL_FATAL(kz_ncodes_next(&m, nc, kz_test_pool), 1);
    CU_ASSERT_STRING_EQUAL(m.challenge,
                           "Basic realm=\"Say \\\"hi\\\" \\\\ here\", charset=\"UTF-8\"");
    CU_ASSERT_EQUAL(m.brute_protection, 1);
    m.path = "/admin";
    CU_ASSERT_EQUAL_FATAL(kz_ncodes_next(&m, nc, kz_test_pool), 1);
    CU_ASSERT_STRING_EQUAL(m.challenge,
                           "Basic realm=\"Karpacz HTTP Basic Authorization\", charset=\"UTF-8\"");
    CU_ASSERT_EQUAL(m.brute_protection, 0);
}

/* ---- Basic credentials ----------------------------------------------------------------- */

static const struct {
    int index; /* 6: any user; 7: userList [bob] */
    const char *header;
    kz_auth_e expect;
    const char *user;
    const char *why;
} auth_cases[] = {
    {6, "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_OK, "alice", "pbkdf2 user"},
    {6, "basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_OK, "alice", "scheme in any case"},
    {6, "Basic   YWxpY2U6Y29ycmVjdCBob3JzZQ", KZ_AUTH_OK, "alice", "spaces, no padding"},
    {6, "Basic YWxpY2U6d3Jvbmc=", KZ_AUTH_FAILED, "alice", "wrong password"},
    {6, "Basic Ym9iOmNvcnJlY3QgaG9yc2U=", KZ_AUTH_OK, "bob", "scrypt user"},
    {6, "Basic Y2Fyb2w6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_OK, "carol", "argon2id user"},
    {6, "Basic Y2Fyb2w6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_OK, "carol", "argon2id again (cached)"},
    {6, "Basic Y2Fyb2w6d3Jvbmc=", KZ_AUTH_FAILED, "carol", "the cache never passes a wrong one"},
    {6, "Basic bWFsbG9yeTpjb3JyZWN0IGhvcnNl", KZ_AUTH_FAILED, "mallory", "unknown user"},
    {6, "Basic ZGF2ZTpwYTpzczp3b3Jk", KZ_AUTH_OK, "dave", "a password with colons"},
    {6, "Basic OmNvcnJlY3QgaG9yc2U=", KZ_AUTH_FAILED, "", "an empty user-id"},
    {7, "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_FAILED, "alice", "not in userList"},
    {7, "Basic Ym9iOmNvcnJlY3QgaG9yc2U=", KZ_AUTH_OK, "bob", "in userList"},
    {6, NULL, KZ_AUTH_NONE, NULL, "no Authorization"},
    {6, "Bearer YWxpY2U6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_NONE, NULL, "another scheme"},
    {6, "Basic", KZ_AUTH_NONE, NULL, "no credentials"},
    {6, "Basic ", KZ_AUTH_NONE, NULL, "empty credentials"},
    {6, "BasicYWxpY2U6Y29ycmVjdCBob3JzZQ==", KZ_AUTH_NONE, NULL, "no space"},
    {6, "Basic YWxpY2U=", KZ_AUTH_NONE, NULL, "no colon"},
    {6, "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==x", KZ_AUTH_NONE, NULL, "bytes after the padding"},
    {6, "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ===", KZ_AUTH_NONE, NULL, "three padding characters"},
    {6, "Basic YWxpY2U6Y29ycmVjdCBob3JzZ", KZ_AUTH_NONE, NULL, "a length of 4n+1"},
    {6, "Basic YWxp*2U6", KZ_AUTH_NONE, NULL, "not base64"},
    {6, "Basic YWxpY2UAeDpjb3JyZWN0IGhvcnNl", KZ_AUTH_NONE, NULL, "a NUL in the user-id"},
    {6, "Basic ==", KZ_AUTH_NONE, NULL, "padding alone"},
    {6, "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=", KZ_AUTH_NONE, NULL, "one '=' where two belong"},
    {6, "Basic YWxp=Y2U6Y29ycmVjdCBob3JzZQ", KZ_AUTH_NONE, NULL, "padding inside"},
};

static void test_authorize(void)
{
    const kz_ncodes_t *nc = load_codes();

    for (size_t i = 0; i < sizeof(auth_cases) / sizeof(*auth_cases); i++) {
        const char *user = "unset";
        kz_auth_e rc =
            kz_ncodes_authorize(&user, nc, auth_cases[i].index, auth_cases[i].header, kz_test_pool);

        if (rc != auth_cases[i].expect) {
            fprintf(stderr, "\n  %s: got %d\n", auth_cases[i].why, rc);
        }
        CU_ASSERT_EQUAL(rc, auth_cases[i].expect);
        if (auth_cases[i].user) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(user);
            CU_ASSERT_STRING_EQUAL(user, auth_cases[i].user);
        } else {
            CU_ASSERT_PTR_NULL(user);
        }
    }
}

/*
 * The step API the pipeline uses: a verification is asked for (never done) until its result is
 * recorded, and the recorded result is what counts.
 */
static void test_auth_step(void)
{
    static const struct {
        const char *header;
        int user;            /* the verification asked for: index, -1 the stand-in */
        apr_status_t result; /* recorded for it */
        kz_auth_e expect;
        const char *why;
    } rows[] = {
        {"Basic YWxpY2U6d3Jvbmc=", 0, APR_SUCCESS, KZ_AUTH_OK, "the recorded result counts"},
        {"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", 0, APR_EMISMATCH, KZ_AUTH_FAILED, "a mismatch"},
        {"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", 0, APR_ENOMEM, KZ_AUTH_ERROR, "could not run"},
        {"Basic bWFsbG9yeTpjb3JyZWN0IGhvcnNl", -1, APR_SUCCESS, KZ_AUTH_FAILED,
         "an unknown user: the stand-in verification, then refused whatever it says"},
        {"Basic ZGF2ZTpwYTpzczp3b3Jk", 3, APR_EINVAL, KZ_AUTH_FAILED, "a hash refused"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        const kz_ncodes_t *nc = load_codes(); /* a fresh login cache */
        kz_auth_known_t *known = kz_auth_known_make(kz_test_pool);
        kz_auth_need_t need = {-2, NULL, NULL, 0};
        const char *user = NULL;
        kz_auth_e rc;

        CU_ASSERT_EQUAL(
            kz_ncodes_auth_step(&user, &need, nc, 6, rows[i].header, known, kz_test_pool),
            KZ_AUTH_PENDING);
        CU_ASSERT_EQUAL(need.user, rows[i].user);
        CU_ASSERT_PTR_NOT_NULL_FATAL(need.phc);
        CU_ASSERT_EQUAL(strncmp(need.phc, "$pbkdf2-sha256$", 15), 0); /* alice's, dave's */
        kz_auth_known_add(known, need.user, rows[i].result);
        rc = kz_ncodes_auth_step(&user, &need, nc, 6, rows[i].header, known, kz_test_pool);
        if (rc != rows[i].expect) {
            fprintf(stderr, "\n  %s: got %d\n", rows[i].why, rc);
        }
        CU_ASSERT_EQUAL(rc, rows[i].expect);
        /* A success is remembered: the next request needs no verification at all. */
        CU_ASSERT_EQUAL(kz_ncodes_auth_step(&user, &need, nc, 6, rows[i].header,
                                            kz_auth_known_make(kz_test_pool), kz_test_pool),
                        rows[i].expect == KZ_AUTH_OK ? KZ_AUTH_OK : KZ_AUTH_PENDING);
    }
}

/* The password a verification is asked for is the one sent, whole (colons and all). */
static void test_auth_need(void)
{
    const kz_ncodes_t *nc = load_codes();
    kz_auth_need_t need;
    const char *user;

    CU_ASSERT_EQUAL(kz_ncodes_auth_step(&user, &need, nc, 6, "Basic ZGF2ZTpwYTpzczp3b3Jk",
                                        kz_auth_known_make(kz_test_pool), kz_test_pool),
                    KZ_AUTH_PENDING);
    CU_ASSERT_STRING_EQUAL(user, "dave");
    CU_ASSERT_EQUAL(need.user, 3);
    CU_ASSERT_EQUAL(need.len, 10);
    CU_ASSERT_EQUAL(memcmp(need.pass, "pa:ss:word", 10), 0);
    CU_ASSERT_STRING_EQUAL(need.phc, "$pbkdf2-sha256$i=1000,l=32$" SALT
                                     "$RBp7O6SkiHp+47pABW4DWN8zSI/3Aqmo7AMWzcjIEYA");
    /* carol is not in entry 7's userList: the stand-in verification, against the first user */
    CU_ASSERT_EQUAL(kz_ncodes_auth_step(&user, &need, nc, 7, "Basic Y2Fyb2w6Y29ycmVjdCBob3JzZQ==",
                                        kz_auth_known_make(kz_test_pool), kz_test_pool),
                    KZ_AUTH_PENDING);
    CU_ASSERT_EQUAL(need.user, -1);
    CU_ASSERT_STRING_EQUAL(need.phc, "$pbkdf2-sha256$i=1000,l=32$" SALT
                                     "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8");
}

/* ---- configuration checks -------------------------------------------------------------- */

static const struct {
    const char *yaml; /* the value of global */
    const char *error;
} check_cases[] = {
    {"  nonStandardCodes: {scode: 403}\n",
     "t.yaml:2:21: error: property 'nonStandardCodes': expected a list of maps"},
    {"  nonStandardCodes:\n    - {url: /x}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': an entry needs 'scode'"},
    {"  nonStandardCodes:\n    - {scode: 403}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': an entry needs 'url' or 'regex'"},
    {"  nonStandardCodes:\n    - {scode: 403, url: /x, uri: /y}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': unknown key 'uri' (line 3)"},
    {"  nonStandardCodes:\n    - scode: 999\n      url: /x\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'scode' (line 3): expected a status code "
     "from 200 to 599"},
    {"  nonStandardCodes:\n    - {scode: '403', url: /x}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'scode' (line 3): expected a status code "
     "from 200 to 599"},
    {"  nonStandardCodes:\n    - {scode: 100, url: /x}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'scode' (line 3): expected a status code "
     "from 200 to 599"},
    {"  nonStandardCodes:\n    - {scode: 403, url: /ok}\n    - scode: 301\n      url: /x\n",
     "t.yaml:4:7: error: property 'nonStandardCodes': 'scode' (line 4): a redirect needs "
     "'location'"},
    {"  nonStandardCodes:\n    - {scode: 403, url: x}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'url' (line 3): expected a path starting "
     "with '/'"},
    {"  nonStandardCodes:\n    - {scode: 403, url: '/a%zz'}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'url' (line 3): expected a path starting "
     "with '/'"},
    {"  nonStandardCodes:\n    - scode: 403\n      regex: '^/(a'\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'regex' (line 4): missing closing "
     "parenthesis at offset 4"},
    {"  nonStandardCodes:\n    - {scode: 403, regex: [a]}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'regex' (line 3): expected a string"},
    {"  nonStandardCodes:\n    - {scode: 403, url: /x, users: ['10.0.0.0/33']}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'users' (line 3): invalid prefix length in "
     "'10.0.0.0/33' (0 to 32)"},
    {"  nonStandardCodes:\n    - {scode: 403, url: /x, users: localhost}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'users' (line 3): invalid IP address "
     "'localhost'"},
    {"  nonStandardCodes:\n    - {scode: 401, url: /x, userList: [[a]]}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'userList' (line 3): expected a string or a "
     "list of strings"},
    {"  nonStandardCodes:\n    - {scode: 401, url: /x, disableBruteProtection: 'yes'}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'disableBruteProtection' (line 3): expected "
     "true or false"},
    {"  nonStandardCodes:\n    - {scode: 401, url: /x, realm: {a: b}}\n",
     "t.yaml:3:7: error: property 'nonStandardCodes': 'realm' (line 3): expected a string without "
     "control characters"},
    {"  users:\n    - {name: alice}\n",
     "t.yaml:3:7: error: property 'users': a user needs 'name' and 'pass'"},
    {"  users:\n    - {user: alice, pass: x}\n",
     "t.yaml:3:7: error: property 'users': 'user' (line 3): the key of the user name is 'name'"},
    {"  users:\n    - {name: alice, pass: x, role: admin}\n",
     "t.yaml:3:7: error: property 'users': unknown key 'role' (line 3)"},
    {"  users:\n    - {name: 'a:b', pass: x}\n",
     "t.yaml:3:7: error: property 'users': 'name' (line 3): expected a non-empty name without ':'"},
    {"  users:\n    - name: alice\n      pass: '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi'\n",
     "t.yaml:3:7: error: property 'users': 'pass' (line 4): bcrypt hashes are not supported; "
     "create an Argon2 hash with karpacz-passwd"},
    {"  users:\n    - name: alice\n      pass: '$argon2id$v=19$m=4194304,t=1,p=1$" SALT
     "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38'\n",
     "t.yaml:3:7: error: property 'users': 'pass' (line 4): Argon2 m must be 8*p to 131072 (KiB)"},
    {"  users: alice\n", "t.yaml:2:10: error: property 'users': expected a list of maps {name, "
                         "pass}"},
};

static void test_checks(void)
{
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(*check_cases); i++) {
        kz_config_t *cfg = NULL;
        kz_diag_t *diag = NULL;
        const char *text = apr_pstrcat(kz_test_pool, "global:\n", check_cases[i].yaml, NULL);
        apr_status_t rv = kz_config_load_string(&cfg, &diag, "t.yaml", text, kz_test_pool);
        const char *got = diag->errors->nelts ? APR_ARRAY_IDX(diag->errors, 0, const char *) : "";

        CU_ASSERT_EQUAL(rv, APR_EINVAL);
        if (strcmp(got, check_cases[i].error) != 0) {
            fprintf(stderr, "\n  case %zu: got  %s\n          want %s\n", i, got,
                    check_cases[i].error);
        }
        CU_ASSERT_STRING_EQUAL(got, check_cases[i].error);
    }
}

/* Properties with no nonStandardCodes compile to nothing; users alone need no stage. */
static void test_compile_empty(void)
{
    kz_config_t *cfg = NULL;
    kz_diag_t *diag = NULL;
    const char *text = apr_pstrcat(kz_test_pool, "global:\n", users_yaml, NULL);

    CU_ASSERT_EQUAL_FATAL(kz_config_load_string(&cfg, &diag, "t.yaml", text, kz_test_pool),
                          APR_SUCCESS);
    CU_ASSERT_PTR_NULL(cfg->global_conf->ncodes);
}

static const kz_test_case_t cases[] = {
    {"match", test_match},
    {"walk", test_walk},
    {"match_limit", test_match_limit},
    {"challenge", test_challenge},
    {"authorize", test_authorize},
    {"auth_step", test_auth_step},
    {"auth_need", test_auth_need},
    {"checks", test_checks},
    {"compile_empty", test_compile_empty},
    {NULL, NULL},
};

KZ_TEST_SUITE(ncodes, cases)
