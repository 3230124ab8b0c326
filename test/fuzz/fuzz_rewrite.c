/*
 * libFuzzer target for rewriteMap (server/rewrite.c) and wwwredirect (server/redirect.c): a
 * fixed rule list compiled from YAML by kz_config_load_string() is applied to a request path
 * (sanitized first, as the server does) and query, with a probe that finds no file or
 * directory; and kz_www_location() gets a Host value and a request target. The first input
 * byte sets allowDoubleSlashes for the first sanitizing (bit 0) and whether there is a query
 * (bit 1); the rest holds, separated by newlines, the path, the query and the Host value.
 * Besides sanitizer reports, it checks that a rewritten path is still sanitized (no dot
 * segment, backslash or control byte) and that the Location keeps the host as its authority.
 * Build and run with test/fuzz/run.sh.
 */
#include "config.h"
#include "rewrite.h"
#include "url.h"

#include "fuzz_common.h"

#include <apr_strings.h>
#include <strings.h>

static const char rules_yaml[] =
    "global:\n"
    "  rewriteMap:\n"
    "    - {regex: '^/old/(.*)', replacement: '/new/$1'}\n"
    "    - {regex: '^/(?<slug>[a-z]+)/(\\d+)$', replacement: '/p?s=${slug}&n=${2}$$$'}\n"
    "    - {regex: '^/s\\?q=(.*)$', replacement: '/f/$1'}\n"
    "    - {regex: '^/up/(.*)', replacement: '/a/../../$1/..', allowDoubleSlashes: true}\n"
    "    - {regex: '%([0-9A-F]{2})', replacement: '/%$1'}\n"
    "    - {regex: '^/(a+)+b$', replacement: '/never'}\n"
    "    - {regex: '^/front(.*)', replacement: '/index.html?path=$1$0', isNotFile: true, "
    "isNotDirectory: true, last: true}\n"
    "    - {regex: '^/z/(.*)', replacement: '$1'}\n";

static kz_rewrite_kind_e probe(void *baton, const char *path)
{
    KZ_FUZZ_ASSERT(path[0] == '/');
    return KZ_RW_OTHER;
}

static const kz_rewrite_t *load(apr_pool_t *p)
{
    kz_config_t *cfg = NULL;
    kz_diag_t *diag = NULL;

    if (kz_config_load_string(&cfg, &diag, "fuzz.yaml", rules_yaml, p) != APR_SUCCESS) {
        for (int i = 0; i < diag->errors->nelts; i++) {
            fprintf(stderr, "%s\n", APR_ARRAY_IDX(diag->errors, i, const char *));
        }
        abort();
    }
    return cfg->global_conf->rewrite;
}

/* A decoded, sanitized path: absolute, no "." or ".." segment, no backslash or control byte. */
static void check_path(const char *path)
{
    KZ_FUZZ_ASSERT(path[0] == '/');
    for (const char *s = path; *s; s++) {
        KZ_FUZZ_ASSERT(*s != '\\' && (unsigned char)*s >= 0x20 && *s != 0x7f);
        if (*s == '/') {
            size_t n = strcspn(s + 1, "/");

            KZ_FUZZ_ASSERT(!(n == 1 && s[1] == '.') && !(n == 2 && !strncmp(s + 1, "..", 2)));
        }
    }
}

static void check_location(const char *host, const char *target, apr_pool_t *p)
{
    const char *loc = kz_www_location(host, target, p);
    size_t hlen = strlen(host);

    if (!loc) {
        return;
    }
    KZ_FUZZ_ASSERT(!strncmp(loc, "http://www.", 11) && !strncasecmp(loc + 11, host, hlen));
    KZ_FUZZ_ASSERT(loc[11 + hlen] == '/');
    KZ_FUZZ_ASSERT(!strpbrk(host, "@/?#\r\n"));
}

static const kz_rewrite_t *rw;

/* Loads the fixed configuration once, before libFuzzer starts counting allocations. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *keep;

    kz_fuzz_pool(); /* initializes APR */
    apr_pool_create(&keep, NULL);
    rw = load(keep);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = kz_fuzz_pool();
    kz_rewrite_result_t res;
    const char *path;
    char *parts[3];
    int rc;

    if (size < 1) {
        return 0;
    }
    kz_fuzz_split(parts, 3, data + 1, size - 1);
    if (parts[0][0] == '/' &&
        kz_url_sanitize(&path, parts[0], strlen(parts[0]), data[0] & 1, pool) == 0) {
        memset(&res, 0, sizeof(res));
        rc = kz_rewrite_apply(rw, path, data[0] & 2 ? parts[1] : NULL, probe, NULL, &res, pool);
        KZ_FUZZ_ASSERT(rc == 0 || rc == 400 || rc == 414 || rc == 500);
        if (rc == 0) {
            check_path(res.path);
            KZ_FUZZ_ASSERT(res.from && res.to);
        }
    }
    check_location(parts[2], parts[0], pool);
    for (int i = 0; i < 3; i++) {
        free(parts[i]);
    }
    apr_pool_clear(pool);
    return 0;
}
