/*
 * nonStandardCodes (ncodes.h; karpacz-behaviour.md §4): redirects (RFC 9110 §15.4), HTTP Basic
 * authentication (RFC 7617, challenge per RFC 9110 §11.6.1) with brute-force protection
 * (brute.c), and fixed statuses, by exact path or PCRE2 regular expression, as the original does:
 * entries are tried in order (global ones, then the host's); the first redirect or fixed status
 * that applies answers; a 401 entry that the client passes lets the walk go on, with the user
 * name kept for the access log. Regular expressions are compiled once per configuration, with a
 * match limit, and see the path percent-encoded (kz_url_encode_path) as the original saw it,
 * so captures copied into a Location stay valid URL text. Password verifications (Argon2 takes
 * tens of milliseconds) run on worker threads (work.h): the stage suspends, and runs again
 * with the result when it comes back.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "ncodes.h"

#include "brute.h"
#include "core.h"
#include "ipset.h"
#include "passwd.h"
#include "stages.h"
#include "url.h"
#include "work.h"

#include <apr_base64.h>
#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

/* Bounds on one regular-expression match (steps, nesting, backtracking memory in KiB). */
#define KZ_NCODES_MATCH_LIMIT 1000000
#define KZ_NCODES_DEPTH_LIMIT 10000
#define KZ_NCODES_HEAP_LIMIT  1024

/* Remembered verifications: slots, and how long one lasts. */
#define KZ_AUTHCACHE_SLOTS 64
#define KZ_AUTHCACHE_TTL   apr_time_from_sec(300)

#define KZ_REGEX_FLAGS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF)

typedef struct ncode_entry {
    int scode;
    const char *url; /* sanitized path, or NULL */
    pcre2_code *re;  /* or NULL */
    const char *location;
    const char *challenge; /* WWW-Authenticate value */
    int brute_protection;
    apr_array_header_t *user_list; /* const char *, or NULL: every user */
    kz_ipset_t *clients;           /* `users`: or NULL: every client */
} ncode_entry_t;

typedef struct ncode_user {
    const char *name;
    const char *pass; /* PHC string */
} ncode_user_t;

typedef struct authcache_slot {
    unsigned char mac[32];
    apr_time_t expires;
} authcache_slot_t;

typedef struct authcache {
    apr_thread_mutex_t *mutex;
    unsigned char key[32];
    authcache_slot_t slots[KZ_AUTHCACHE_SLOTS];
} authcache_t;

struct kz_ncodes {
    ncode_entry_t *entries;
    int nentries;
    ncode_user_t *users;
    int nusers;
    pcre2_match_context *mctx;
    apr_uint32_t max_pairs; /* capture pairs of the largest regex */
    authcache_t *cache;     /* NULL when it could not be set up */
};

/* ---- helpers --------------------------------------------------------------------------- */

static int is_scalar(const kz_value_t *v)
{
    return v->type == KZ_V_STR || v->type == KZ_V_INT || v->type == KZ_V_BOOL;
}

static int has_ctl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7F) {
            return 1;
        }
    }
    return 0;
}

static int is_redirect(int scode)
{
    return scode == 301 || scode == 302 || scode == 307 || scode == 308;
}

/* The items of a string-or-list value, as an array of kz_value_t * (a string is a list of one). */
static apr_array_header_t *as_list(const kz_value_t *v, apr_pool_t *p)
{
    apr_array_header_t *list;

    if (v->type == KZ_V_LIST) {
        return v->items;
    }
    list = apr_array_make(p, 1, sizeof(const kz_value_t *));
    APR_ARRAY_PUSH(list, const kz_value_t *) = v;
    return list;
}

static void *pcre_pool_malloc(PCRE2_SIZE size, void *pool)
{
    return apr_palloc(pool, size);
}

static void pcre_pool_free(void *block, void *pool)
{
    /* the request pool frees everything at once */
}

static apr_status_t code_cleanup(void *code)
{
    pcre2_code_free(code);
    return APR_SUCCESS;
}

static apr_status_t mctx_cleanup(void *mctx)
{
    pcre2_match_context_free(mctx);
    return APR_SUCCESS;
}

/* Compiles pattern; on failure returns NULL and sets *err. The caller frees the code. */
static pcre2_code *regex_compile(const char *pattern, const char **err, apr_pool_t *p)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, KZ_REGEX_FLAGS,
                                   &code, &offset, NULL);

    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        *err = apr_psprintf(p, "%s at offset %lu", (const char *)msg, (unsigned long)offset);
    }
    return re;
}

/* ---- configuration checks -------------------------------------------------------------- */

static const char *const entry_keys[] = {
    "scode", "url", "regex", "location", "realm", "disableBruteProtection", "userList", "users",
};

static const char *key_error(const kz_value_t *map, const char *key, const char *msg, apr_pool_t *p)
{
    for (int i = 0; i < map->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(map->items, i, kz_pair_t);
        if (!strcmp(pair->key, key)) {
            return apr_psprintf(p, "'%s' (line %d): %s", key, pair->line, msg);
        }
    }
    return apr_psprintf(p, "'%s': %s", key, msg);
}

static const char *check_keys(const kz_value_t *map, const char *const *keys, int nkeys,
                              apr_pool_t *p)
{
    for (int i = 0; i < map->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(map->items, i, kz_pair_t);
        int k = 0;

        while (k < nkeys && strcmp(pair->key, keys[k]) != 0) {
            k++;
        }
        if (k == nkeys) {
            return apr_psprintf(p, "unknown key '%s' (line %d)", pair->key, pair->line);
        }
    }
    return NULL;
}

/* A scalar without control characters. */
static const char *check_text(const kz_value_t *map, const char *key, apr_pool_t *p)
{
    const kz_value_t *v = kz_value_map_get(map, key);

    if (v && (!is_scalar(v) || has_ctl(v->text))) {
        return key_error(map, key, "expected a string without control characters", p);
    }
    return NULL;
}

/* A string or a list of strings, each passing fn (when given). */
static const char *check_strings(const kz_value_t *map, const char *key,
                                 const char *(*fn)(const char *text, apr_pool_t *p), apr_pool_t *p)
{
    const kz_value_t *v = kz_value_map_get(map, key);
    apr_array_header_t *list;

    if (!v) {
        return NULL;
    }
    if (!is_scalar(v) && v->type != KZ_V_LIST) {
        return key_error(map, key, "expected a string or a list of strings", p);
    }
    list = as_list(v, p);
    for (int i = 0; i < list->nelts; i++) {
        const kz_value_t *item = APR_ARRAY_IDX(list, i, const kz_value_t *);
        const char *err;

        if (!is_scalar(item)) {
            return key_error(map, key, "expected a string or a list of strings", p);
        }
        if (fn && (err = fn(item->text, p)) != NULL) {
            return key_error(map, key, err, p);
        }
    }
    return NULL;
}

static const char *check_url_and_regex(const kz_value_t *map, apr_pool_t *p)
{
    const kz_value_t *url = kz_value_map_get(map, "url"), *regex = kz_value_map_get(map, "regex");
    const char *err = NULL, *clean;

    if (!url && !regex) {
        return "an entry needs 'url' or 'regex'";
    }
    if (url && (!is_scalar(url) || url->text[0] != '/' ||
                kz_url_sanitize(&clean, url->text, strlen(url->text), 1, p) != 0)) {
        return key_error(map, "url", "expected a path starting with '/'", p);
    }
    if (regex) {
        pcre2_code *re = is_scalar(regex) ? regex_compile(regex->text, &err, p) : NULL;

        if (!re) {
            return key_error(map, "regex", err ? err : "expected a string", p);
        }
        pcre2_code_free(re);
    }
    return NULL;
}

static const char *check_entry(const kz_value_t *map, apr_pool_t *p)
{
    const kz_value_t *scode, *flag;
    const char *err;

    if (map->type != KZ_V_MAP) {
        return "expected a list of maps";
    }
    if ((err = check_keys(map, entry_keys, sizeof(entry_keys) / sizeof(*entry_keys), p))) {
        return err;
    }
    scode = kz_value_map_get(map, "scode");
    if (!scode) {
        return "an entry needs 'scode'";
    }
    if (scode->type != KZ_V_INT || scode->i < 200 || scode->i > 599) {
        return key_error(map, "scode", "expected a status code from 200 to 599", p);
    }
    if ((err = check_url_and_regex(map, p)) || (err = check_text(map, "location", p)) ||
        (err = check_text(map, "realm", p)) || (err = check_strings(map, "userList", NULL, p)) ||
        (err = check_strings(map, "users", kz_ipset_check, p))) {
        return err;
    }
    if (is_redirect((int)scode->i) && !kz_value_map_get(map, "location")) {
        return key_error(map, "scode", "a redirect needs 'location'", p);
    }
    flag = kz_value_map_get(map, "disableBruteProtection");
    if (flag && flag->type != KZ_V_BOOL) {
        return key_error(map, "disableBruteProtection", "expected true or false", p);
    }
    return NULL;
}

const char *kz_ncodes_check(const kz_value_t *value, apr_pool_t *p)
{
    if (value->type != KZ_V_LIST) {
        return "expected a list of maps";
    }
    for (int i = 0; i < value->items->nelts; i++) {
        const char *err = check_entry(APR_ARRAY_IDX(value->items, i, kz_value_t *), p);
        if (err) {
            return err;
        }
    }
    return NULL;
}

static const char *check_user(const kz_value_t *map, apr_pool_t *p)
{
    static const char *const keys[] = {"name", "pass"};
    const kz_value_t *name, *pass;
    const char *err;

    if (map->type != KZ_V_MAP) {
        return "expected a list of maps {name, pass}";
    }
    if (kz_value_map_get(map, "user") && !kz_value_map_get(map, "name")) {
        return key_error(map, "user", "the key of the user name is 'name'", p);
    }
    if ((err = check_keys(map, keys, 2, p)) != NULL) {
        return err;
    }
    name = kz_value_map_get(map, "name");
    pass = kz_value_map_get(map, "pass");
    if (!name || !pass) {
        return "a user needs 'name' and 'pass'";
    }
    if (!is_scalar(name) || !*name->text || strchr(name->text, ':') || has_ctl(name->text)) {
        return key_error(map, "name", "expected a non-empty name without ':'", p);
    }
    if (!is_scalar(pass)) {
        return key_error(map, "pass", "expected a password hash", p);
    }
    if ((err = kz_passwd_check(pass->text, p)) != NULL) {
        return key_error(map, "pass", err, p);
    }
    return NULL;
}

const char *kz_users_check(const kz_value_t *value, apr_pool_t *p)
{
    if (value->type != KZ_V_LIST) {
        return "expected a list of maps {name, pass}";
    }
    for (int i = 0; i < value->items->nelts; i++) {
        const char *err = check_user(APR_ARRAY_IDX(value->items, i, kz_value_t *), p);
        if (err) {
            return err;
        }
    }
    return NULL;
}

/* ---- compiling ------------------------------------------------------------------------- */

/* `Basic realm="…", charset="UTF-8"`, the realm as a quoted-string (RFC 9110 §5.6.4). */
static const char *make_challenge(const char *realm, apr_pool_t *p)
{
    apr_size_t len = strlen(realm);
    char *q = apr_palloc(p, 2 * len + 1), *o = q;

    for (const char *s = realm; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *o++ = '\\';
        }
        *o++ = *s;
    }
    *o = '\0';
    return apr_psprintf(p, "Basic realm=\"%s\", charset=\"UTF-8\"", q);
}

static void compile_entry(kz_ncodes_t *nc, ncode_entry_t *e, const kz_value_t *map,
                          const kz_conf_t *c, apr_pool_t *p)
{
    const kz_value_t *v;
    const char *err;

    e->scode = (int)kz_value_map_get(map, "scode")->i;
    if ((v = kz_value_map_get(map, "url")) != NULL &&
        kz_url_sanitize(&e->url, v->text, strlen(v->text), c->allow_double_slashes, p) != 0) {
        e->url = NULL;
    }
    if ((v = kz_value_map_get(map, "regex")) != NULL && (e->re = regex_compile(v->text, &err, p))) {
        apr_uint32_t pairs = 0;

        apr_pool_cleanup_register(p, e->re, code_cleanup, apr_pool_cleanup_null);
        pcre2_jit_compile(e->re, PCRE2_JIT_COMPLETE); /* the interpreter runs when JIT cannot */
        pcre2_pattern_info(e->re, PCRE2_INFO_CAPTURECOUNT, &pairs);
        if (pairs + 1 > nc->max_pairs) {
            nc->max_pairs = pairs + 1;
        }
    }
    e->location = (v = kz_value_map_get(map, "location")) ? v->text : NULL;
    e->challenge =
        make_challenge((v = kz_value_map_get(map, "realm")) ? v->text : KZ_NCODES_REALM, p);
    e->brute_protection = !((v = kz_value_map_get(map, "disableBruteProtection")) && v->b);
    if ((v = kz_value_map_get(map, "userList")) != NULL) {
        apr_array_header_t *list = as_list(v, p);

        e->user_list = apr_array_make(p, list->nelts, sizeof(const char *));
        for (int i = 0; i < list->nelts; i++) {
            APR_ARRAY_PUSH(e->user_list, const char *) =
                APR_ARRAY_IDX(list, i, const kz_value_t *)->text;
        }
    }
    if ((v = kz_value_map_get(map, "users")) != NULL) {
        apr_array_header_t *list = as_list(v, p);

        e->clients = kz_ipset_make(p);
        for (int i = 0; i < list->nelts; i++) {
            kz_ipset_add(e->clients, APR_ARRAY_IDX(list, i, const kz_value_t *)->text, p);
        }
    }
}

static void compile_users(kz_ncodes_t *nc, const kz_value_t *users, apr_pool_t *p)
{
    if (!users || users->type != KZ_V_LIST) {
        return;
    }
    nc->users = apr_pcalloc(p, (apr_size_t)users->items->nelts * sizeof(*nc->users) + 1);
    for (int i = 0; i < users->items->nelts; i++) {
        const kz_value_t *map = APR_ARRAY_IDX(users->items, i, kz_value_t *);

        nc->users[nc->nusers].name = kz_value_map_get(map, "name")->text;
        nc->users[nc->nusers].pass = kz_value_map_get(map, "pass")->text;
        nc->nusers++;
    }
}

static authcache_t *authcache_create(apr_pool_t *p)
{
    authcache_t *cache = apr_pcalloc(p, sizeof(*cache));

    if (RAND_bytes(cache->key, sizeof(cache->key)) != 1 ||
        apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
    return cache;
}

const struct kz_ncodes *kz_ncodes_compile(const kz_conf_t *c, apr_pool_t *p)
{
    const kz_value_t *list = kz_conf_get(c, "nonStandardCodes");
    kz_ncodes_t *nc;

    if (!list || list->type != KZ_V_LIST || list->items->nelts == 0) {
        return NULL;
    }
    nc = apr_pcalloc(p, sizeof(*nc));
    nc->entries = apr_pcalloc(p, (apr_size_t)list->items->nelts * sizeof(*nc->entries));
    nc->max_pairs = 1;
    for (int i = 0; i < list->items->nelts; i++) {
        compile_entry(nc, &nc->entries[nc->nentries++], APR_ARRAY_IDX(list->items, i, kz_value_t *),
                      c, p);
    }
    compile_users(nc, kz_conf_get(c, "users"), p);
    nc->cache = authcache_create(p);
    nc->mctx = pcre2_match_context_create(NULL);
    if (nc->mctx) {
        apr_pool_cleanup_register(p, nc->mctx, mctx_cleanup, apr_pool_cleanup_null);
        pcre2_set_match_limit(nc->mctx, KZ_NCODES_MATCH_LIMIT);
        pcre2_set_depth_limit(nc->mctx, KZ_NCODES_DEPTH_LIMIT);
        pcre2_set_heap_limit(nc->mctx, KZ_NCODES_HEAP_LIMIT);
    }
    return nc;
}

/* ---- matching -------------------------------------------------------------------------- */

/* One capture: group n of the match, empty when it did not take part or does not exist. */
static apr_size_t group_text(const char **text, const PCRE2_SIZE *ov, int pairs, long n,
                             const char *subject)
{
    if (n < 0 || n >= pairs || ov[2 * n] == PCRE2_UNSET) {
        *text = "";
        return 0;
    }
    *text = subject + ov[2 * n];
    return ov[2 * n + 1] - ov[2 * n];
}

/* A reference after '$': digits, {digits or name}, or a name; returns its length, or 0. */
static apr_size_t parse_ref(const char *s, const pcre2_code *re, long *group)
{
    int braced = *s == '{';
    const char *start = s + braced, *end = start;
    char name[64];

    while (apr_isalnum(*end) || *end == '_') {
        end++;
    }
    if (end == start || (braced && *end != '}') || end - start >= (long)sizeof(name)) {
        return 0;
    }
    memcpy(name, start, (apr_size_t)(end - start));
    name[end - start] = '\0';
    if (apr_isdigit(*start)) {
        for (end = start; apr_isdigit(*end); end++) {
        }
        if (braced && *end != '}') {
            return 0;
        }
        *group = strtol(name, NULL, 10);
    } else {
        *group = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
    }
    return (apr_size_t)(end - s) + braced;
}

/*
 * Expands $1, ${1}, $name, ${name} and $$ in tmpl with the match's captures (an unknown or
 * unset group is empty; a '$' starting nothing is kept), as the original's replacement did.
 */
static const char *expand(const char *tmpl, const pcre2_code *re, pcre2_match_data *md, int pairs,
                          const char *subject, apr_pool_t *p)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(struct iovec));
    const char *s = tmpl;

    while (*s) {
        const char *dollar = strchr(s, '$');
        struct iovec *lit = apr_array_push(parts), *grp;
        apr_size_t used;
        long group = -1;

        lit->iov_base = (void *)s;
        lit->iov_len = dollar ? (apr_size_t)(dollar - s) : strlen(s);
        if (!dollar) {
            break;
        }
        if (dollar[1] == '$' || (used = parse_ref(dollar + 1, re, &group)) == 0) {
            lit->iov_len++; /* "$$" is one '$'; a '$' starting no reference is kept */
            s = dollar + 1 + (dollar[1] == '$');
            continue;
        }
        grp = apr_array_push(parts);
        grp->iov_len = group_text((const char **)&grp->iov_base, ov, pairs, group, subject);
        s = dollar + 1 + used;
    }
    return apr_pstrcatv(p, (const struct iovec *)parts->elts, (apr_size_t)parts->nelts, NULL);
}

static const char *make_subject(const kz_ncodes_match_t *m, apr_pool_t *p)
{
    const char *path = kz_url_encode_path(m->path, p);

    return m->query ? apr_pstrcat(p, path, "?", m->query, NULL) : path;
}

/* 1: the regex matches (and *location is set for a redirect), 0: it does not, -1: error. */
static int regex_match(kz_ncodes_match_t *m, const kz_ncodes_t *nc, const ncode_entry_t *e,
                       apr_pool_t *p)
{
    int rc;

    if (!m->match_data) {
        pcre2_general_context *gctx =
            pcre2_general_context_create(pcre_pool_malloc, pcre_pool_free, p);
        m->match_data = gctx ? pcre2_match_data_create(nc->max_pairs, gctx) : NULL;
        m->subject = make_subject(m, p);
    }
    if (!m->match_data || !nc->mctx) {
        return -1;
    }
    rc = pcre2_match(e->re, (PCRE2_SPTR)m->subject, strlen(m->subject), 0, 0, m->match_data,
                     nc->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    if (rc <= 0) {
        return -1;
    }
    if (is_redirect(e->scode)) {
        m->location = expand(e->location, e->re, m->match_data, rc, m->subject, p);
    }
    return 1;
}

int kz_ncodes_next(kz_ncodes_match_t *m, const kz_ncodes_t *nc, apr_pool_t *p)
{
    for (; nc && m->next < nc->nentries; m->next++) {
        const ncode_entry_t *e = &nc->entries[m->next];
        int rc = 0;

        if (e->clients && !kz_ipset_contains(e->clients, m->client_ip)) {
            continue;
        }
        m->location = NULL;
        if (e->re && (rc = regex_match(m, nc, e, p)) < 0) {
            return -1;
        }
        if (!rc && e->url && !strcmp(e->url, m->path)) {
            rc = 1;
            if (is_redirect(e->scode)) {
                m->location =
                    m->query ? apr_pstrcat(p, e->location, "?", m->query, NULL) : e->location;
            }
        }
        if (rc) {
            m->index = m->next++;
            m->scode = e->scode;
            m->challenge = e->challenge;
            m->brute_protection = e->brute_protection;
            return 1;
        }
    }
    return 0;
}

/* ---- Basic authentication -------------------------------------------------------------- */

/* "Basic" 1*SP token68 (RFC 7617 §2): the decoded "user-id:password" split at the first ':'. */
static int parse_basic(const char **user, const char **pass, apr_size_t *pass_len, const char *hdr,
                       apr_pool_t *p)
{
    const char *t;
    apr_size_t len, pad = 0;
    unsigned char *raw;
    int n;
    char *colon;

    if (!hdr || apr_cstr_casecmpn(hdr, "Basic ", 6) != 0) {
        return 0;
    }
    for (t = hdr + 6; *t == ' '; t++) {
    }
    for (len = 0; apr_isalnum(t[len]) || t[len] == '+' || t[len] == '/'; len++) {
    }
    while (t[len + pad] == '=' && pad < 2) {
        pad++;
    }
    if (len == 0 || t[len + pad] != '\0' || (len + pad) % 4 == 1 || (pad && (len + pad) % 4)) {
        return 0;
    }
    /* apr_base64_decode_binary() stops at the padding or the end: t needs no copy. */
    raw = apr_palloc(p, len + 4);
    n = apr_base64_decode_binary(raw, t);
    raw[n] = '\0';
    /* A user-id holds no ':' (RFC 7617 §2) and, here, no NUL. */
    if (!(colon = memchr(raw, ':', (apr_size_t)n)) ||
        memchr(raw, '\0', (apr_size_t)(colon - (char *)raw))) {
        return 0;
    }
    *colon = '\0';
    *user = (const char *)raw;
    *pass = colon + 1;
    *pass_len = (apr_size_t)n - (apr_size_t)(colon + 1 - (char *)raw);
    return 1;
}

static void cache_mac(unsigned char mac[32], const authcache_t *cache, int user, const char *pass,
                      apr_size_t len, apr_pool_t *p)
{
    unsigned char *msg = apr_palloc(p, len + sizeof(user));
    unsigned int mac_len = 32;

    memcpy(msg, &user, sizeof(user));
    memcpy(msg + sizeof(user), pass, len);
    HMAC(EVP_sha256(), cache->key, sizeof(cache->key), msg, len + sizeof(user), mac, &mac_len);
    OPENSSL_cleanse(msg, len + sizeof(user));
}

static int cache_lookup(authcache_t *cache, const unsigned char mac[32], apr_time_t now)
{
    authcache_slot_t *slot = &cache->slots[mac[0] % KZ_AUTHCACHE_SLOTS];
    int hit;

    apr_thread_mutex_lock(cache->mutex);
    hit = slot->expires > now && CRYPTO_memcmp(slot->mac, mac, 32) == 0;
    apr_thread_mutex_unlock(cache->mutex);
    return hit;
}

static void cache_store(authcache_t *cache, const unsigned char mac[32], apr_time_t now)
{
    authcache_slot_t *slot = &cache->slots[mac[0] % KZ_AUTHCACHE_SLOTS];

    apr_thread_mutex_lock(cache->mutex);
    memcpy(slot->mac, mac, 32);
    slot->expires = now + KZ_AUTHCACHE_TTL;
    apr_thread_mutex_unlock(cache->mutex);
}

static int user_allowed(const ncode_entry_t *e, const char *name)
{
    if (!e->user_list) {
        return 1;
    }
    for (int i = 0; i < e->user_list->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(e->user_list, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

struct kz_auth_known {
    apr_array_header_t *results; /* auth_result_t */
};

typedef struct auth_result {
    int user;
    apr_status_t rv;
} auth_result_t;

kz_auth_known_t *kz_auth_known_make(apr_pool_t *p)
{
    kz_auth_known_t *known = apr_palloc(p, sizeof(*known));

    known->results = apr_array_make(p, 2, sizeof(auth_result_t));
    return known;
}

void kz_auth_known_add(kz_auth_known_t *known, int user, apr_status_t rv)
{
    auth_result_t *res = apr_array_push(known->results);

    res->user = user;
    res->rv = rv;
}

/* The recorded result for user, or 0 (none) with *rv untouched. */
static int known_get(const kz_auth_known_t *known, int user, apr_status_t *rv)
{
    for (int i = 0; known && i < known->results->nelts; i++) {
        const auth_result_t *res = &APR_ARRAY_IDX(known->results, i, auth_result_t);
        if (res->user == user) {
            *rv = res->rv;
            return 1;
        }
    }
    return 0;
}

static kz_auth_e need_verify(kz_auth_need_t *need, int user, const char *phc, const char *pass,
                             apr_size_t len)
{
    need->user = user;
    need->phc = phc;
    need->pass = pass;
    need->len = len;
    return KZ_AUTH_PENDING;
}

/* Checks user i, through the cache: KZ_AUTH_OK, _FAILED, _ERROR, or _PENDING (*need set). */
static kz_auth_e verify_user(const kz_ncodes_t *nc, int i, const char *pass, apr_size_t len,
                             const kz_auth_known_t *known, kz_auth_need_t *need, apr_pool_t *p)
{
    unsigned char mac[32];
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (nc->cache) {
        cache_mac(mac, nc->cache, i, pass, len, p);
        if (cache_lookup(nc->cache, mac, now)) {
            return KZ_AUTH_OK;
        }
    }
    if (!known_get(known, i, &rv)) {
        return need_verify(need, i, nc->users[i].pass, pass, len);
    }
    if (rv == APR_EMISMATCH || rv == APR_EINVAL) {
        return KZ_AUTH_FAILED;
    }
    if (rv != APR_SUCCESS) {
        return KZ_AUTH_ERROR;
    }
    if (nc->cache) {
        cache_store(nc->cache, mac, now);
    }
    return KZ_AUTH_OK;
}

kz_auth_e kz_ncodes_auth_step(const char **user, kz_auth_need_t *need, const kz_ncodes_t *nc,
                              int index, const char *authorization, const kz_auth_known_t *known,
                              apr_pool_t *p)
{
    const char *name, *pass;
    apr_size_t len;
    apr_status_t rv;
    int tried = 0;

    *user = NULL;
    if (!parse_basic(&name, &pass, &len, authorization, p)) {
        return KZ_AUTH_NONE;
    }
    *user = name;
    if (user_allowed(&nc->entries[index], name)) {
        for (int i = 0; i < nc->nusers; i++) {
            if (!strcmp(nc->users[i].name, name)) {
                kz_auth_e rc = verify_user(nc, i, pass, len, known, need, p);

                tried = 1;
                if (rc != KZ_AUTH_FAILED) {
                    return rc;
                }
            }
        }
    }
    /* An unknown or refused name costs what a wrong password costs: no timing hint. */
    if (!tried && nc->nusers > 0 && !known_get(known, -1, &rv)) {
        return need_verify(need, -1, nc->users[0].pass, pass, len);
    }
    return KZ_AUTH_FAILED;
}

kz_auth_e kz_ncodes_authorize(const char **user, const kz_ncodes_t *nc, int index,
                              const char *authorization, apr_pool_t *p)
{
    kz_auth_known_t *known = kz_auth_known_make(p);
    kz_auth_need_t need;
    kz_auth_e rc;

    while ((rc = kz_ncodes_auth_step(user, &need, nc, index, authorization, known, p)) ==
           KZ_AUTH_PENDING) {
        kz_auth_known_add(known, need.user, kz_passwd_verify(need.phc, need.pass, need.len, p));
    }
    return rc;
}

/* ---- verifying on a worker thread ------------------------------------------------------ */

/* A verification's inputs, copied: the request's pool may be gone before it ends. */
typedef struct verify_job {
    apr_size_t size; /* of the whole allocation, to wipe it */
    int user;
    apr_status_t rv;
    apr_size_t len;
    char *pass;
    char phc[];
} verify_job_t;

static verify_job_t *verify_job_make(const kz_auth_need_t *need)
{
    apr_size_t phc_len = strlen(need->phc);
    apr_size_t size = sizeof(verify_job_t) + phc_len + 1 + need->len + 1;
    verify_job_t *job = malloc(size);

    if (!job) {
        return NULL;
    }
    job->size = size;
    job->user = need->user;
    job->rv = APR_ENOMEM;
    job->len = need->len;
    memcpy(job->phc, need->phc, phc_len + 1);
    job->pass = job->phc + phc_len + 1;
    memcpy(job->pass, need->pass, need->len);
    job->pass[need->len] = '\0';
    return job;
}

static void verify_job_run(void *data, apr_pool_t *scratch)
{
    verify_job_t *job = data;

    if (scratch) {
        job->rv = kz_passwd_verify(job->phc, job->pass, job->len, scratch);
    }
}

/* On the loop, the request still there: keep the result and run the stage again. */
static void verify_job_done(kz_request_t *r, void *data)
{
    verify_job_t *job = data;

    if (r->auth_state) {
        kz_auth_known_add(r->auth_state, job->user, job->rv);
    }
    kz_request_resume(r, KZ_DECLINED);
}

static void verify_job_release(void *data)
{
    verify_job_t *job = data;

    OPENSSL_cleanse(job, job->size);
    free(job);
}

/*
 * Verifies on a worker thread (KZ_SUSPENDED). With the workers' queue full, 503: hashing on the
 * loop instead would let a flood of bad credentials from many addresses stall every loop. Only
 * without a worker pool (it failed to start) does the loop verify itself (KZ_DECLINED).
 */
static int verify(kz_request_t *r, const kz_auth_need_t *need)
{
    verify_job_t *job = verify_job_make(need);
    apr_status_t rv =
        job ? kz_work_submit(r, verify_job_run, verify_job_done, verify_job_release, job)
            : APR_ENOMEM;

    if (rv == APR_SUCCESS) {
        return KZ_SUSPENDED;
    }
    if (job) {
        verify_job_release(job);
    }
    if (rv != APR_ENOTIMPL) {
        kz_log_error(NULL, r->conn->loop->logbuf, KZ_LOG_WARN, 454,
                     "password verification refused (%s): 503",
                     rv == APR_EAGAIN ? "too many waiting" : "out of memory");
        kz_response_header(r, "Retry-After", "1");
        return 503;
    }
    kz_auth_known_add(r->auth_state, need->user,
                      kz_passwd_verify(need->phc, need->pass, need->len, r->pool));
    return KZ_DECLINED;
}

/* ---- the pipeline stage ---------------------------------------------------------------- */

static int answer_redirect(kz_request_t *r, const kz_ncodes_match_t *m)
{
    kz_response_error(r, m->scode);
    kz_response_header(r, "Location", m->location);
    return KZ_DONE;
}

/* A 401 entry: KZ_DECLINED when the client passes, else the answer. */
static int authenticate(kz_request_t *r, const kz_ncodes_t *nc, const kz_ncodes_match_t *m)
{
    kz_loop_t *loop = r->conn->loop;
    kz_brute_t *brute = m->brute_protection ? loop->server->brute : NULL;
    const kz_http_field_t *f = kz_http_field(&r->head, "Authorization");
    const char *user;
    kz_auth_need_t need;
    kz_auth_e rc;
    int retry;

    /* Blocked clients get 429 before any password is hashed (RFC 6585 §4: Retry-After). */
    if ((retry = kz_brute_blocked(brute, r->client_ip, apr_time_now())) > 0) {
        kz_log_error(NULL, loop->logbuf, KZ_LOG_WARN, 451,
                     "too many failed authentication attempts from %s: 429", r->client_ip);
        kz_response_header(r, "Retry-After", apr_itoa(r->pool, retry));
        return 429;
    }
    /* The stage runs again when a verification ends: the results are kept in the request. */
    if (!r->auth_state) {
        r->auth_state = kz_auth_known_make(r->pool);
    }
    while ((rc = kz_ncodes_auth_step(&user, &need, nc, m->index, f ? f->value : NULL, r->auth_state,
                                     r->pool)) == KZ_AUTH_PENDING) {
        int vrc = verify(r, &need);
        if (vrc != KZ_DECLINED) {
            return vrc; /* suspended, or 503 */
        }
    }
    if (rc == KZ_AUTH_OK) {
        r->user = user;
        return KZ_DECLINED;
    }
    if (rc == KZ_AUTH_ERROR) {
        kz_log_error(NULL, loop->logbuf, KZ_LOG_ERR, 453,
                     "could not verify the password of user \"%s\" (out of memory)", user);
        return 500;
    }
    if (rc == KZ_AUTH_FAILED) {
        kz_brute_fail(brute, r->client_ip, apr_time_now());
        kz_log_error(NULL, loop->logbuf, KZ_LOG_WARN, 450,
                     "authentication failed for user \"%s\" from %s", user, r->client_ip);
    }
    kz_response_error(r, 401);
    kz_response_header(r, "WWW-Authenticate", m->challenge);
    return KZ_DONE;
}

int kz_ncodes_stage(kz_request_t *r)
{
    const kz_ncodes_t *nc = r->conf->ncodes;
    kz_ncodes_match_t m;
    int rc;

    if (!nc) {
        return KZ_DECLINED;
    }
    memset(&m, 0, sizeof(m));
    m.client_ip = r->client_ip;
    m.path = r->path;
    m.query = r->query;
    while ((rc = kz_ncodes_next(&m, nc, r->pool)) > 0) {
        if (is_redirect(m.scode)) {
            return answer_redirect(r, &m);
        }
        if (m.scode != 401) {
            return m.scode;
        }
        if ((rc = authenticate(r, nc, &m)) != KZ_DECLINED) {
            return rc;
        }
    }
    if (rc < 0) {
        kz_log_error(NULL, r->conn->loop->logbuf, KZ_LOG_ERR, 452,
                     "nonStandardCodes: a regular expression could not be evaluated for %s "
                     "(match limit)",
                     r->path);
        return 500;
    }
    return KZ_DECLINED;
}
