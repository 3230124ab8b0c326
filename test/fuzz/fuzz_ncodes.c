/*
 * libFuzzer target for nonStandardCodes (server/ncodes.c) with a fixed configuration: HTTP
 * Basic credentials (RFC 7617) through kz_ncodes_authorize(), against users whose hashes are
 * cheap (Argon2id m=8 t=1, PBKDF2 i=1), and the entry walk (regex captures expanded into
 * Location) through kz_ncodes_next() on a path sanitized as the server does. The first input
 * byte picks the 401 entry, the client address and whether there is a query; the rest holds,
 * separated by newlines, the Authorization value, the raw path and the query.
 * Build and run with test/fuzz/run.sh.
 */
#include "config.h"
#include "ncodes.h"
#include "url.h"

#include "fuzz_common.h"

#include <apr_strings.h>
#include <argon2.h>

static const char *const clients[] = {"127.0.0.1", "10.1.2.3", "2001:db8::5", "::ffff:10.9.9.9"};

static const char codes_yaml[] =
    "  nonStandardCodes:\n"
    "    - {scode: 401, url: /admin, userList: [alice]}\n"
    "    - {scode: 401, regex: '^/p(/|$)', realm: 'Say \"hi\"'}\n"
    "    - {scode: 302, regex: '^/blog/(\\d+)/(?<slug>.*)$', location: "
    "'/x/${slug}?id=$1&z=$2$$$9'}\n"
    "    - {scode: 301, url: /old, location: /new}\n"
    "    - {scode: 418, regex: 'x', users: ['10.0.0.0/8', '2001:db8::/32']}\n"
    "    - {scode: 307, regex: '^/q\\?(.*)$', location: '/r/$1'}\n"
    "    - {scode: 400, regex: '^/(a+)+$'}\n";

/* The compiled entries; the users are alice (Argon2id m=8 t=1, password "secret") and bob
 * (PBKDF2, i=1, never matching). */
static const kz_ncodes_t *load(apr_pool_t *p)
{
    static const unsigned char salt[8] = "saltsalt";
    char phc[128];
    kz_config_t *cfg = NULL;
    kz_diag_t *diag = NULL;
    const char *text;

    KZ_FUZZ_ASSERT(argon2id_hash_encoded(1, 8, 1, "secret", 6, salt, sizeof(salt), 16, phc,
                                         sizeof(phc)) == ARGON2_OK);
    text = apr_pstrcat(p, "global:\n  users:\n    - {name: alice, pass: '", phc,
                       "'}\n    - {name: bob, pass: '$pbkdf2-sha256$i=1,l=16$c2FsdHNhbHQ$"
                       "AAAAAAAAAAAAAAAAAAAAAA'}\n",
                       codes_yaml, NULL);
    if (kz_config_load_string(&cfg, &diag, "fuzz.yaml", text, p) != APR_SUCCESS) {
        for (int i = 0; i < diag->errors->nelts; i++) {
            fprintf(stderr, "%s\n", APR_ARRAY_IDX(diag->errors, i, const char *));
        }
        abort();
    }
    return cfg->global_conf->ncodes;
}

static void walk(const kz_ncodes_t *nc, const char *ip, const char *path, const char *query,
                 apr_pool_t *p)
{
    kz_ncodes_match_t m;
    int rc, steps = 0;

    memset(&m, 0, sizeof(m));
    m.client_ip = ip;
    m.path = path;
    m.query = query;
    while ((rc = kz_ncodes_next(&m, nc, p)) == 1) {
        KZ_FUZZ_ASSERT(m.scode >= 200 && m.scode <= 599 && ++steps <= 7);
        KZ_FUZZ_ASSERT(m.scode != 401 || m.challenge);
        KZ_FUZZ_ASSERT(m.scode / 100 != 3 || m.location);
    }
    KZ_FUZZ_ASSERT(rc == 0 || rc == -1);
}

static const kz_ncodes_t *nc;

/* Loads the fixed configuration once, before libFuzzer starts counting allocations. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *keep;

    kz_fuzz_pool(); /* initializes APR */
    apr_pool_create(&keep, NULL);
    nc = load(keep);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = kz_fuzz_pool();
    char *parts[3];
    const char *user, *path;
    kz_auth_e rc;

    if (size < 1) {
        return 0;
    }
    kz_fuzz_split(parts, 3, data + 1, size - 1);
    rc = kz_ncodes_authorize(&user, nc, data[0] & 1, parts[0], pool);
    KZ_FUZZ_ASSERT(rc == KZ_AUTH_NONE || rc == KZ_AUTH_FAILED || rc == KZ_AUTH_OK);
    KZ_FUZZ_ASSERT((rc == KZ_AUTH_NONE) == (user == NULL));
    if (rc == KZ_AUTH_OK) {
        KZ_FUZZ_ASSERT(!strcmp(user, "alice"));
    }
    if (parts[1][0] == '/' &&
        kz_url_sanitize(&path, parts[1], strlen(parts[1]), data[0] >> 4 & 1, pool) == 0) {
        walk(nc, clients[data[0] >> 1 & 3], path, data[0] & 8 ? parts[2] : NULL, pool);
    }
    for (int i = 0; i < 3; i++) {
        free(parts[i]);
    }
    apr_pool_clear(pool);
    return 0;
}
