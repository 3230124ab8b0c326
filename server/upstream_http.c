/*
 * The strict backend response parser: the incremental head scanner (RFC 9112 §2.2), the in-place
 * status-line and field parser (RFC 9112 §4, §5; RFC 9110 §5.5, §5.6.2), the framing decision
 * (RFC 9112 §6.1, §6.3, §9.3; RFC 9110 §8.6, §15.2) and the hop-by-hop field set (RFC 9110
 * §7.6.1). The line scanner, field-line parser, list and Content-Length readers are the request
 * parser's (http_parse.c), so both directions read a head alike. No I/O, no allocation; loops are
 * bounded by explicit lengths or by the CRLF CRLF that ends every head, never by a NUL, so a NUL in
 * the input is just another invalid byte.
 */
#include "upstream_http.h"

#include <string.h>

#define KZ_BAD_GATEWAY 502

static const char http_prefix[] = "HTTP/";

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ---- Scanner ---------------------------------------------------------------------------- */

/* Whether the bytes received so far can still begin "HTTP/". */
static int starts_like_http(const char *buf, apr_size_t len)
{
    apr_size_t n = len < sizeof(http_prefix) - 1 ? len : sizeof(http_prefix) - 1;

    return memcmp(buf, http_prefix, n) == 0;
}

int kz_resp_scan(kz_http_scan_t *scan, const char *buf, apr_size_t len, apr_size_t max_head,
                 int max_fields, apr_size_t *head_len)
{
    if (scan->pos > len || scan->line_start > scan->pos || !starts_like_http(buf, len)) {
        return KZ_BAD_GATEWAY; /* not a response, or the caller lost bytes it had shown us */
    }
    while (scan->pos < len) {
        apr_size_t at;
        int rc = kz_http_scan_line(scan, buf, len, &at);
        if (rc == KZ_PARSE_AGAIN) {
            break;
        }
        /* A bare CR or LF (the next hop may split such lines otherwise), or past max_head. */
        if (rc != KZ_PARSE_OK || at + 2 > max_head) {
            return KZ_BAD_GATEWAY;
        }
        if (at == scan->line_start) {
            *head_len = at + 2;
            return KZ_PARSE_OK;
        }
        /* The status line is line 1: fields are the lines after it. */
        if (++scan->lines - 1 > max_fields) {
            return KZ_BAD_GATEWAY;
        }
        scan->pos = scan->line_start = at + 2;
    }
    /* Unfinished: had the head ended within max_head bytes, its end would have been found. */
    return len > max_head ? KZ_BAD_GATEWAY : KZ_PARSE_AGAIN;
}

/* ---- Head parser ------------------------------------------------------------------------ */

/*
 * The parser relies on the head ending in CRLF CRLF (checked first): CR belongs to no byte class
 * the loops accept, so every loop stops inside the buffer without a bounds test.
 */

/* "HTTP/" DIGIT "." DIGIT SP 3DIGIT, then SP reason CRLF, or CRLF at once for an empty reason. */
static int parse_status_line(kz_resp_head_t *head, char **pp, const char *end)
{
    char *p = *pp;

    /* The shortest head, "HTTP/1.1 200" CRLF CRLF, keeps every fixed offset below in bounds. */
    if (end - p < 16 || memcmp(p, http_prefix, 5) != 0 || p[5] != '1' || p[6] != '.' ||
        !is_digit(p[7]) || p[8] != ' ' || !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11])) {
        return KZ_BAD_GATEWAY;
    }
    head->version = p[7] == '0' ? 10 : 11; /* RFC 9110 §2.5: a higher 1.x is read as 1.1 */
    head->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (head->status < 100 || head->status > 599) {
        return KZ_BAD_GATEWAY;
    }
    char *reason = p + 12;
    if (*reason == ' ') {
        reason++;
    } else if (*reason != '\r') {
        return KZ_BAD_GATEWAY; /* "200OK" */
    }
    p = reason;
    while (kz_http_is_text((unsigned char)*p)) {
        p++;
    }
    if (p[0] != '\r' || p[1] != '\n') {
        return KZ_BAD_GATEWAY; /* a control byte, or a bare CR or LF */
    }
    p[0] = p[1] = '\0';
    head->reason = reason;
    *pp = p + 2;
    return KZ_PARSE_OK;
}

int kz_resp_parse(kz_resp_head_t *head, char *buf, apr_size_t head_len, kz_http_field_t *fields,
                  int max_fields)
{
    char *p = buf;
    const char *end = buf + head_len;

    memset(head, 0, sizeof(*head));
    head->fields = fields;
    head->reason = "";
    if (head_len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0) {
        return KZ_BAD_GATEWAY;
    }
    int rc = parse_status_line(head, &p, end);
    if (rc != KZ_PARSE_OK) {
        return rc;
    }
    /* The request parser's field lines, with every refusal (431 for too many fields too) a 502. */
    rc = kz_http_parse_fields(fields, &head->nfields, max_fields, p, end);
    return rc == KZ_PARSE_OK ? KZ_PARSE_OK : KZ_BAD_GATEWAY;
}

/* ---- Framing ---------------------------------------------------------------------------- */

/* Whether s[0..n) is the lowercase literal lower, ignoring ASCII case. */
static int name_is(const char *s, apr_size_t n, const char *lower)
{
    return strlen(lower) == n && kz_ascii_caseeq(s, lower, n);
}

/* What the framing fields say, gathered before any decision. */
typedef struct resp_framing {
    int lengths;
    int length_invalid;
    apr_off_t length;
    int te_fields;
    int te_chunked; /* how many times chunked is named */
    int te_other;   /* a coding other than chunked is named */
    int te_last_chunked;
    int conn_close;
    int conn_keep_alive;
    int has_upgrade;
} resp_framing_t;

static void note_transfer_encoding(resp_framing_t *fr, const kz_http_field_t *f)
{
    const char *p = f->value, *end = f->value + f->value_len, *e;
    apr_size_t n;

    fr->te_fields++;
    while (kz_http_list_next(&p, end, &e, &n)) {
        int chunked = name_is(e, n, "chunked");
        fr->te_chunked += chunked;
        fr->te_other |= !chunked;
        fr->te_last_chunked = chunked;
    }
}

static void note_connection(resp_framing_t *fr, const kz_http_field_t *f)
{
    const char *p = f->value, *end = f->value + f->value_len, *e;
    apr_size_t n;

    while (kz_http_list_next(&p, end, &e, &n)) {
        fr->conn_close |= name_is(e, n, "close");
        fr->conn_keep_alive |= name_is(e, n, "keep-alive");
    }
}

static void note_field(resp_framing_t *fr, const kz_http_field_t *f)
{
    if (name_is(f->name, f->name_len, "content-length")) {
        fr->lengths++;
        fr->length_invalid |= !kz_http_parse_length(f->value, f->value_len, &fr->length);
    } else if (name_is(f->name, f->name_len, "transfer-encoding")) {
        note_transfer_encoding(fr, f);
    } else if (name_is(f->name, f->name_len, "connection")) {
        note_connection(fr, f);
    } else if (name_is(f->name, f->name_len, "upgrade")) {
        fr->has_upgrade = 1;
    }
}

/* The §6.3 ambiguities a proxy must not guess about (response splitting, RFC 9112 §11.1). */
static int framing_valid(const resp_framing_t *fr, int version)
{
    /* One Content-Length field only, even with equal values: the strict reading of §6.3. */
    if (fr->lengths > 1 || fr->length_invalid) {
        return 0;
    }
    if (fr->te_fields == 0) {
        return 1;
    }
    /* §6.1: HTTP/1.0 has no Transfer-Encoding; a 1.0 message carrying one was mangled. */
    return fr->lengths == 0 && version != 10 && fr->te_last_chunked && fr->te_chunked == 1 &&
           !fr->te_other;
}

/* Framing of a final (2xx..5xx) response that is not a tunnel. */
static void final_framing(kz_resp_info_t *info, const resp_framing_t *fr, int status,
                          int method_head, int persist)
{
    if (method_head || status == 204 || status == 304) {
        info->body = KZ_RESP_BODY_NONE;
    } else if (fr->te_fields) {
        info->body = KZ_RESP_BODY_CHUNKED;
    } else if (fr->lengths) {
        info->body = KZ_RESP_BODY_LENGTH;
        info->length = fr->length;
    } else {
        info->body = KZ_RESP_BODY_CLOSE;
        return; /* keep_alive stays 0: the end of the body is the end of the connection */
    }
    info->keep_alive = persist;
}

int kz_resp_analyze(kz_resp_info_t *info, const kz_resp_head_t *head, int method_head,
                    int method_connect)
{
    resp_framing_t fr;
    int status = head->status;
    int tunnel = method_connect && status >= 200 && status < 300;

    memset(&fr, 0, sizeof(fr));
    memset(info, 0, sizeof(*info));
    info->body = KZ_RESP_BODY_CLOSE;
    info->length = -1;
    for (int i = 0; i < head->nfields; i++) {
        note_field(&fr, &head->fields[i]);
    }
    /* §6.3 item 2: a tunnel's Content-Length and Transfer-Encoding are ignored, not judged. */
    if ((!tunnel && !framing_valid(&fr, head->version)) || (status == 101 && !fr.has_upgrade)) {
        return KZ_BAD_GATEWAY;
    }
    if (status < 200 || tunnel) {
        info->body = KZ_RESP_BODY_NONE;
        info->upgrade = status == 101;
        info->interim = status < 200 && status != 101;
        return KZ_PARSE_OK;
    }
    final_framing(info, &fr, status, method_head,
                  !fr.conn_close && (head->version == 11 || fr.conn_keep_alive));
    return KZ_PARSE_OK;
}

/* ---- Hop-by-hop fields ------------------------------------------------------------------ */

/* RFC 9110 §7.6.1 and §7.8, RFC 9112 §7.4, and the never-standard Proxy-Connection. */
static const char *const hop_fixed[] = {
    "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
};

/* Whether a[0..n) and b[0..n) are equal ignoring ASCII case (both as sent, mixed case). */
static int mixed_caseeq(const char *a, const char *b, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') {
            x |= 0x20;
        }
        if (y >= 'A' && y <= 'Z') {
            y |= 0x20;
        }
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

int kz_hop_is(const kz_hop_t *hop, const char *name, apr_size_t len)
{
    for (size_t i = 0; i < sizeof(hop_fixed) / sizeof(hop_fixed[0]); i++) {
        if (name_is(name, len, hop_fixed[i])) {
            return 1;
        }
    }
    for (int i = 0; i < hop->n; i++) {
        if (hop->lens[i] == len && mixed_caseeq(hop->names[i], name, len)) {
            return 1;
        }
    }
    return 0;
}

static int is_token(const char *s, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++) {
        if (!kz_http_is_tchar((unsigned char)s[i])) {
            return 0;
        }
    }
    return n > 0;
}

/* Adds the names of one Connection field; returns nonzero when the set is full. */
static int hop_add_list(kz_hop_t *hop, const kz_http_field_t *f)
{
    const char *p = f->value, *end = f->value + f->value_len, *e;
    apr_size_t n;

    while (kz_http_list_next(&p, end, &e, &n)) {
        if (!is_token(e, n) || kz_hop_is(hop, e, n)) {
            continue;
        }
        if (hop->n == KZ_HOP_MAX) {
            return 1;
        }
        hop->names[hop->n] = e;
        hop->lens[hop->n++] = n;
    }
    return 0;
}

int kz_hop_init(kz_hop_t *hop, const kz_http_field_t *fields, int n)
{
    memset(hop, 0, sizeof(*hop));
    for (int i = 0; i < n; i++) {
        if (name_is(fields[i].name, fields[i].name_len, "connection") &&
            hop_add_list(hop, &fields[i])) {
            return 1;
        }
    }
    return 0;
}
