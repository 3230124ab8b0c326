/*
 * Tests of server/static_conf.c: the static-file settings compiled per scope (defaults from the
 * property registry, a host overriding the global block, extraMimeTypes normalised) and the
 * checks of defaultCharset and extraMimeTypes, through the configuration loader.
 */
#include "config.h"
#include "kz_test.h"
#include "static.h"

#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

static kz_config_t *load(const char *yaml, kz_diag_t **diag)
{
    kz_config_t *cfg = NULL;

    kz_config_load_string(&cfg, diag, "static.yaml", yaml, kz_test_pool);
    return cfg;
}

static void test_defaults(void)
{
    kz_diag_t *diag;
    kz_config_t *cfg = load("global:\n  port: 8080\n", &diag);
    const struct kz_static_conf *sc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    sc = cfg->global_conf->statics;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_EQUAL(sc->etag, 1);
    CU_ASSERT_EQUAL(sc->compression, 1);
    CU_ASSERT_EQUAL(sc->precompressed, 1);
    CU_ASSERT_EQUAL(sc->slash_redirects, 1);
    CU_ASSERT_EQUAL(sc->max_ranges, 16);
    CU_ASSERT_EQUAL(sc->compress_min, 256);
    CU_ASSERT_EQUAL(sc->cache_bytes, 16777216);
    CU_ASSERT_STRING_EQUAL(sc->charset, "; charset=utf-8");
    CU_ASSERT_EQUAL(sc->charset_len, strlen("; charset=utf-8"));
    CU_ASSERT_PTR_NULL(sc->mime);
}

static void test_scopes(void)
{
    static const char yaml[] = "global:\n"
                               "  enableETag: false\n"
                               "  compressionCacheSize: 1000\n"
                               "  extraMimeTypes:\n"
                               "    md: text/markdown\n"
                               "    .WebManifest: application/manifest+json\n"
                               "hosts:\n"
                               "  - domain: a.test\n"
                               "    enableETag: true\n"
                               "    enableCompression: false\n"
                               "    disableTrailingSlashRedirects: true\n"
                               "    defaultCharset: \"\"\n"
                               "    maximumRanges: 3\n"
                               "    extraMimeTypes:\n"
                               "      md: text/x-markdown\n";
    kz_diag_t *diag;
    kz_config_t *cfg = load(yaml, &diag);
    const struct kz_static_conf *g, *h;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(diag->errors->nelts, 0);
    g = cfg->global_conf->statics;
    h = APR_ARRAY_IDX(cfg->vhosts, 0, kz_vhost_t).conf->statics;
    CU_ASSERT_EQUAL(g->etag, 0);
    CU_ASSERT_EQUAL(g->cache_bytes, 1000);
    CU_ASSERT_STRING_EQUAL(apr_hash_get(g->mime, "md", 2), "text/markdown");
    CU_ASSERT_STRING_EQUAL(apr_hash_get(g->mime, "webmanifest", 11), "application/manifest+json");
    CU_ASSERT_EQUAL(h->etag, 1);
    CU_ASSERT_EQUAL(h->compression, 0);
    CU_ASSERT_EQUAL(h->slash_redirects, 0);
    CU_ASSERT_PTR_NULL(h->charset);
    CU_ASSERT_EQUAL(h->max_ranges, 3);
    CU_ASSERT_EQUAL(h->cache_bytes, 1000); /* global only, seen by every scope */
    /* Maps merge key by key: the host's md wins, the global entry stays. */
    CU_ASSERT_STRING_EQUAL(apr_hash_get(h->mime, "md", 2), "text/x-markdown");
    CU_ASSERT_STRING_EQUAL(apr_hash_get(h->mime, "webmanifest", 11), "application/manifest+json");
}

static void test_checks(void)
{
    static const struct {
        const char *yaml;
        const char *error; /* a part of the message, or NULL when valid */
    } rows[] = {
        {"global:\n  defaultCharset: iso-8859-1\n", NULL},
        {"global:\n  defaultCharset: \"\"\n", NULL},
        {"global:\n  defaultCharset: \"utf 8\"\n", "property 'defaultCharset'"},
        {"global:\n  defaultCharset: \"utf-8; x=1\"\n", "property 'defaultCharset'"},
        /* tchar is ASCII whatever the locale says of other bytes (RFC 9110 §5.6.2) */
        {"global:\n  defaultCharset: \"utf\xc3\xa9\"\n", "property 'defaultCharset'"},
        {"global:\n  extraMimeTypes:\n    md: \"t\xc3\xa9xt/plain\"\n", "is not a media type"},
        {"global:\n  extraMimeTypes:\n    md: \"text/markdown; charset=utf-8\"\n", NULL},
        {"global:\n  extraMimeTypes:\n    md: markdown\n", "is not a media type"},
        {"global:\n  extraMimeTypes:\n    md: \"text/\"\n", "is not a media type"},
        {"global:\n  extraMimeTypes:\n    md: \"text/plain x\"\n", "other than parameters"},
        {"global:\n  extraMimeTypes:\n    \"a/b\": text/plain\n", "key 'a/b'"},
        {"global:\n  extraMimeTypes:\n    \"tar.gz\": application/gzip\n", "key 'tar.gz'"},
        {"global:\n  extraMimeTypes:\n    \".\": text/plain\n", "key '.'"},
        {"global:\n  extraMimeTypes: text/plain\n", "property 'extraMimeTypes'"},
        {"global:\n  maximumRanges: 0\n", "property 'maximumRanges'"},
        {"global:\n  maximumRanges: 1001\n", "property 'maximumRanges'"},
        {"global:\n  compressionMinimumSize: -1\n", "property 'compressionMinimumSize'"},
        {"hosts:\n  - domain: a\n    compressionCacheSize: 5\n",
         "'compressionCacheSize': only allowed in 'global'"},
        {"global:\n  enablePrecompressedFiles: 1\n", "property 'enablePrecompressedFiles'"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_diag_t *diag;
        kz_config_t *cfg = load(rows[i].yaml, &diag);
        const char *first = diag->errors->nelts ? APR_ARRAY_IDX(diag->errors, 0, const char *) : "";

        if (rows[i].error == NULL) {
            CU_ASSERT_PTR_NOT_NULL(cfg);
            CU_ASSERT_EQUAL(diag->errors->nelts, 0);
        } else {
            if (!strstr(first, rows[i].error)) {
                fprintf(stderr, "\n  row %zu: \"%s\" lacks \"%s\"\n", i, first, rows[i].error);
            }
            CU_ASSERT_PTR_NULL(cfg);
            CU_ASSERT_PTR_NOT_NULL(strstr(first, rows[i].error));
        }
    }
}

static const kz_test_case_t cases[] = {
    {"defaults", test_defaults},
    {"global and host", test_scopes},
    {"checks", test_checks},
    {NULL, NULL},
};

KZ_TEST_SUITE(static_conf, cases)
