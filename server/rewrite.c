/*
 * rewriteMap (karpacz-behaviour.md §4 "Rewrite"): internal URL rewriting with PCRE2. Rules are
 * checked when the configuration loads and compiled once per scope (JIT where available); a
 * match limit stops a pattern that backtracks catastrophically on a hostile path. Each rule
 * replaces the first match in the URL (encoded path plus "?query") with its replacement, whose
 * $N, ${N} and ${name} references name capture groups; the new path is sanitized again and the
 * request's location chosen for it. enableRewriteLogging writes each rewrite to the error log.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rewrite.h"
#include "core.h"
#include "stages.h"
#include "url.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <pcre2.h>
#include <string.h>

/** A piece of a replacement: literal bytes, or (group >= 0) the text of a capture group. */
typedef struct rw_part {
    const char *text;
    apr_size_t len;
    int group;
} rw_part_t;

typedef struct rw_rule {
    pcre2_code *code;
    const char *regex;
    const rw_part_t *parts;
    int nparts;
    int is_not_file, is_not_dir, allow_double_slashes, last;
} rw_rule_t;

struct kz_rewrite {
    rw_rule_t *rules;
    int nrules;
    pcre2_match_context *mctx; /**< the match limits */
    uint32_t max_pairs;        /**< ovector pairs the largest rule needs */
};

/* The keys of a rule, in the order of entry_keys (check_keys fills found[] by these). */
enum { K_REGEX, K_REPLACEMENT, K_NOT_FILE, K_NOT_DIR, K_DOUBLE_SLASHES, K_LAST, KZ_NKEYS };

static const char *const entry_keys[KZ_NKEYS] = {
    "regex", "replacement", "isNotFile", "isNotDirectory", "allowDoubleSlashes", "last",
};

/* Interpreter limits besides the match limit: recursion depth and backtracking memory (KiB). */
#define KZ_REWRITE_DEPTH_LIMIT 10000
#define KZ_REWRITE_HEAP_LIMIT  4096

/* ---- regular expressions and replacements ---------------------------------------------- */

static pcre2_code *regex_compile(const char *regex, const char **err, apr_pool_t *p)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &code, &offset, NULL);

    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        *err = apr_psprintf(p, "invalid regex '%s': %s at offset %" APR_SIZE_T_FMT, regex,
                            (const char *)msg, (apr_size_t)offset);
    }
    return re;
}

/* The group a "${...}" names: a number or a group name. Returns -1 with *err set when unknown. */
static int group_by_name(const pcre2_code *code, const char *name, const char **err, apr_pool_t *p)
{
    const char *d = name;
    int n = 0;

    while (apr_isdigit(*d) && n < 100000) {
        n = n * 10 + (*d++ - '0');
    }
    if (d == name || *d) {
        n = pcre2_substring_number_from_name(code, (PCRE2_SPTR)name);
        if (n < 0) {
            *err = apr_psprintf(p, "the replacement names group '%s', which the regex lacks", name);
            return -1;
        }
    }
    return n;
}

/*
 * Reads the reference at s (which starts with '$') and sets *end past it. Returns the group
 * number; -1 when s is a literal '$' ("$$", or '$' before anything but a digit or '{'); -2
 * with *err set for a bad reference.
 */
static int parse_ref(const pcre2_code *code, const char *s, const char **end, const char **err,
                     apr_pool_t *p)
{
    uint32_t ngroups = 0;
    int n;

    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ngroups);
    if (apr_isdigit(s[1])) {
        n = s[1] - '0';
        *end = s + 2;
    } else if (s[1] == '{') {
        const char *close = strchr(s + 2, '}');
        if (!close || close == s + 2) {
            *err = "the replacement has an unclosed or empty ${}";
            return -2;
        }
        if ((n = group_by_name(code, apr_pstrmemdup(p, s + 2, close - s - 2), err, p)) < 0) {
            return -2;
        }
        *end = close + 1;
    } else {
        *end = s + (s[1] == '$' ? 2 : 1);
        return -1;
    }
    if ((uint32_t)n > ngroups) {
        *err = apr_psprintf(p, "the replacement refers to group %d; the regex has %u", n,
                            (unsigned)ngroups);
        return -2;
    }
    return n;
}

static void push_literal(apr_array_header_t *parts, const char *text, apr_size_t len)
{
    if (len > 0) {
        APR_ARRAY_PUSH(parts, rw_part_t) = (rw_part_t){text, len, -1};
    }
}

/* Splits a replacement into literal parts and group references; NULL or an error message. */
static const char *parse_replacement(apr_array_header_t *parts, const pcre2_code *code,
                                     const char *s, apr_pool_t *p)
{
    const char *lit = s;
    const char *err = NULL;

    while ((s = strchr(s, '$')) != NULL) {
        const char *end;
        int group = parse_ref(code, s, &end, &err, p);

        if (group == -2) {
            return err;
        }
        push_literal(parts, lit, (apr_size_t)(s - lit));
        if (group >= 0) {
            APR_ARRAY_PUSH(parts, rw_part_t) = (rw_part_t){NULL, 0, group};
        } else {
            push_literal(parts, "$", 1);
        }
        lit = s = end;
    }
    push_literal(parts, lit, strlen(lit));
    return NULL;
}

/* ---- the property check ----------------------------------------------------------------- */

static int key_index(const char *key)
{
    for (int i = 0; i < KZ_NKEYS; i++) {
        if (!strcmp(key, entry_keys[i])) {
            return i;
        }
    }
    return -1;
}

/* The keys of one entry: known, with the right types; regex and replacement present. */
static const char *check_keys(const kz_value_t *entry, const kz_value_t **found, apr_pool_t *p)
{
    for (int i = 0; i < entry->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(entry->items, i, kz_pair_t);
        int k = key_index(pair->key);

        if (k < 0) {
            return apr_psprintf(p,
                                "unknown key '%s' in a rewrite rule (expected regex, "
                                "replacement, isNotFile, isNotDirectory, allowDoubleSlashes, last)",
                                pair->key);
        }
        if (k <= K_REPLACEMENT && pair->value->type != KZ_V_STR && pair->value->type != KZ_V_INT) {
            return apr_psprintf(p, "'%s' of a rewrite rule must be a string", pair->key);
        }
        if (k > K_REPLACEMENT && pair->value->type != KZ_V_BOOL) {
            return apr_psprintf(p, "'%s' of a rewrite rule must be true or false", pair->key);
        }
        found[k] = pair->value;
    }
    if (!found[K_REGEX] || !found[K_REPLACEMENT]) {
        return apr_psprintf(p, "a rewrite rule needs '%s'",
                            found[K_REGEX] ? "replacement" : "regex");
    }
    return NULL;
}

static const char *check_entry(const kz_value_t *entry, apr_pool_t *p)
{
    const kz_value_t *found[KZ_NKEYS] = {NULL};
    const char *err;
    pcre2_code *re;

    if (entry->type != KZ_V_MAP) {
        return "expected a list of maps";
    }
    if ((err = check_keys(entry, found, p)) != NULL) {
        return err;
    }
    if ((re = regex_compile(found[K_REGEX]->text, &err, p)) == NULL) {
        return err;
    }
    err = parse_replacement(apr_array_make(p, 4, sizeof(rw_part_t)), re, found[K_REPLACEMENT]->text,
                            p);
    pcre2_code_free(re);
    return err;
}

const char *kz_rewrite_check(const kz_value_t *value, apr_pool_t *p)
{
    const char *err;

    if (value->type != KZ_V_LIST) {
        return "expected a list of maps";
    }
    for (int i = 0; i < value->items->nelts; i++) {
        if ((err = check_entry(APR_ARRAY_IDX(value->items, i, kz_value_t *), p)) != NULL) {
            return err;
        }
    }
    return NULL;
}

/* ---- compiling ------------------------------------------------------------------------- */

static apr_status_t rewrite_cleanup(void *data)
{
    kz_rewrite_t *rw = data;

    for (int i = 0; i < rw->nrules; i++) {
        pcre2_code_free(rw->rules[i].code);
    }
    pcre2_match_context_free(rw->mctx);
    return APR_SUCCESS;
}

/* A boolean key of a checked rule (check_keys made it a boolean when present). */
static int flag(const kz_value_t *found)
{
    return found && found->b;
}

/* Compiles one checked entry into rule; 0 when it cannot (it was checked, so never). */
static int rule_compile(rw_rule_t *rule, const kz_value_t *entry, apr_pool_t *p)
{
    const kz_value_t *found[KZ_NKEYS] = {NULL};
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(rw_part_t));
    const char *err;

    if (entry->type != KZ_V_MAP || check_keys(entry, found, p) ||
        !(rule->code = regex_compile(found[K_REGEX]->text, &err, p))) {
        return 0;
    }
    if (parse_replacement(parts, rule->code, found[K_REPLACEMENT]->text, p)) {
        pcre2_code_free(rule->code);
        return 0;
    }
    /* Without JIT support the interpreter runs the same pattern under the same limits. */
    pcre2_jit_compile(rule->code, PCRE2_JIT_COMPLETE);
    rule->regex = found[K_REGEX]->text;
    rule->parts = (const rw_part_t *)parts->elts;
    rule->nparts = parts->nelts;
    rule->is_not_file = flag(found[K_NOT_FILE]);
    rule->is_not_dir = flag(found[K_NOT_DIR]);
    rule->allow_double_slashes = flag(found[K_DOUBLE_SLASHES]);
    rule->last = flag(found[K_LAST]);
    return 1;
}

static kz_rewrite_t *rewrite_build(const kz_value_t *v, apr_pool_t *p)
{
    kz_rewrite_t *rw = apr_pcalloc(p, sizeof(*rw));

    rw->rules = apr_pcalloc(p, sizeof(rw_rule_t) * v->items->nelts);
    rw->mctx = pcre2_match_context_create(NULL);
    apr_pool_cleanup_register(p, rw, rewrite_cleanup, apr_pool_cleanup_null);
    pcre2_set_match_limit(rw->mctx, KZ_REWRITE_MATCH_LIMIT);
    pcre2_set_depth_limit(rw->mctx, KZ_REWRITE_DEPTH_LIMIT);
    pcre2_set_heap_limit(rw->mctx, KZ_REWRITE_HEAP_LIMIT);
    rw->max_pairs = 1;
    for (int i = 0; i < v->items->nelts; i++) {
        rw_rule_t *rule = &rw->rules[rw->nrules];
        uint32_t groups = 0;

        if (rule_compile(rule, APR_ARRAY_IDX(v->items, i, kz_value_t *), p)) {
            pcre2_pattern_info(rule->code, PCRE2_INFO_CAPTURECOUNT, &groups);
            rw->max_pairs = groups + 1 > rw->max_pairs ? groups + 1 : rw->max_pairs;
            rw->nrules++;
        }
    }
    return rw;
}

/*
 * Hosts and locations that add no rules share the global list's value, so each distinct list
 * is compiled once per configuration (keyed on the value's address in the configuration pool).
 */
const struct kz_rewrite *kz_rewrite_compile(const kz_conf_t *c, apr_pool_t *p)
{
    const kz_value_t *v = kz_conf_get(c, "rewriteMap");
    apr_hash_t *memo = NULL;
    kz_rewrite_t *rw;

    if (!v || v->type != KZ_V_LIST || v->items->nelts == 0) {
        return NULL;
    }
    apr_pool_userdata_get((void **)&memo, "kz_rewrite_memo", p);
    if (!memo) {
        memo = apr_hash_make(p);
        apr_pool_userdata_setn(memo, "kz_rewrite_memo", NULL, p);
    }
    if ((rw = apr_hash_get(memo, &v, sizeof(v))) == NULL) {
        const kz_value_t **key = apr_pmemdup(p, &v, sizeof(v));
        rw = rewrite_build(v, p);
        apr_hash_set(memo, key, sizeof(*key), rw);
    }
    return rw->nrules ? rw : NULL;
}

int kz_rewrite_count(const kz_rewrite_t *rw)
{
    return rw ? rw->nrules : 0;
}

const char *kz_rewrite_regex(const kz_rewrite_t *rw, int i)
{
    return rw && i >= 0 && i < rw->nrules ? rw->rules[i].regex : NULL;
}

/* ---- applying -------------------------------------------------------------------------- */

static const char *make_url(const char *path, const char *query, apr_pool_t *p)
{
    return apr_pstrcat(p, kz_url_encode_path(path, p), query ? "?" : "", query ? query : "", NULL);
}

/* The path with each run of '/' made one (a rule without allowDoubleSlashes sees this). */
static const char *collapse_slashes(const char *path, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(path) + 1);
    char *w = out;

    for (const char *s = path; *s; s++) {
        if (*s != '/' || w == out || w[-1] != '/') {
            *w++ = *s;
        }
    }
    *w = '\0';
    return out;
}

/* Builds s with the match replaced; 414 when the result would be too long. */
static int substitute(const rw_rule_t *rule, const char *s, apr_size_t len, pcre2_match_data *md,
                      const char **out, apr_pool_t *p)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    apr_size_t start = ov[0], end = ov[1] < ov[0] ? ov[0] : ov[1];
    apr_size_t total = start + (len - end);
    char *buf, *w;

    for (int i = 0; i < rule->nparts && total <= KZ_REWRITE_MAX_URL; i++) {
        int g = rule->parts[i].group;
        total += g < 0                      ? rule->parts[i].len
                 : ov[2 * g] == PCRE2_UNSET ? 0
                                            : ov[2 * g + 1] - ov[2 * g];
    }
    if (total > KZ_REWRITE_MAX_URL) {
        return 414;
    }
    w = buf = apr_palloc(p, total + 1);
    memcpy(w, s, start);
    w += start;
    for (int i = 0; i < rule->nparts; i++) {
        int g = rule->parts[i].group;
        if (g < 0) {
            memcpy(w, rule->parts[i].text, rule->parts[i].len);
            w += rule->parts[i].len;
        } else if (ov[2 * g] != PCRE2_UNSET) {
            memcpy(w, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            w += ov[2 * g + 1] - ov[2 * g];
        }
    }
    memcpy(w, s + end, len - end);
    w[len - end] = '\0';
    *out = buf;
    return 0;
}

/* Whether the rule's isNotFile / isNotDirectory conditions let it run on the current path. */
static int conditions_hold(const rw_rule_t *rule, const char *path, kz_rewrite_probe_fn probe,
                           void *baton)
{
    kz_rewrite_kind_e kind;

    if (!probe || (!rule->is_not_file && !rule->is_not_dir)) {
        return 1;
    }
    kind = probe(baton, path);
    return !((rule->is_not_file && kind == KZ_RW_FILE) || (rule->is_not_dir && kind == KZ_RW_DIR));
}

/*
 * Runs one rule on res->path/res->query; sets *stop for a `last` rule that changed the URL. The
 * regex runs before the conditions, so the probe (a file-system lookup) is asked only for a
 * rule that matched; a rule whose conditions fail is skipped whatever its match gave.
 */
static int apply_rule(const kz_rewrite_t *rw, const rw_rule_t *rule, pcre2_match_data *md,
                      kz_rewrite_probe_fn probe, void *baton, kz_rewrite_result_t *res, int *stop,
                      apr_pool_t *p)
{
    const char *subject = res->to, *out, *q;
    apr_size_t len;
    int rc;

    if (!rule->allow_double_slashes && strstr(res->path, "//")) {
        subject = make_url(collapse_slashes(res->path, p), res->query, p);
    }
    len = strlen(subject);
    rc = pcre2_match(rule->code, (PCRE2_SPTR)subject, len, 0, 0, md, rw->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        /* JIT's default stack (32 KiB) ends a nested repeat within a few KiB of path; the
         * interpreter goes on under the limits that hold without JIT. */
        rc = pcre2_match(rule->code, (PCRE2_SPTR)subject, len, 0, PCRE2_NO_JIT, md, rw->mctx);
    }
    if (rc == PCRE2_ERROR_NOMATCH || !conditions_hold(rule, res->path, probe, baton)) {
        return 0;
    }
    if (rc < 0) {
        res->match_error = rc;
        return 500;
    }
    if ((rc = substitute(rule, subject, len, md, &out, p)) != 0) {
        return rc;
    }
    if (out[0] != '/') {
        return 400;
    }
    q = strchr(out, '?');
    if (kz_url_sanitize(&res->path, out, q ? (apr_size_t)(q - out) : strlen(out),
                        rule->allow_double_slashes, p) != 0) {
        return 400;
    }
    res->query = q ? q + 1 : NULL;
    res->to = make_url(res->path, res->query, p);
    *stop = rule->last && strcmp(out, subject) != 0;
    return 0;
}

static apr_status_t match_data_cleanup(void *data)
{
    pcre2_match_data_free(data);
    return APR_SUCCESS;
}

int kz_rewrite_apply(const kz_rewrite_t *rw, const char *path, const char *query,
                     kz_rewrite_probe_fn probe, void *baton, kz_rewrite_result_t *res,
                     apr_pool_t *p)
{
    pcre2_match_data *md;
    int stop = 0;

    memset(res, 0, sizeof(*res));
    res->path = path;
    res->query = query;
    res->from = res->to = make_url(path, query, p);
    res->failed_rule = -1;
    if (!rw || rw->nrules == 0) {
        return 0;
    }
    md = pcre2_match_data_create(rw->max_pairs, NULL);
    apr_pool_cleanup_register(p, md, match_data_cleanup, apr_pool_cleanup_null);
    for (int i = 0; i < rw->nrules && !stop; i++) {
        int rc = apply_rule(rw, &rw->rules[i], md, probe, baton, res, &stop, p);

        if (rc != 0) {
            res->failed_rule = rc == 500 ? i : -1;
            return rc;
        }
    }
    res->changed = strcmp(res->from, res->to) != 0;
    return 0;
}

/* ---- the pipeline stage ---------------------------------------------------------------- */

/* What a path is under the web root of the location it selects, through the open-file cache,
 * beneath the root (symbolic links leave it only where allowSymlinksOutsideWwwroot allows). */
static kz_rewrite_kind_e probe_path(void *baton, const char *path)
{
    kz_request_t *r = baton;
    kz_loop_t *loop = r->conn->loop;
    const kz_conf_t *c = r->vhost ? kz_vhost_location(r->vhost, path) : r->rc->config->global_conf;
    kz_root_t *root = c->root;
    kz_fcentry_t *e;

    while (*path == '/') {
        path++;
    }
    if (!root || kz_filecache_open(&e, loop->filecache, root, path, c->allow_symlinks_outside,
                                   loop->now, r->pool) != APR_SUCCESS) {
        return KZ_RW_OTHER;
    }
    return e->finfo.filetype == APR_REG   ? KZ_RW_FILE
           : e->finfo.filetype == APR_DIR ? KZ_RW_DIR
                                          : KZ_RW_OTHER;
}

static void log_match_error(kz_request_t *r, const kz_rewrite_result_t *res)
{
    kz_loop_t *loop = r->conn->loop;
    PCRE2_UCHAR msg[128];

    pcre2_get_error_message(res->match_error, msg, sizeof(msg));
    kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 401,
                 "rewrite rule %d (%s) failed on %s: %s", res->failed_rule + 1,
                 kz_rewrite_regex(r->conf->rewrite, res->failed_rule), res->from,
                 (const char *)msg);
}

int kz_rewrite_stage(kz_request_t *r)
{
    kz_rewrite_result_t res;
    kz_loop_t *loop = r->conn->loop;
    int rc;

    if (!r->conf->rewrite) {
        return KZ_DECLINED;
    }
    rc = kz_rewrite_apply(r->conf->rewrite, r->path, r->query, probe_path, r, &res, r->pool);
    if (rc == 500) {
        log_match_error(r, &res);
    }
    if (rc != 0) {
        return rc;
    }
    if (!res.changed) {
        return KZ_DECLINED;
    }
    if (r->conf->rewrite_logging) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_INFO, 400, "rewrote %s to %s",
                     res.from, res.to);
    }
    r->path = res.path;
    r->query = res.query;
    kz_request_reselect(r);
    return KZ_DECLINED;
}
