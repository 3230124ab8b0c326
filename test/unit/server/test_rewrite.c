/*
 * Tests of server/rewrite.c: rewriteMap rules compiled from YAML and applied (captures, named
 * groups, `last`, isNotFile / isNotDirectory through a fake probe, per-rule allowDoubleSlashes,
 * query handling, results refused with 400 or 414), the match limit against a catastrophically
 * backtracking pattern, the property check's messages (exact file:line:col), and the sharing of
 * compiled lists between scopes.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "config.h"
#include "rewrite.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <pcre2.h>

#include <string.h>

static kz_config_t *load(const char *yaml, kz_diag_t **diag)
{
    kz_config_t *cfg = NULL;

    kz_config_load_string(&cfg, diag, "t.yaml", yaml, kz_test_pool);
    return cfg;
}

/* The global rules of a configuration whose rewriteMap is `rules` (YAML list items). */
static const kz_rewrite_t *global_rules(const char *rules)
{
    kz_diag_t *diag = NULL;
    kz_config_t *cfg =
        load(apr_pstrcat(kz_test_pool, "global:\n  rewriteMap:\n", rules, NULL), &diag);

    if (!cfg) {
        for (int i = 0; diag && i < diag->errors->nelts; i++) {
            fprintf(stderr, "  %s\n", APR_ARRAY_IDX(diag->errors, i, const char *));
        }
        return NULL;
    }
    return cfg->global_conf->rewrite;
}

/* The fake web root: a file, a directory (with and without its slash) and the front file. */
static kz_rewrite_kind_e fake_probe(void *baton, const char *path)
{
    static const struct {
        const char *path;
        kz_rewrite_kind_e kind;
    } tree[] = {
        {"/exists.txt", KZ_RW_FILE},
        {"/index.html", KZ_RW_FILE},
        {"/dir", KZ_RW_DIR},
        {"/dir/", KZ_RW_DIR},
    };
    int *calls = baton;

    (*calls)++;
    for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++) {
        if (!strcmp(tree[i].path, path)) {
            return tree[i].kind;
        }
    }
    return KZ_RW_OTHER;
}

/* ---- applying rules -------------------------------------------------------------------- */

#define FRONT                                                                                      \
    "    - {regex: '^/(.*)', replacement: '/index.html?path=$1', isNotFile: true, "                \
    "isNotDirectory: true, last: true}\n"
#define CHAIN                                                                                      \
    "    - {regex: '^/a$', replacement: '/b'}\n"                                                   \
    "    - {regex: '^/b$', replacement: '/c'}\n"

typedef struct apply_row {
    const char *label;
    const char *rules;
    const char *path, *query;
    int rc;
    const char *out_path, *out_query; /* when rc is 0 */
    int changed;
} apply_row_t;

static const apply_row_t apply_rows[] = {
    {"capture $1", "    - {regex: '^/old/(.*)', replacement: '/new/$1'}\n", "/old/a/b", NULL, 0,
     "/new/a/b", NULL, 1},
    {"only the first match is replaced", "    - {regex: 'x', replacement: 'y'}\n", "/x/x", NULL, 0,
     "/y/x", NULL, 1},
    {"$0 is the whole match", "    - {regex: '^/[a-z]+', replacement: '/w$0'}\n", "/abc/d", NULL, 0,
     "/w/abc/d", NULL, 1},
    {"named group", "    - {regex: '^/(?<slug>[a-z]+)$', replacement: '/p?s=${slug}'}\n", "/abc",
     NULL, 0, "/p", "s=abc", 1},
    {"${N} before a digit", "    - {regex: '^/(a)(b)$', replacement: '/${2}${1}0'}\n", "/ab", NULL,
     0, "/ba0", NULL, 1},
    {"unset group is empty", "    - {regex: '^/(a)?b$', replacement: '/x$1y'}\n", "/b", NULL, 0,
     "/xy", NULL, 1},
    {"$$ and a lone $ are literal", "    - {regex: '^/c$', replacement: '/c$$d$e'}\n", "/c", NULL,
     0, "/c$d$e", NULL, 1},
    {"the query is part of the subject", "    - {regex: '^/s\\?q=(.*)$', replacement: '/f/$1'}\n",
     "/s", "q=abc", 0, "/f/abc", NULL, 1},
    {"an unmatched query is kept", "    - {regex: '^/a', replacement: '/b'}\n", "/a", "x=1", 0,
     "/b", "x=1", 1},
    {"split at the first '?'", "    - {regex: '^/p(.*)$', replacement: '/i.php?r=$1'}\n", "/p/x",
     "k=v", 0, "/i.php", "r=/x?k=v", 1},
    {"result without a leading slash", "    - {regex: '^/(.*)', replacement: '$1'}\n", "/abc", NULL,
     400, NULL, NULL, 0},
    {"empty result", "    - {regex: '^.*$', replacement: ''}\n", "/abc", NULL, 400, NULL, NULL, 0},
    {"result clamped at the root", "    - {regex: '^/up$', replacement: '/a/../../etc/passwd'}\n",
     "/up", NULL, 0, "/etc/passwd", NULL, 1},
    {"encoded NUL in the result", "    - {regex: '^/z$', replacement: '/%00'}\n", "/z", NULL, 400,
     NULL, NULL, 0},
    {"bad escape in the result", "    - {regex: '^/z$', replacement: '/%zz'}\n", "/z", NULL, 400,
     NULL, NULL, 0},
    {"the path is matched encoded", "    - {regex: '^/a%20b$', replacement: '/ok'}\n", "/a b", NULL,
     0, "/ok", NULL, 1},
    {"the result is decoded", "    - {regex: '^/e$', replacement: '/x%41'}\n", "/e", NULL, 0, "/xA",
     NULL, 1},
    {"backslash in the result is a slash", "    - {regex: '^/e$', replacement: '/a\\b'}\n", "/e",
     NULL, 0, "/a/b", NULL, 1},
    {"rules chain", CHAIN, "/a", NULL, 0, "/c", NULL, 1},
    {"last stops after a change",
     "    - {regex: '^/a$', replacement: '/b', last: true}\n"
     "    - {regex: '^/b$', replacement: '/c'}\n",
     "/a", NULL, 0, "/b", NULL, 1},
    {"last goes on when the URL did not change",
     "    - {regex: '^/(a)$', replacement: '/$1', last: true}\n"
     "    - {regex: '^/a$', replacement: '/c'}\n",
     "/a", NULL, 0, "/c", NULL, 1},
    {"last goes on when it did not match",
     "    - {regex: '^/q$', replacement: '/r', last: true}\n"
     "    - {regex: '^/a$', replacement: '/c'}\n",
     "/a", NULL, 0, "/c", NULL, 1},
    {"front controller keeps a file", FRONT, "/exists.txt", NULL, 0, "/exists.txt", NULL, 0},
    {"front controller keeps a directory", FRONT, "/dir", NULL, 0, "/dir", NULL, 0},
    {"front controller keeps a directory/", FRONT, "/dir/", "x=1", 0, "/dir/", "x=1", 0},
    {"front controller takes the rest", FRONT, "/missing/page", NULL, 0, "/index.html",
     "path=missing/page", 1},
    {"isNotFile alone rewrites a directory",
     "    - {regex: '^/.*', replacement: '/front', isNotFile: true}\n", "/dir", NULL, 0, "/front",
     NULL, 1},
    {"isNotDirectory alone rewrites a file",
     "    - {regex: '^/.*', replacement: '/front', isNotDirectory: true}\n", "/exists.txt", NULL, 0,
     "/front", NULL, 1},
    {"conditions see the rewritten path",
     "    - {regex: '^/old$', replacement: '/exists.txt'}\n"
     "    - {regex: '^/.*', replacement: '/front', isNotFile: true}\n",
     "/old", NULL, 0, "/exists.txt", NULL, 1},
    {"double slashes collapsed for the match", "    - {regex: '^/a/b$', replacement: '/ok'}\n",
     "/a//b", NULL, 0, "/ok", NULL, 1},
    {"allowDoubleSlashes rule sees them",
     "    - {regex: '^/a/b$', replacement: '/ok', allowDoubleSlashes: true}\n", "/a//b", NULL, 0,
     "/a//b", NULL, 0},
    {"double slashes of the result collapsed", "    - {regex: '^/x$', replacement: '/p//q'}\n",
     "/x", NULL, 0, "/p/q", NULL, 1},
    {"double slashes of the result kept",
     "    - {regex: '^/x$', replacement: '/p//q', allowDoubleSlashes: true}\n", "/x", NULL, 0,
     "/p//q", NULL, 1},
    {"no match changes nothing", "    - {regex: '^/zzz', replacement: '/y'}\n", "/a", "b", 0, "/a",
     "b", 0},
};

static void check_apply_row(const apply_row_t *row)
{
    const kz_rewrite_t *rw = global_rules(row->rules);
    kz_rewrite_result_t res;
    int calls = 0;
    int rc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    rc = kz_rewrite_apply(rw, row->path, row->query, fake_probe, &calls, &res, kz_test_pool);
    if (rc != row->rc) {
        fprintf(stderr, "\n  %s: rc %d, expected %d\n", row->label, rc, row->rc);
    }
    CU_ASSERT_EQUAL(rc, row->rc);
    if (rc != 0 || row->rc != 0) {
        return;
    }
    if (strcmp(res.path, row->out_path) ||
        (res.query ? !row->out_query || strcmp(res.query, row->out_query) : !!row->out_query)) {
        fprintf(stderr, "\n  %s: got %s ? %s\n", row->label, res.path,
                res.query ? res.query : "(none)");
    }
    CU_ASSERT_STRING_EQUAL(res.path, row->out_path);
    if (row->out_query) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(res.query);
        CU_ASSERT_STRING_EQUAL(res.query, row->out_query);
    } else {
        CU_ASSERT_PTR_NULL(res.query);
    }
    CU_ASSERT_EQUAL(res.changed, row->changed);
}

static void test_rewrite_apply(void)
{
    for (size_t i = 0; i < sizeof(apply_rows) / sizeof(apply_rows[0]); i++) {
        check_apply_row(&apply_rows[i]);
    }
}

/* from/to are what enableRewriteLogging writes: encoded paths with their queries. */
static void test_rewrite_log_urls(void)
{
    const kz_rewrite_t *rw = global_rules(FRONT);
    kz_rewrite_result_t res;
    int calls = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, "/a b", "q=1", fake_probe, &calls, &res, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(res.from, "/a%20b?q=1");
    CU_ASSERT_STRING_EQUAL(res.to, "/index.html?path=a%20b?q=1");
    CU_ASSERT_EQUAL(calls, 1);
    CU_ASSERT_EQUAL(res.failed_rule, -1);
}

/* Without a probe (NULL), isNotFile / isNotDirectory are not checked and the rule applies. */
static void test_rewrite_no_probe(void)
{
    const kz_rewrite_t *rw = global_rules(FRONT);
    kz_rewrite_result_t res;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, "/exists.txt", NULL, NULL, NULL, &res, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(res.path, "/index.html");
    CU_ASSERT_STRING_EQUAL(res.query, "path=exists.txt");
}

/* A rule without conditions never asks the probe (no file-system access per request). */
static void test_rewrite_probe_only_when_needed(void)
{
    const kz_rewrite_t *rw = global_rules(CHAIN);
    kz_rewrite_result_t res;
    int calls = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, "/a", NULL, fake_probe, &calls, &res, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(res.path, "/c");
    CU_ASSERT_EQUAL(calls, 0);
}

/* A rule with conditions asks the probe only when its regex matched (not for every request). */
static void test_rewrite_probe_only_on_match(void)
{
    const kz_rewrite_t *rw =
        global_rules("    - {regex: '^/blog/.*', replacement: '/b.php', isNotFile: true}\n");
    kz_rewrite_result_t res;
    int calls = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, "/shop/x", NULL, fake_probe, &calls, &res, kz_test_pool),
                    0);
    CU_ASSERT_EQUAL(res.changed, 0);
    CU_ASSERT_EQUAL(calls, 0);
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, "/blog/x", NULL, fake_probe, &calls, &res, kz_test_pool),
                    0);
    CU_ASSERT_STRING_EQUAL(res.path, "/b.php");
    CU_ASSERT_EQUAL(calls, 1);
}

/* Regression: (a+)+$ on "aaaa…!" backtracks 2^n times; the match limit makes it a quick 500. */
static void test_rewrite_match_limit(void)
{
    const kz_rewrite_t *rw = global_rules("    - {regex: '^/(a+)+$', replacement: '/x'}\n"
                                          "    - {regex: '^/(.*)$', replacement: '/y/$1'}\n");
    char path[64];
    kz_rewrite_result_t res;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[sizeof(path) - 2] = '!';
    path[sizeof(path) - 1] = '\0';
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, path, NULL, NULL, NULL, &res, kz_test_pool), 500);
    CU_ASSERT_EQUAL(res.failed_rule, 0);
    CU_ASSERT_EQUAL(res.match_error, PCRE2_ERROR_MATCHLIMIT);
    CU_ASSERT_STRING_EQUAL(kz_rewrite_regex(rw, 0), "^/(a+)+$");
    /* The same rule on a path it matches is fine. */
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, "/aaaa", NULL, NULL, NULL, &res, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(res.path, "/y/x");
}

/* The limit leaves room for ordinary rules on long paths. */
static void test_rewrite_long_path(void)
{
    const kz_rewrite_t *rw =
        global_rules("    - {regex: '^/([^/]+)/(.*)\\.php$', replacement: '/$2.html?s=$1'}\n");
    char *path = apr_palloc(kz_test_pool, 8200);
    kz_rewrite_result_t res;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    memset(path, 'b', 8200);
    memcpy(path, "/sec/", 5);
    strcpy(path + 8200 - 5, ".php");
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, path, NULL, NULL, NULL, &res, kz_test_pool), 0);
    CU_ASSERT_EQUAL(strlen(res.path), 8200 - 5 - 4 + 5);
    CU_ASSERT_STRING_EQUAL(res.query, "s=sec");
}

/* Regression: a nested repeat over a 4000-byte path overflows JIT's default stack; the match
 * goes on in the interpreter instead of failing with a 500. */
static void test_rewrite_jit_stack(void)
{
    const kz_rewrite_t *rw = global_rules("    - {regex: '^/((a|b)*)$', replacement: '/x'}\n");
    char *path = apr_palloc(kz_test_pool, 4001);
    kz_rewrite_result_t res;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    memset(path, 'a', 4000);
    path[0] = '/';
    path[4000] = '\0';
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, path, NULL, NULL, NULL, &res, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(res.path, "/x");
    CU_ASSERT_EQUAL(res.failed_rule, -1);
}

/* A replacement that repeats the match cannot build an unbounded URL. */
static void test_rewrite_too_long(void)
{
    const char *many = "";
    const kz_rewrite_t *rw;
    char *path = apr_palloc(kz_test_pool, 1102);
    kz_rewrite_result_t res;

    for (int i = 0; i < 64; i++) {
        many = apr_pstrcat(kz_test_pool, many, "$0", NULL);
    }
    rw = global_rules(
        apr_psprintf(kz_test_pool, "    - {regex: '^.*$', replacement: '%s'}\n", many));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
    memset(path, 'a', 1101);
    path[0] = '/';
    path[1101] = '\0';
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, path, NULL, NULL, NULL, &res, kz_test_pool), 414);
    path[1000] = '\0'; /* 64 × 1000 bytes fit */
    CU_ASSERT_EQUAL(kz_rewrite_apply(rw, path, NULL, NULL, NULL, &res, kz_test_pool), 0);
    CU_ASSERT_EQUAL(strlen(res.path), 64000);
}

/* ---- compiling and scopes -------------------------------------------------------------- */

static void test_rewrite_compile_scopes(void)
{
    kz_diag_t *diag = NULL;
    kz_config_t *cfg = load("global:\n"
                            "  rewriteMap:\n"
                            "    - {regex: '^/g$', replacement: '/G'}\n"
                            "hosts:\n"
                            "  - domain: plain.test\n"
                            "  - domain: own.test\n"
                            "    rewriteMap:\n"
                            "      - {regex: '^/h$', replacement: '/H'}\n"
                            "    locations:\n"
                            "      - path: /loc\n"
                            "        rewriteMap:\n"
                            "          - {regex: '^/l$', replacement: '/L'}\n",
                            &diag);
    const kz_vhost_t *plain, *own;
    const kz_rewrite_t *loc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    plain = &APR_ARRAY_IDX(cfg->vhosts, 0, kz_vhost_t);
    own = &APR_ARRAY_IDX(cfg->vhosts, 1, kz_vhost_t);
    CU_ASSERT_EQUAL(kz_rewrite_count(cfg->global_conf->rewrite), 1);
    /* A host that adds nothing shares the global list, compiled once. */
    CU_ASSERT_PTR_EQUAL(plain->conf->rewrite, cfg->global_conf->rewrite);
    CU_ASSERT_EQUAL(kz_rewrite_count(own->conf->rewrite), 2);
    CU_ASSERT_STRING_EQUAL(kz_rewrite_regex(own->conf->rewrite, 0), "^/g$");
    CU_ASSERT_STRING_EQUAL(kz_rewrite_regex(own->conf->rewrite, 1), "^/h$");
    CU_ASSERT_PTR_NULL(kz_rewrite_regex(own->conf->rewrite, 2));
    loc = APR_ARRAY_IDX(own->locations, 0, kz_location_t).conf->rewrite;
    CU_ASSERT_EQUAL(kz_rewrite_count(loc), 3);
    CU_ASSERT_STRING_EQUAL(kz_rewrite_regex(loc, 2), "^/l$");
}

static void test_rewrite_compile_none(void)
{
    kz_diag_t *diag = NULL;
    kz_config_t *cfg = load("global:\n  port: 80\n", &diag);
    kz_config_t *empty = load("global:\n  rewriteMap: []\n", &diag);
    kz_rewrite_result_t res;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(empty);
    CU_ASSERT_PTR_NULL(cfg->global_conf->rewrite);
    CU_ASSERT_PTR_NULL(empty->global_conf->rewrite);
    CU_ASSERT_EQUAL(kz_rewrite_count(NULL), 0);
    CU_ASSERT_EQUAL(kz_rewrite_apply(NULL, "/a", "b", NULL, NULL, &res, kz_test_pool), 0);
    CU_ASSERT_EQUAL(res.changed, 0);
    CU_ASSERT_STRING_EQUAL(res.to, "/a?b");
}

/* ---- the property check ---------------------------------------------------------------- */

typedef struct check_row {
    const char *label;
    const char *yaml;
    const char *error; /* the one error, exactly; NULL: the configuration loads */
} check_row_t;

static const check_row_t check_rows[] = {
    {"valid rules",
     "global:\n  rewriteMap:\n    - regex: '^/(?<n>x)(y)'\n      replacement: '/${n}$2$0$$'\n"
     "      isNotFile: true\n      isNotDirectory: false\n      allowDoubleSlashes: true\n"
     "      last: true\n",
     NULL},
    {"bad regex", "global:\n  rewriteMap:\n    - {regex: '(', replacement: '/x'}\n",
     "t.yaml:3:7: error: property 'rewriteMap': invalid regex '(': missing closing parenthesis "
     "at offset 1"},
    {"the failing rule is pointed at",
     "global:\n  rewriteMap:\n    - {regex: '^/a', replacement: '/b'}\n"
     "    - {regex: '[z-a]', replacement: '/x'}\n",
     "t.yaml:4:7: error: property 'rewriteMap': invalid regex '[z-a]': range out of order in "
     "character class at offset 3"},
    {"unknown key", "global:\n  rewriteMap:\n    - {regex: a, replacement: /b, flags: i}\n",
     "t.yaml:3:7: error: property 'rewriteMap': unknown key 'flags' in a rewrite rule (expected "
     "regex, replacement, isNotFile, isNotDirectory, allowDoubleSlashes, last)"},
    {"no replacement", "global:\n  rewriteMap:\n    - {regex: a}\n",
     "t.yaml:3:7: error: property 'rewriteMap': a rewrite rule needs 'replacement'"},
    {"no regex", "global:\n  rewriteMap:\n    - {replacement: /b}\n",
     "t.yaml:3:7: error: property 'rewriteMap': a rewrite rule needs 'regex'"},
    {"flag not a boolean", "global:\n  rewriteMap:\n    - {regex: a, replacement: /b, last: yes}\n",
     "t.yaml:3:7: error: property 'rewriteMap': 'last' of a rewrite rule must be true or false"},
    {"regex not a string", "global:\n  rewriteMap:\n    - {regex: [a], replacement: /b}\n",
     "t.yaml:3:7: error: property 'rewriteMap': 'regex' of a rewrite rule must be a string"},
    {"group beyond the regex", "global:\n  rewriteMap:\n    - {regex: '(a)', replacement: '/$2'}\n",
     "t.yaml:3:7: error: property 'rewriteMap': the replacement refers to group 2; the regex has "
     "1"},
    {"unknown group name",
     "global:\n  rewriteMap:\n    - {regex: '(?<a>x)', replacement: '/${b}'}\n",
     "t.yaml:3:7: error: property 'rewriteMap': the replacement names group 'b', which the regex "
     "lacks"},
    {"unclosed reference", "global:\n  rewriteMap:\n    - {regex: '(a)', replacement: '/${1'}\n",
     "t.yaml:3:7: error: property 'rewriteMap': the replacement has an unclosed or empty ${}"},
    {"entry not a map", "global:\n  rewriteMap:\n    - '^/a'\n",
     "t.yaml:3:7: error: property 'rewriteMap': expected a list of maps"},
    {"not a list", "global:\n  rewriteMap: {regex: a, replacement: /b}\n",
     "t.yaml:2:15: error: property 'rewriteMap': expected a list of maps"},
    {"in a host",
     "hosts:\n  - domain: a.test\n    rewriteMap:\n      - {regex: '*', replacement: /b}\n",
     "t.yaml:4:9: error: property 'rewriteMap': invalid regex '*': quantifier does not follow a "
     "repeatable item at offset 0"},
};

static void test_rewrite_check(void)
{
    for (size_t i = 0; i < sizeof(check_rows) / sizeof(check_rows[0]); i++) {
        const check_row_t *row = &check_rows[i];
        kz_diag_t *diag = NULL;
        kz_config_t *cfg = load(row->yaml, &diag);
        const char *got = diag->errors->nelts ? APR_ARRAY_IDX(diag->errors, 0, const char *) : NULL;

        if (row->error ? !got || strcmp(got, row->error) : got != NULL) {
            fprintf(stderr, "\n  %s: got %s\n", row->label, got ? got : "(no error)");
        }
        if (row->error) {
            CU_ASSERT_PTR_NULL(cfg);
            CU_ASSERT_EQUAL(diag->errors->nelts, 1);
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            CU_ASSERT_STRING_EQUAL(got, row->error);
        } else {
            CU_ASSERT_PTR_NOT_NULL(cfg);
            CU_ASSERT_EQUAL(diag->errors->nelts, 0);
            CU_ASSERT_EQUAL(diag->warnings->nelts, 0);
        }
    }
}

static const kz_test_case_t cases[] = {
    {"apply rules", test_rewrite_apply},
    {"from and to for the log", test_rewrite_log_urls},
    {"no probe: conditions not checked", test_rewrite_no_probe},
    {"probe only for conditions", test_rewrite_probe_only_when_needed},
    {"probe only after a match", test_rewrite_probe_only_on_match},
    {"match limit stops backtracking", test_rewrite_match_limit},
    {"long paths within the limit", test_rewrite_long_path},
    {"JIT stack overflow falls back", test_rewrite_jit_stack},
    {"result too long: 414", test_rewrite_too_long},
    {"compiled per scope, shared", test_rewrite_compile_scopes},
    {"no rules", test_rewrite_compile_none},
    {"property check messages", test_rewrite_check},
    {NULL, NULL},
};

KZ_TEST_SUITE(rewrite, cases)
