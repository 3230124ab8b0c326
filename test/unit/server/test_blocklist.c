/*
 * Tests of server/blocklist.c: the property check (through a configuration load, so messages
 * carry file:line:col), the set compiled from the global list and shared by every scope, and
 * what it matches.
 */
#include "config.h"
#include "ipset.h"
#include "rewrite.h"
#include "kz_test.h"

#include <string.h>

static kz_config_t *load(const char *yaml, kz_diag_t **diag)
{
    kz_config_t *cfg = NULL;

    kz_config_load_string(&cfg, diag, "t.yaml", yaml, kz_test_pool);
    return cfg;
}

static void test_blocklist_compile(void)
{
    kz_diag_t *diag = NULL;
    kz_config_t *cfg = load("global:\n"
                            "  blocklist: [192.0.2.10, 198.51.100.0/24, '2001:db8::/32']\n"
                            "hosts:\n"
                            "  - domain: a.test\n"
                            "    locations:\n"
                            "      - path: /x\n",
                            &diag);
    static const struct {
        const char *ip;
        int in;
    } rows[] = {
        {"192.0.2.10", 1},   {"192.0.2.11", 0},    {"198.51.100.0", 1}, {"198.51.100.255", 1},
        {"198.51.101.1", 0}, {"2001:db8:1::5", 1}, {"2001:db9::1", 0},  {"127.0.0.1", 0},
    };
    const kz_vhost_t *vh;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->global_conf->blocklist);
    CU_ASSERT_EQUAL(kz_ipset_count(cfg->global_conf->blocklist), 3);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CU_ASSERT_EQUAL(kz_ipset_contains(cfg->global_conf->blocklist, rows[i].ip), rows[i].in);
    }
    /* One set per configuration, whatever the number of scopes. */
    vh = &APR_ARRAY_IDX(cfg->vhosts, 0, kz_vhost_t);
    CU_ASSERT_PTR_EQUAL(vh->conf->blocklist, cfg->global_conf->blocklist);
    CU_ASSERT_PTR_EQUAL(APR_ARRAY_IDX(vh->locations, 0, kz_location_t).conf->blocklist,
                        cfg->global_conf->blocklist);
}

static void test_blocklist_single_string(void)
{
    kz_diag_t *diag = NULL;
    kz_config_t *cfg = load("global:\n  blocklist: 203.0.113.0/25\n", &diag);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(kz_ipset_count(cfg->global_conf->blocklist), 1);
    CU_ASSERT_EQUAL(kz_ipset_contains(cfg->global_conf->blocklist, "203.0.113.127"), 1);
    CU_ASSERT_EQUAL(kz_ipset_contains(cfg->global_conf->blocklist, "203.0.113.128"), 0);
}

static void test_blocklist_none(void)
{
    kz_diag_t *diag = NULL;
    kz_config_t *cfg = load("global:\n  port: 80\n", &diag);
    kz_config_t *empty = load("global:\n  blocklist: []\n", &diag);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(empty);
    CU_ASSERT_PTR_NULL(cfg->global_conf->blocklist);
    CU_ASSERT_PTR_NULL(empty->global_conf->blocklist);
}

/* A bad entry stops the load, with the position of that entry and ipset's reason. */
static void test_blocklist_check(void)
{
    static const struct {
        const char *yaml, *prefix, *entry;
    } rows[] = {
        {"global:\n  blocklist: [192.0.2.1, 300.1.1.1]\n",
         "t.yaml:2:26: error: property 'blocklist': ", "300.1.1.1"},
        {"global:\n  blocklist: [10.0.0.0/33]\n",
         "t.yaml:2:15: error: property 'blocklist': ", "10.0.0.0/33"},
        {"global:\n  blocklist: example.com\n",
         "t.yaml:2:14: error: property 'blocklist': ", "example.com"},
        {"global:\n  blocklist: ['2001:db8::/129']\n",
         "t.yaml:2:15: error: property 'blocklist': ", "2001:db8::/129"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_diag_t *diag = NULL;
        kz_config_t *cfg = load(rows[i].yaml, &diag);
        const char *got = diag->errors->nelts ? APR_ARRAY_IDX(diag->errors, 0, const char *) : "";
        const char *reason = kz_ipset_check(rows[i].entry, kz_test_pool);

        CU_ASSERT_PTR_NULL(cfg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(reason);
        if (strncmp(got, rows[i].prefix, strlen(rows[i].prefix))) {
            fprintf(stderr, "\n  got %s\n", got);
        }
        CU_ASSERT_EQUAL(strncmp(got, rows[i].prefix, strlen(rows[i].prefix)), 0);
        CU_ASSERT_STRING_EQUAL(got + strlen(rows[i].prefix), reason);
    }
    /* Global only, as in the original. */
    {
        kz_diag_t *diag = NULL;
        CU_ASSERT_PTR_NULL(load("hosts:\n  - domain: a\n    blocklist: [1.2.3.4]\n", &diag));
        CU_ASSERT_EQUAL_FATAL(diag->errors->nelts, 1);
        CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(diag->errors, 0, const char *),
                               "t.yaml:3:5: error: property 'blocklist': only allowed in 'global'");
    }
}

static const kz_test_case_t cases[] = {
    {"compiled once, matched", test_blocklist_compile},
    {"a single string", test_blocklist_single_string},
    {"no blocklist", test_blocklist_none},
    {"bad entries refused", test_blocklist_check},
    {NULL, NULL},
};

KZ_TEST_SUITE(blocklist, cases)
