/*
 * URL sanitizing and path helpers: the strict form of Karpacz's url_sanitizer (see url.h and
 * karpacz-behaviour.md §4). Percent-decoding follows RFC 3986 §2.1 (decoded exactly once), and
 * dot-segment removal follows RFC 3986 §5.2.4, clamped at the root. One pass decodes and checks
 * into the single output buffer, a second pass normalises the segments in place.
 */
#include "url.h"

#include <apr_strings.h>
#include <string.h>

/* What the decoder does with each byte: the same table applies to raw and decoded bytes. */
enum { BYTE_OK, BYTE_BAD, BYTE_PERCENT, BYTE_BACKSLASH };

static const unsigned char byte_class[256] = {
    /* NUL and the C0 controls; DEL; lead bytes that are never valid UTF-8 (overlong C0/C1,
     * and F5-FF beyond U+10FFFF). Continuation bytes 0x80-0xBF are allowed for UTF-8 paths. */
    [0x00 ... 0x1f] = BYTE_BAD, [0x7f] = BYTE_BAD,    [0xc0] = BYTE_BAD,       [0xc1] = BYTE_BAD,
    [0xf5 ... 0xff] = BYTE_BAD, ['%'] = BYTE_PERCENT, ['\\'] = BYTE_BACKSLASH,
};

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Decodes path into buf (backslashes become '/'); returns the decoded length, or -1 on a bad
 * escape or a forbidden byte. */
static apr_ssize_t decode_path(char *buf, const char *path, apr_size_t len)
{
    apr_size_t w = 0;

    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        int cls = byte_class[c];

        if (cls == BYTE_PERCENT) {
            int hi = i + 2 < len ? hex_value((unsigned char)path[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)path[i + 2]) : -1;
            if (lo < 0) {
                return -1;
            }
            c = (unsigned char)(hi << 4 | lo);
            cls = byte_class[c] == BYTE_PERCENT ? BYTE_OK : byte_class[c];
            i += 2;
        }
        if (cls == BYTE_BAD) {
            return -1;
        }
        buf[w++] = cls == BYTE_BACKSLASH ? '/' : (char)c;
    }
    return (apr_ssize_t)w;
}

/* The output ends with '/' before each segment; drop the last segment (never the root). */
static apr_size_t pop_segment(const char *out, apr_size_t w)
{
    if (w <= 1) {
        return 1;
    }
    w--;
    while (w > 0 && out[w - 1] != '/') {
        w--;
    }
    return w;
}

/* Normalises the decoded path buf[0..n) in place (buf[0] is '/'); returns the new length. The
 * write position never passes the read position, so the buffer is reused. */
static apr_size_t normalise_path(char *buf, apr_size_t n, int allow_double_slashes)
{
    apr_size_t w = 1, i = 1;

    while (i < n) {
        const char *seg = buf + i;
        const char *slash = memchr(seg, '/', n - i);
        apr_size_t seg_len = slash ? (apr_size_t)(slash - seg) : n - i;
        apr_size_t keep = seg_len;

        i += seg_len + (slash != NULL);
        if (seg_len == 0) {
            if (allow_double_slashes) {
                buf[w++] = '/';
            }
            continue;
        }
        if (seg_len == 1 && seg[0] == '.') {
            continue;
        }
        if (seg_len == 2 && seg[0] == '.' && seg[1] == '.') {
            w = pop_segment(buf, w);
            continue;
        }
        /* Windows ignores trailing dots and spaces, so "a.txt." would name "a.txt" there. */
        while (keep > 0 && (seg[keep - 1] == '.' || seg[keep - 1] == ' ')) {
            keep--;
        }
        if (keep == 0) {
            continue;
        }
        memmove(buf + w, seg, keep);
        w += keep;
        if (slash) {
            buf[w++] = '/';
        }
    }
    return w;
}

int kz_url_sanitize(const char **out, const char *path, apr_size_t len, int allow_double_slashes,
                    apr_pool_t *p)
{
    char *buf;
    apr_ssize_t n;

    *out = NULL;
    if (path == NULL || len == 0 || path[0] != '/') {
        return 400;
    }
    buf = apr_palloc(p, len + 1);
    n = decode_path(buf, path, len);
    if (n < 0) {
        return 400;
    }
    n = (apr_ssize_t)normalise_path(buf, (apr_size_t)n, allow_double_slashes);
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Bytes kept as they are in a path: RFC 3986 unreserved, sub-delims, ':', '@' and '/'. A second
 * leading '/' is encoded: "//host" in a Location would be a network-path reference elsewhere. */
static int path_byte_is_kept(const char *path, const char *s)
{
    unsigned char c = (unsigned char)*s;

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return 1;
    }
    if (c == '/' && s == path + 1 && path[0] == '/') {
        return 0;
    }
    return strchr("-._~/!$&'()*+,;=:@", c) != NULL;
}

const char *kz_url_encode_path(const char *path, apr_pool_t *p)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t len = 0;
    char *out, *w;

    if (path == NULL) {
        return "";
    }
    for (const char *s = path; *s; s++) {
        len += path_byte_is_kept(path, s) ? 1 : 3;
    }
    out = w = apr_palloc(p, len + 1);
    for (const char *s = path; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (path_byte_is_kept(path, s)) {
            *w++ = (char)c;
            continue;
        }
        *w++ = '%';
        *w++ = hex[c >> 4];
        *w++ = hex[c & 0x0f];
    }
    *w = '\0';
    return out;
}

const char *kz_html_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

const char *kz_html_escape(const char *text, apr_pool_t *p)
{
    apr_size_t len = 0;
    char *out, *w;

    if (text == NULL) {
        return "";
    }
    for (const char *s = text; *s; s++) {
        const char *entity = kz_html_entity(*s);
        len += entity ? strlen(entity) : 1;
    }
    out = w = apr_palloc(p, len + 1);
    for (const char *s = text; *s; s++) {
        const char *entity = kz_html_entity(*s);
        if (entity == NULL) {
            *w++ = *s;
            continue;
        }
        apr_size_t n = strlen(entity);
        memcpy(w, entity, n);
        w += n;
    }
    *w = '\0';
    return out;
}
