/*
 * Range requests (RFC 9110 §14.1–§14.6, §15.3.7, §15.5.17): the `bytes` range-set parsed with
 * bounded work, ranges clamped, sorted and merged (§14.2 lets a server coalesce them, and doing
 * so bounds the answer by the file's size whatever the client asks), and the 206 answer as one
 * part or as multipart/byteranges (Appendix A of RFC 9110 §14.6) made of body segments.
 */
#include "range.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A position larger than any file: saturating keeps huge numbers meaningful without overflow. */
#define KZ_RANGE_HUGE ((apr_off_t)1 << 62)

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1*DIGIT at *s, saturated at KZ_RANGE_HUGE; -1 when there is no digit. */
static apr_off_t parse_pos(const char **s)
{
    apr_off_t v = 0;
    const char *p = *s;

    if (!is_digit(*p)) {
        return -1;
    }
    for (; is_digit(*p); p++) {
        v = v >= KZ_RANGE_HUGE / 10 ? KZ_RANGE_HUGE : v * 10 + (*p - '0');
    }
    *s = p;
    return v;
}

/*
 * One range-spec at *s (int-range or suffix-range). Returns 1 with *r set (first = -1 when the
 * range does not overlap size), or 0 on a syntax error.
 */
static int parse_spec(kz_range_t *r, const char **s, apr_off_t size)
{
    apr_off_t first = parse_pos(s), last;

    if (**s != '-') {
        return 0;
    }
    (*s)++;
    last = parse_pos(s);
    if (first < 0) { /* suffix-range: the last `last` bytes */
        if (last < 0) {
            return 0;
        }
        r->first = last == 0 || size == 0 ? -1 : (last >= size ? 0 : size - last);
        r->last = size - 1;
        return 1;
    }
    if (last >= 0 && last < first) {
        return 0; /* RFC 9110 §14.1.1: invalid, so the whole field is */
    }
    r->first = first < size ? first : -1;
    r->last = last < 0 || last >= size ? size - 1 : last;
    return 1;
}

static int range_cmp(const void *a, const void *b)
{
    const kz_range_t *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorts the ranges and joins those that overlap or touch; returns how many are left. */
static int merge(kz_range_t *r, int n)
{
    int out = 0;

    qsort(r, (size_t)n, sizeof(*r), range_cmp);
    for (int i = 1; i < n; i++) {
        if (r[i].first <= r[out].last + 1) {
            if (r[i].last > r[out].last) {
                r[out].last = r[i].last;
            }
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

kz_range_result_e kz_range_parse(kz_range_t **out, int *n, const char *value, apr_off_t size,
                                 int max_ranges, apr_pool_t *p)
{
    kz_range_t *r, one;
    const char *s = value;
    int count = 0, kept = 0;

    if (!value || strncasecmp(s, "bytes=", 6) != 0 || max_ranges < 1) {
        return KZ_RANGE_IGNORE;
    }
    r = apr_palloc(p, (apr_size_t)max_ranges * sizeof(*r));
    for (s += 6;;) {
        while (is_ows(*s) || *s == ',') { /* empty list members are allowed */
            s++;
        }
        if (!*s) {
            break;
        }
        if (++count > max_ranges) {
            return KZ_RANGE_TOO_MANY;
        }
        if (!parse_spec(&one, &s, size)) {
            return KZ_RANGE_IGNORE;
        }
        while (is_ows(*s)) {
            s++;
        }
        if (*s && *s != ',') {
            return KZ_RANGE_IGNORE;
        }
        if (one.first >= 0) {
            r[kept++] = one;
        }
    }
    if (count == 0) {
        return KZ_RANGE_IGNORE;
    }
    if (kept == 0) {
        return KZ_RANGE_UNSATISFIABLE;
    }
    *n = merge(r, kept);
    *out = r;
    return KZ_RANGE_OK;
}

static const char *content_range(const kz_range_t *r, apr_off_t size, apr_pool_t *p)
{
    return apr_psprintf(p, "bytes %" APR_OFF_T_FMT "-%" APR_OFF_T_FMT "/%" APR_OFF_T_FMT, r->first,
                        r->last, size);
}

static void add_part(kz_request_t *r, const kz_range_t *range, const char *content,
                     apr_file_t *file)
{
    apr_off_t len = range->last - range->first + 1;

    if (content) {
        kz_response_body_add_mem(r, content + range->first, (apr_size_t)len);
    } else {
        kz_response_body_add_file(r, file, range->first, len);
    }
}

/* A boundary that differs per response and that no client can predict from outside. */
static const char *boundary(kz_request_t *r)
{
    static volatile apr_uint32_t counter;
    apr_uint64_t x = (apr_uint64_t)r->time ^ ((apr_uint64_t)(apr_uintptr_t)r << 16) ^
                     ((apr_uint64_t)apr_atomic_inc32(&counter) << 40);

    /* splitmix64's finalizer spreads every input bit over the output. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return apr_psprintf(r->pool, "KZ%016" APR_UINT64_T_HEX_FMT, x);
}

void kz_range_respond(kz_request_t *r, const kz_range_t *ranges, int n, apr_off_t size,
                      const char *type, const char *content, apr_file_t *file)
{
    const char *b;

    r->status = 206;
    kz_response_body_clear(r);
    if (n == 1) {
        kz_response_header(r, "Content-Type", type);
        kz_response_header(r, "Content-Range", content_range(&ranges[0], size, r->pool));
        add_part(r, &ranges[0], content, file);
        return;
    }
    b = boundary(r);
    kz_response_header(r, "Content-Type",
                       apr_pstrcat(r->pool, "multipart/byteranges; boundary=", b, NULL));
    for (int i = 0; i < n; i++) {
        const char *head = apr_pstrcat(
            r->pool, i ? "\r\n--" : "--", b, "\r\nContent-Type: ", type,
            "\r\nContent-Range: ", content_range(&ranges[i], size, r->pool), "\r\n\r\n", NULL);
        kz_response_body_add_mem(r, head, strlen(head));
        add_part(r, &ranges[i], content, file);
    }
    b = apr_pstrcat(r->pool, "\r\n--", b, "--\r\n", NULL);
    kz_response_body_add_mem(r, b, strlen(b));
}

void kz_range_refuse(kz_request_t *r, apr_off_t size)
{
    kz_response_error(r, 416);
    kz_response_header(r, "Content-Range", apr_psprintf(r->pool, "bytes */%" APR_OFF_T_FMT, size));
}
