/*
 * Conditional requests (RFC 9110 §13.1 and §13.2): entity-tag lists compared strongly or weakly
 * (§8.8.3.2), HTTP-dates compared in whole seconds, the preconditions evaluated in the order of
 * §13.2.2, and If-Range (§13.1.5).
 */
#include "conditional.h"

#include <apr_date.h>
#include <string.h>

/* One entity-tag: its opaque part (quotes included) and whether it is weak. */
typedef struct etag {
    const char *opaque;
    apr_size_t len;
    int weak;
} etag_t;

/* Parses an entity-tag at s; returns the position after it, or NULL when s holds none. */
static const char *etag_parse(etag_t *t, const char *s)
{
    const char *close;

    t->weak = s[0] == 'W' && s[1] == '/';
    if (t->weak) {
        s += 2;
    }
    if (*s != '"' || !(close = strchr(s + 1, '"'))) {
        return NULL;
    }
    t->opaque = s;
    t->len = (apr_size_t)(close + 1 - s);
    return close + 1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int etag_equal(const etag_t *a, const etag_t *b, int weak)
{
    if (!weak && (a->weak || b->weak)) {
        return 0;
    }
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

int kz_etag_match(const char *list, const char *etag, int weak)
{
    etag_t mine = {NULL, 0, 0}, theirs = {NULL, 0, 0};
    int have = etag && etag_parse(&mine, etag) != NULL;
    const char *s = list;

    while (s && *s) {
        const char *next;

        if (*s == ',' || is_ows(*s)) {
            s++;
            continue;
        }
        if (*s == '*') {
            return 1; /* any current representation; this one exists */
        }
        next = etag_parse(&theirs, s);
        if (next && have && etag_equal(&mine, &theirs, weak)) {
            return 1;
        }
        /* A malformed member is skipped up to the next comma. */
        s = next ? next : strchr(s, ',');
    }
    return 0;
}

/* An HTTP-date in any of the three formats of RFC 9110 §5.6.7, or -1. APR_DATE_BAD is 0, so the
 * epoch itself reads as invalid: ignoring it answers as if the condition were absent, which for
 * a date before any file existed is what it would have decided anyway (bar If-Unmodified-Since,
 * which no client sends with the epoch). */
static apr_time_t date_parse(const char *s)
{
    apr_time_t t = apr_date_parse_http(s);

    return t == APR_DATE_BAD ? -1 : t;
}

/* Whether the representation was modified after date (in whole seconds). */
static int modified_since(apr_time_t mtime, apr_time_t date)
{
    return apr_time_sec(mtime) > apr_time_sec(date);
}

int kz_cond_evaluate(const kz_cond_t *c, int get_or_head, const char *etag, apr_time_t mtime)
{
    apr_time_t date;

    /* Steps 1 and 2: the state the client expects to change. */
    if (c->if_match) {
        if (!kz_etag_match(c->if_match, etag, 0)) {
            return 412;
        }
    } else if (c->if_unmodified_since && mtime > 0) {
        date = date_parse(c->if_unmodified_since);
        if (date >= 0 && modified_since(mtime, date)) {
            return 412;
        }
    }
    /* Steps 3 and 4: whether the client's copy is still current. */
    if (c->if_none_match) {
        if (kz_etag_match(c->if_none_match, etag, 1)) {
            return get_or_head ? 304 : 412;
        }
    } else if (get_or_head && c->if_modified_since && mtime > 0) {
        date = date_parse(c->if_modified_since);
        if (date >= 0 && !modified_since(mtime, date)) {
            return 304;
        }
    }
    return 0;
}

int kz_cond_if_range(const char *if_range, const char *etag, apr_time_t mtime)
{
    etag_t mine = {NULL, 0, 0}, theirs = {NULL, 0, 0};
    const char *end;
    apr_time_t date;

    if (!if_range) {
        return 1;
    }
    while (is_ows(*if_range)) {
        if_range++;
    }
    if (*if_range == '"' || (if_range[0] == 'W' && if_range[1] == '/')) {
        end = etag_parse(&theirs, if_range);
        while (end && is_ows(*end)) {
            end++;
        }
        return end && !*end && etag && etag_parse(&mine, etag) && etag_equal(&mine, &theirs, 0);
    }
    date = date_parse(if_range);
    return date >= 0 && mtime > 0 && apr_time_sec(date) == apr_time_sec(mtime);
}
