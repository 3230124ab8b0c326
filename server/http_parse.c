/*
 * The strict HTTP/1.1 request parser: the incremental head scanner and its limits, the in-place
 * head parser (RFC 9112 §2–§5, RFC 9110 §5), the checks of the framing and routing fields
 * (RFC 9112 §6 and §9.3, RFC 9110 §7.2 and §10.1.1, RFC 3986 §3.2.2 for Host) and the chunked
 * body decoder (RFC 9112 §7.1); the line scanner, field-line parser, list and Content-Length
 * readers are shared with the backend response parser (upstream_http.c). No I/O, no allocation;
 * every loop is bounded by an explicit length, never by a NUL, so a NUL in the input is just
 * another invalid byte.
 */
#include "http_parse.h"

#include <string.h>

/* RFC 9112 §2.2 lets a server skip empty lines before the request line; bound them. */
#define KZ_MAX_LEADING_CRLF  4
#define KZ_CHUNK_SIZE_DIGITS 15
#define KZ_CHUNK_LINE_MAX    4096
#define KZ_TRAILER_LINE_MAX  8192
#define KZ_TRAILER_LINES_MAX 64

/* Byte classes. Separate tables keep each initializer free of overlapping ranges. */

/* tchar, RFC 9110 §5.6.2: method and field-name characters. */
static const unsigned char tchar_class[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1,
    ['%'] = 1,         ['&'] = 1,         ['\''] = 1,        ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/*
 * Request-target bytes: visible ASCII but '#' (a fragment is never sent), and obs-text, which
 * some clients send as raw UTF-8; the URL sanitizer decides what those bytes may be.
 */
static const unsigned char target_class[256] = {
    [0x21 ... 0x22] = 1,
    [0x24 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* field-value bytes, RFC 9110 §5.5: VCHAR, obs-text, SP and HTAB. */
static const unsigned char value_class[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* reg-name bytes but pct-encoded, RFC 3986 §3.2.2: unreserved and sub-delims. */
static const unsigned char regname_class[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['-'] = 1, ['.'] = 1,  ['_'] = 1,
    ['~'] = 1,         ['!'] = 1,         ['$'] = 1,         ['&'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1,         ['*'] = 1,         ['+'] = 1,         [','] = 1, [';'] = 1,  ['='] = 1,
};

int kz_http_is_tchar(unsigned char c)
{
    return tchar_class[c];
}

int kz_http_is_text(unsigned char c)
{
    return value_class[c];
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- Scanner ---------------------------------------------------------------------------- */

/*
 * Whether a request line ends in " HTTP/" DIGIT "." DIGIT. Checked as soon as the line is
 * complete, so an HTTP/0.9 client, which never sends an empty line, gets its 400 at once.
 */
static int ends_in_version(const char *line, apr_size_t n)
{
    if (n <= 9) {
        return 0;
    }
    const char *v = line + n - 9;
    return memcmp(v, " HTTP/", 6) == 0 && is_digit(v[6]) && v[7] == '.' && is_digit(v[8]);
}

/* A complete line of line_len bytes at buf + scan->line_start, its CRLF ending at next. */
static int scan_end_line(kz_http_scan_t *scan, const char *buf, apr_size_t line_len,
                         apr_size_t next, const kz_http_limits_t *limits, apr_size_t *head_len)
{
    if (line_len == 0 && scan->lines == 0) {
        /* Only empty lines precede: each is exactly CRLF, so line_start counts them twice. */
        return scan->line_start / 2 >= KZ_MAX_LEADING_CRLF ? 400 : KZ_PARSE_AGAIN;
    }
    if (scan->lines == 0 && line_len > limits->max_request_line) {
        return 414;
    }
    if (scan->lines == 0 && !ends_in_version(buf + scan->line_start, line_len)) {
        return 400;
    }
    if (scan->lines > 0 && line_len > limits->max_field) {
        return 431;
    }
    if (next > limits->max_head) {
        return 431;
    }
    if (line_len == 0) {
        *head_len = next;
        return KZ_PARSE_OK;
    }
    scan->lines++;
    if (scan->lines - 1 > limits->max_headers) {
        return 431;
    }
    return KZ_PARSE_AGAIN;
}

/* Limits on the unfinished last line, so an endless line is refused before its LF arrives. */
static int scan_partial(const kz_http_scan_t *scan, const char *buf, apr_size_t len,
                        const kz_http_limits_t *limits)
{
    apr_size_t n = len - scan->line_start;

    /* A final CR may be the start of the line's CRLF: it is not content yet. */
    if (n > 0 && buf[len - 1] == '\r') {
        n--;
    }
    if (scan->lines == 0 && n > limits->max_request_line) {
        return 414;
    }
    if (scan->lines > 0 && n > limits->max_field) {
        return 431;
    }
    return len > limits->max_head ? 431 : KZ_PARSE_AGAIN;
}

int kz_http_scan_line(kz_http_scan_t *scan, const char *buf, apr_size_t len, apr_size_t *cr_at)
{
    const char *p = buf + scan->pos;
    apr_size_t avail = len - scan->pos;
    const char *cr = memchr(p, '\r', avail);
    apr_size_t upto = cr ? (apr_size_t)(cr - p) : avail;

    /* Every line ends in CRLF, so any LF before the next CR is a bare LF. */
    if (memchr(p, '\n', upto)) {
        return 400;
    }
    if (!cr) {
        scan->pos = len;
        return KZ_PARSE_AGAIN;
    }
    apr_size_t at = (apr_size_t)(cr - buf);
    if (at + 1 == len) {
        scan->pos = at; /* look at this CR again when its LF may have arrived */
        return KZ_PARSE_AGAIN;
    }
    if (buf[at + 1] != '\n') {
        return 400;
    }
    *cr_at = at;
    return KZ_PARSE_OK;
}

int kz_http_scan_head(kz_http_scan_t *scan, const char *buf, apr_size_t len,
                      const kz_http_limits_t *limits, apr_size_t *head_len)
{
    if (scan->pos > len || scan->line_start > scan->pos) {
        return 400; /* the caller lost bytes it had shown us */
    }
    while (scan->pos < len) {
        apr_size_t at;
        int rc = kz_http_scan_line(scan, buf, len, &at);
        if (rc == KZ_PARSE_AGAIN) {
            break;
        }
        if (rc != KZ_PARSE_OK) {
            return rc;
        }
        rc = scan_end_line(scan, buf, at - scan->line_start, at + 2, limits, head_len);
        scan->pos = scan->line_start = at + 2;
        if (rc != KZ_PARSE_AGAIN) {
            return rc;
        }
    }
    return scan_partial(scan, buf, len, limits);
}

/* ---- Head parser ------------------------------------------------------------------------ */

/*
 * The parser relies on the head ending in CRLF CRLF (checked first): CR belongs to no byte class,
 * so every class loop stops inside the buffer without a bounds test.
 */

static int parse_version(kz_http_head_t *head, char *p, const char *end)
{
    if (end - p < 10 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) || p[6] != '.' ||
        !is_digit(p[7]) || p[8] != '\r' || p[9] != '\n') {
        return 400;
    }
    /* RFC 9110 §2.5: a higher minor version of a major we implement is processed as 1.1. */
    if (p[5] != '1') {
        return 505;
    }
    head->version = p[7] == '0' ? 10 : 11;
    p[8] = p[9] = '\0';
    return KZ_PARSE_OK;
}

/* request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3). */
static int parse_request_line(kz_http_head_t *head, char **pp, const char *end)
{
    char *p = *pp;
    char *start = p;

    while (tchar_class[(unsigned char)*p]) {
        p++;
    }
    if (p == start || *p != ' ') {
        return 400;
    }
    head->method = start;
    head->method_len = (apr_size_t)(p - start);
    *p++ = '\0';
    start = p;
    while (target_class[(unsigned char)*p]) {
        p++;
    }
    /* A CR right after the target is an HTTP/0.9 request: not supported. */
    if (p == start || *p != ' ') {
        return 400;
    }
    head->target = start;
    head->target_len = (apr_size_t)(p - start);
    *p++ = '\0';
    int rc = parse_version(head, p, end);
    *pp = p + 10;
    return rc;
}

/* field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 §5). */
static int parse_field(kz_http_field_t *f, char **pp)
{
    char *p = *pp;
    char *start = p;

    /* An empty name also catches obs-fold and whitespace before the first field. */
    while (tchar_class[(unsigned char)*p]) {
        p++;
    }
    if (p == start || *p != ':') {
        return 400;
    }
    f->name = start;
    f->name_len = (apr_size_t)(p - start);
    *p++ = '\0';
    while (is_ows(*p)) {
        p++;
    }
    start = p;
    while (value_class[(unsigned char)*p]) {
        p++;
    }
    if (*p != '\r' || p[1] != '\n') {
        return 400; /* NUL, bare CR or another control byte */
    }
    char *stop = p;
    while (stop > start && is_ows(stop[-1])) {
        stop--;
    }
    *stop = '\0';
    p[0] = p[1] = '\0';
    f->value = start;
    f->value_len = (apr_size_t)(stop - start);
    *pp = p + 2;
    return KZ_PARSE_OK;
}

int kz_http_parse_fields(kz_http_field_t *fields, int *nfields, int max_fields, char *p,
                         const char *end)
{
    for (;;) {
        if (end - p < 2) {
            return 400;
        }
        if (*p == '\r') {
            /* The empty line must be the one that ends the head. */
            if (p[1] != '\n' || p + 2 != end) {
                return 400;
            }
            p[0] = p[1] = '\0';
            return KZ_PARSE_OK;
        }
        kz_http_field_t f;
        int rc = parse_field(&f, &p);
        if (rc != KZ_PARSE_OK) {
            return rc;
        }
        if (*nfields >= max_fields) {
            return 431;
        }
        fields[(*nfields)++] = f;
    }
}

int kz_http_parse_head(kz_http_head_t *head, char *buf, apr_size_t head_len,
                       kz_http_field_t *fields, int max_fields)
{
    char *p = buf;
    const char *end = buf + head_len;

    memset(head, 0, sizeof(*head));
    head->fields = fields;
    if (head_len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0) {
        return 400;
    }
    for (int i = 0; i < KZ_MAX_LEADING_CRLF && end - p >= 2 && p[0] == '\r' && p[1] == '\n'; i++) {
        p += 2;
    }
    /* Keep the CRLF CRLF sentinel inside what the class loops may read. */
    if (end - p < 4) {
        return 400;
    }
    int rc = parse_request_line(head, &p, end);
    if (rc != KZ_PARSE_OK) {
        return rc;
    }
    return kz_http_parse_fields(fields, &head->nfields, max_fields, p, end);
}

/* ---- Field semantics -------------------------------------------------------------------- */

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* Whether s[0..n) equals the lowercase literal lower, ignoring ASCII case. */
static int ascii_ieq(const char *s, apr_size_t n, const char *lower)
{
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char c = ascii_lower((unsigned char)s[i]);
        if (lower[i] == '\0' || c != (unsigned char)lower[i]) {
            return 0;
        }
    }
    return lower[n] == '\0';
}

const kz_http_field_t *kz_http_field(const kz_http_head_t *head, const char *name)
{
    apr_size_t n = strlen(name);

    for (int i = 0; i < head->nfields; i++) {
        const kz_http_field_t *f = &head->fields[i];
        apr_size_t j = 0;
        if (f->name_len != n) {
            continue;
        }
        while (j < n &&
               ascii_lower((unsigned char)f->name[j]) == ascii_lower((unsigned char)name[j])) {
            j++;
        }
        if (j == n) {
            return f;
        }
    }
    return NULL;
}

int kz_http_list_next(const char **pos, const char *end, const char **elem, apr_size_t *elem_len)
{
    const char *p = *pos;

    /* Recipients must accept and ignore empty elements. */
    while (p < end && (is_ows(*p) || *p == ',')) {
        p++;
    }
    if (p == end) {
        *pos = p;
        return 0;
    }
    const char *start = p;
    while (p < end && *p != ',') {
        p++;
    }
    const char *stop = p;
    while (is_ows(stop[-1])) {
        stop--; /* stops at start at the latest: its byte is not OWS */
    }
    *elem = start;
    *elem_len = (apr_size_t)(stop - start);
    *pos = p;
    return 1;
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros (RFC 3986 §3.2.2). */
static int ipv4_valid(const char *s, apr_size_t n)
{
    apr_size_t i = 0;

    for (int octet = 0; octet < 4; octet++) {
        apr_size_t start = i;
        int v = 0;
        while (i < n && is_digit(s[i]) && i - start < 3) {
            v = v * 10 + (s[i++] - '0');
        }
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) {
            return 0;
        }
        if (octet < 3 && (i == n || s[i++] != '.')) {
            return 0;
        }
    }
    return i == n;
}

/* IPv6address of RFC 3986 §3.2.2: eight h16, or fewer around one "::", maybe an IPv4 tail. */
static int ipv6_valid(const char *s, apr_size_t n)
{
    apr_size_t i = 0;
    int groups = 0, gap = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 1;
        i = 2;
    }
    while (i < n) {
        apr_size_t start = i;
        while (i < n && hex_value(s[i]) >= 0 && i - start < 5) {
            i++;
        }
        if (i < n && s[i] == '.') {
            if (!ipv4_valid(s + start, n - start)) {
                return 0;
            }
            groups += 2;
            break;
        }
        if (i == start || i - start > 4) {
            return 0;
        }
        groups++;
        if (i == n) {
            break;
        }
        if (s[i++] != ':' || i == n) {
            return 0; /* another byte, or a single trailing colon */
        }
        if (s[i] == ':') {
            if (gap++) {
                return 0;
            }
            i++;
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]", given without the brackets. */
static int ip_literal_valid(const char *s, apr_size_t n)
{
    apr_size_t i = 1;

    if (n == 0 || (s[0] != 'v' && s[0] != 'V')) {
        return ipv6_valid(s, n);
    }
    while (i < n && hex_value(s[i]) >= 0) {
        i++;
    }
    if (i == 1 || i == n || s[i++] != '.' || i == n) {
        return 0;
    }
    for (; i < n; i++) {
        if (!regname_class[(unsigned char)s[i]] && s[i] != ':') {
            return 0;
        }
    }
    return 1;
}

/* reg-name = *( unreserved / pct-encoded / sub-delims ); returns where it stops. */
static apr_size_t regname_len(const char *s, apr_size_t n)
{
    apr_size_t i = 0;

    while (i < n) {
        if (regname_class[(unsigned char)s[i]]) {
            i++;
        } else if (s[i] == '%' && n - i >= 3 && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            i += 3;
        } else {
            break;
        }
    }
    return i;
}

/*
 * Host = uri-host [ ":" port ] (RFC 9110 §7.2). An empty host is refused: it is only meaningful
 * with an absolute-form target, which this server does not serve from Host. The port may be
 * empty, as RFC 3986 allows.
 */
static int host_valid(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || !ip_literal_valid(s + 1, (apr_size_t)(close - s) - 1)) {
            return 0;
        }
        i = (apr_size_t)(close - s) + 1;
    } else {
        i = regname_len(s, n);
        if (i == 0) {
            return 0;
        }
    }
    if (i == n) {
        return 1;
    }
    if (s[i++] != ':') {
        return 0;
    }
    while (i < n && is_digit(s[i])) {
        i++;
    }
    return i == n;
}

int kz_http_parse_length(const char *s, apr_size_t n, apr_off_t *out)
{
    const apr_uint64_t max =
        sizeof(apr_off_t) >= sizeof(apr_int64_t) ? (apr_uint64_t)APR_INT64_MAX : APR_INT32_MAX;
    apr_uint64_t v = 0;

    if (n == 0) {
        return 0;
    }
    for (apr_size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return 0;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = (apr_off_t)v;
    return 1;
}

/* What all the fields say, gathered before any decision. */
typedef struct framing {
    int hosts;
    int lengths;
    int length_invalid;
    int te_fields;
    int te_codings;
    int te_after_chunked; /* a coding follows chunked: chunked is not last */
    int te_last_chunked;
    int te_other;
    int conn_close;
    int conn_keep_alive;
    int conn_upgrade;
    int has_upgrade;
    int expect_continue;
    int expect_other;
} framing_t;

static void note_transfer_encoding(framing_t *fr, const kz_http_field_t *f)
{
    const char *p = f->value, *end = f->value + f->value_len, *e;
    apr_size_t n;

    fr->te_fields++;
    while (kz_http_list_next(&p, end, &e, &n)) {
        int chunked = ascii_ieq(e, n, "chunked");
        if (fr->te_last_chunked) {
            fr->te_after_chunked = 1;
        }
        fr->te_other |= !chunked;
        fr->te_last_chunked = chunked;
        fr->te_codings++;
    }
}

static void note_connection(framing_t *fr, const kz_http_field_t *f)
{
    const char *p = f->value, *end = f->value + f->value_len, *e;
    apr_size_t n;

    while (kz_http_list_next(&p, end, &e, &n)) {
        fr->conn_close |= ascii_ieq(e, n, "close");
        fr->conn_keep_alive |= ascii_ieq(e, n, "keep-alive");
        fr->conn_upgrade |= ascii_ieq(e, n, "upgrade");
    }
}

static void note_expect(framing_t *fr, const kz_http_field_t *f)
{
    const char *p = f->value, *end = f->value + f->value_len, *e;
    apr_size_t n;

    while (kz_http_list_next(&p, end, &e, &n)) {
        if (ascii_ieq(e, n, "100-continue")) {
            fr->expect_continue = 1;
        } else {
            fr->expect_other = 1;
        }
    }
}

static void note_field(framing_t *fr, kz_http_info_t *info, const kz_http_field_t *f)
{
    const char *name = f->name;
    apr_size_t n = f->name_len;

    if (ascii_ieq(name, n, "host")) {
        if (fr->hosts++ == 0) {
            info->host = f->value;
            info->host_len = f->value_len;
        }
    } else if (ascii_ieq(name, n, "content-length")) {
        fr->lengths++;
        fr->length_invalid |= !kz_http_parse_length(f->value, f->value_len, &info->content_length);
    } else if (ascii_ieq(name, n, "transfer-encoding")) {
        note_transfer_encoding(fr, f);
    } else if (ascii_ieq(name, n, "connection")) {
        note_connection(fr, f);
    } else if (ascii_ieq(name, n, "upgrade")) {
        fr->has_upgrade = 1;
    } else if (ascii_ieq(name, n, "expect")) {
        note_expect(fr, f);
    }
}

static int decide(kz_http_info_t *info, const framing_t *fr, int version)
{
    if (fr->hosts > 1 || (version == 11 && fr->hosts == 0)) {
        return 400;
    }
    if (fr->hosts == 1 && !host_valid(info->host, info->host_len)) {
        return 400;
    }
    /* One Content-Length field only, even with equal values: the strict reading of §6.3. */
    if (fr->lengths > 1 || fr->length_invalid) {
        return 400;
    }
    if (fr->te_fields > 0) {
        if (fr->lengths > 0 || version == 10 || fr->te_codings == 0 || fr->te_after_chunked) {
            return 400;
        }
        if (fr->te_other) {
            return 501;
        }
        info->chunked = 1;
    }
    if (fr->expect_other) {
        return 417;
    }
    /* RFC 9110 §10.1.1 and §7.8: an HTTP/1.0 request's 100-continue and Upgrade are ignored. */
    info->expect_continue = version == 11 && fr->expect_continue;
    info->upgrade = version == 11 && fr->conn_upgrade && fr->has_upgrade;
    info->keep_alive = !fr->conn_close && (version == 11 || fr->conn_keep_alive);
    return KZ_PARSE_OK;
}

int kz_http_analyze(kz_http_info_t *info, const kz_http_head_t *head)
{
    framing_t fr;

    memset(&fr, 0, sizeof(fr));
    memset(info, 0, sizeof(*info));
    info->content_length = -1;
    for (int i = 0; i < head->nfields; i++) {
        note_field(&fr, info, &head->fields[i]);
    }
    int rc = decide(info, &fr, head->version);
    if (rc != KZ_PARSE_OK) {
        info->keep_alive = 0; /* the framing is in doubt: the connection must close */
    }
    return rc;
}

/* ---- Chunked decoder -------------------------------------------------------------------- */

enum {
    CH_SIZE = 0, /* chunk-size digits (the zeroed state) */
    CH_SIZE_BWS, /* whitespace after the size, before ';' */
    CH_EXT,      /* chunk extensions, skipped */
    CH_SIZE_LF,  /* the LF of the size line */
    CH_DATA,     /* chunk data */
    CH_DATA_CR,  /* the CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER,    /* the start of a trailer line, or of the final empty line */
    CH_TRAILER_IN, /* inside a trailer line */
    CH_TRAILER_LF,
    CH_FINAL_LF,
    CH_DONE,
    CH_ERROR
};

/* chunk-size [ chunk-ext ] CRLF, where chunk-ext = *( BWS ";" ... ) is skipped. */
static int chunk_size_byte(kz_chunked_t *st, unsigned char c)
{
    int v = hex_value(c);

    if (st->state == CH_SIZE && v >= 0) {
        if (st->line_len >= KZ_CHUNK_SIZE_DIGITS) {
            return 400;
        }
        st->remaining = st->remaining * 16 + (apr_uint64_t)v;
        st->line_len++;
        return KZ_PARSE_AGAIN;
    }
    if (st->state == CH_SIZE && st->line_len == 0) {
        return 400; /* no digits */
    }
    if (st->state == CH_EXT) {
        if (c == '\r') {
            st->state = CH_SIZE_LF;
            return KZ_PARSE_AGAIN;
        }
        if (!kz_http_is_text(c)) {
            return 400;
        }
    } else if (c == '\r' && st->state == CH_SIZE) {
        st->state = CH_SIZE_LF;
        return KZ_PARSE_AGAIN;
    } else if (c == ';') {
        st->state = CH_EXT;
    } else if (is_ows((char)c)) {
        st->state = CH_SIZE_BWS; /* BWS must lead to ';', not to CRLF */
    } else {
        return 400;
    }
    return ++st->line_len > KZ_CHUNK_LINE_MAX ? 400 : KZ_PARSE_AGAIN;
}

static int chunk_trailer_byte(kz_chunked_t *st, unsigned char c)
{
    switch (st->state) {
    case CH_TRAILER:
        if (c == '\r') {
            st->state = CH_FINAL_LF;
            return KZ_PARSE_AGAIN;
        }
        /* A trailer starting with whitespace would be an obs-fold. */
        if (is_ows((char)c) || ++st->trailers > KZ_TRAILER_LINES_MAX) {
            return 400;
        }
        st->line_len = 0;
        st->state = CH_TRAILER_IN;
        /* fall through */
    case CH_TRAILER_IN:
        if (c == '\r') {
            st->state = CH_TRAILER_LF;
            return KZ_PARSE_AGAIN;
        }
        return kz_http_is_text(c) && ++st->line_len <= KZ_TRAILER_LINE_MAX ? KZ_PARSE_AGAIN : 400;
    case CH_TRAILER_LF:
        st->state = CH_TRAILER;
        return c == '\n' ? KZ_PARSE_AGAIN : 400;
    default: /* CH_FINAL_LF */
        st->state = CH_DONE;
        return c == '\n' ? KZ_PARSE_OK : 400;
    }
}

/* One byte outside chunk data. */
static int chunk_byte(kz_chunked_t *st, unsigned char c)
{
    switch (st->state) {
    case CH_SIZE:
    case CH_SIZE_BWS:
    case CH_EXT:
        return chunk_size_byte(st, c);
    case CH_SIZE_LF:
        if (c != '\n') {
            return 400;
        }
        st->line_len = 0;
        st->state = st->remaining ? CH_DATA : CH_TRAILER;
        return KZ_PARSE_AGAIN;
    case CH_DATA_CR:
        st->state = CH_DATA_LF;
        return c == '\r' ? KZ_PARSE_AGAIN : 400;
    case CH_DATA_LF:
        st->state = CH_SIZE;
        return c == '\n' ? KZ_PARSE_AGAIN : 400;
    default:
        return chunk_trailer_byte(st, c);
    }
}

int kz_chunked_decode(kz_chunked_t *st, char *buf, apr_size_t len, apr_size_t *consumed,
                      apr_size_t *out_len)
{
    apr_size_t in = 0, out = 0;
    int rc = KZ_PARSE_AGAIN;

    if (st->state == CH_DONE || st->state == CH_ERROR) {
        *consumed = *out_len = 0;
        return st->state == CH_DONE ? KZ_PARSE_OK : 400;
    }
    while (in < len && rc == KZ_PARSE_AGAIN) {
        if (st->state != CH_DATA) {
            rc = chunk_byte(st, (unsigned char)buf[in++]);
            continue;
        }
        apr_size_t n = len - in;
        if (n > st->remaining) {
            n = (apr_size_t)st->remaining;
        }
        /* out never passes in: each chunk's framing bytes were dropped before its data. */
        if (out != in) {
            memmove(buf + out, buf + in, n);
        }
        out += n;
        in += n;
        st->remaining -= n;
        if (st->remaining == 0) {
            st->state = CH_DATA_CR;
        }
    }
    if (rc != KZ_PARSE_AGAIN && rc != KZ_PARSE_OK) {
        st->state = CH_ERROR;
    }
    *consumed = in;
    *out_len = out;
    return rc;
}

int kz_ascii_caseeq(const char *a, const char *b, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y && ((x | 0x20) != y || y < 'a' || y > 'z')) {
            return 0;
        }
    }
    return 1;
}
