/*
 * Responses (RFC 9110 §6, §15; RFC 9112 §4, §6): the head is assembled in one buffer (status
 * line, Date from the loop's per-second cache, Server, the handler's fields, customHeaders when
 * absent, framing, Connection), sent with the body in one writev, or with sendfile after it.
 */
#include "core.h"
#include "errpage.h"
#include "kz_listen.h"
#include "url.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

KZ_API void kz_response_header(kz_request_t *r, const char *name, const char *value)
{
    kz_header_pair_t *h = apr_array_push(r->headers);

    h->name = name;
    h->value = value;
}

KZ_API const char *kz_response_header_get(const kz_request_t *r, const char *name)
{
    const kz_header_pair_t *h = (const kz_header_pair_t *)r->headers->elts;

    for (int i = 0; i < r->headers->nelts; i++) {
        if (strcasecmp(h[i].name, name) == 0) {
            return h[i].value;
        }
    }
    return NULL;
}

void kz_response_body_clear(kz_request_t *r)
{
    r->nsegs = 0;
    r->body_len = 0;
    r->pull = NULL;
    r->pull_baton = NULL;
}

static kz_body_seg_t *seg_push(kz_request_t *r)
{
    if (!r->segs) {
        r->segs = r->seg_inline;
        r->segs_cap = (int)(sizeof(r->seg_inline) / sizeof(r->seg_inline[0]));
    }
    if (r->nsegs == r->segs_cap) {
        kz_body_seg_t *more = apr_palloc(r->pool, 2 * (apr_size_t)r->segs_cap * sizeof(*more));
        memcpy(more, r->segs, (apr_size_t)r->nsegs * sizeof(*more));
        r->segs = more;
        r->segs_cap *= 2;
    }
    return &r->segs[r->nsegs++];
}

KZ_API void kz_response_body_add_mem(kz_request_t *r, const char *data, apr_size_t len)
{
    kz_body_seg_t *s;

    if (len == 0) {
        return; /* an empty segment would never advance the writer */
    }
    s = seg_push(r);
    *s = (kz_body_seg_t){.data = data, .len = (apr_off_t)len};
    r->body_len += (apr_off_t)len;
}

KZ_API void kz_response_body_add_file(kz_request_t *r, apr_file_t *file, apr_off_t offset,
                                      apr_off_t len)
{
    kz_body_seg_t *s;

    if (len <= 0) {
        return;
    }
    s = seg_push(r);
    *s = (kz_body_seg_t){.file = file, .offset = offset, .len = len};
    r->body_len += len;
}

KZ_API void kz_response_body_mem(kz_request_t *r, const char *data, apr_size_t len)
{
    kz_response_body_clear(r);
    kz_response_body_add_mem(r, data, len);
}

KZ_API void kz_response_body_file(kz_request_t *r, apr_file_t *file, apr_off_t offset,
                                  apr_off_t len)
{
    kz_response_body_clear(r);
    kz_response_body_add_file(r, file, offset, len);
}

void kz_response_body_stream(kz_request_t *r, kz_body_pull_fn fn, void *baton, apr_off_t len)
{
    r->pull = fn;
    r->pull_baton = baton;
    r->body_len = len < 0 ? -1 : r->body_len + len;
}

void kz_response_reset(kz_request_t *r)
{
    r->status = 0;
    r->headers->nelts = 0;
    kz_response_body_clear(r);
}

KZ_API void kz_response_status(kz_request_t *r, int status)
{
    r->status = status;
}

/* Fields a handler sets to go with an error status (RFC 9110 §10.2, §11.6): they survive the
 * error page; whatever described a body that is no longer sent does not. */
static int keeps_with_error(const char *name)
{
    static const char *const kept[] = {
        "Allow",      "Location",     "Retry-After", "WWW-Authenticate", "Proxy-Authenticate",
        "Set-Cookie", "Cache-Control"};

    for (apr_size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        if (strcasecmp(name, kept[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void keep_error_headers(kz_request_t *r)
{
    kz_header_pair_t *h = (kz_header_pair_t *)r->headers->elts;
    int n = 0;

    for (int i = 0; i < r->headers->nelts; i++) {
        if (keeps_with_error(h[i].name)) {
            h[n++] = h[i];
        }
    }
    r->headers->nelts = n;
}

void kz_response_error(kz_request_t *r, int status)
{
    const char *page;
    apr_size_t len;

    r->status = status;
    keep_error_headers(r);
    len = kz_errpage_render(&page, status, status == 500 ? r->conf->admin_email : NULL, r->pool);
    kz_response_body_mem(r, page, len);
    kz_response_header(r, "Content-Type", "text/html; charset=utf-8");
}

/* Statuses whose responses never carry content (RFC 9110 §6.4.1). */
static int status_has_no_content(int status)
{
    return status < 200 || status == 204 || status == 304;
}

static char *append(char *p, const char *s, apr_size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define APPEND_LIT(p, lit) append(p, lit, sizeof(lit) - 1)

/* Decimal digits of v, without apr_snprintf's format parsing (this runs per response). */
static char *append_uint(char *p, apr_uint64_t v)
{
    char tmp[24], *t = tmp + sizeof(tmp);

    do {
        *--t = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return append(p, t, (apr_size_t)(tmp + sizeof(tmp) - t));
}

static char *append_field(char *p, const char *name, const char *value)
{
    p = append(p, name, strlen(name));
    p = APPEND_LIT(p, ": ");
    p = append(p, value, strlen(value));
    return APPEND_LIT(p, "\r\n");
}

/* customHeaders with `{path}` replaced by the request's path (percent-encoded, so a header can
 * never carry a control character); the configured array itself when nothing has it. */
static const apr_array_header_t *custom_headers(const kz_request_t *r)
{
    const apr_array_header_t *ch = r->conf->custom_headers;
    apr_array_header_t *out;
    const char *path;

    if (!ch || !r->conf->custom_headers_path) {
        return ch;
    }
    path = r->path ? kz_url_encode_path(r->path, r->pool) : "";
    out = apr_array_copy(r->pool, ch);
    for (int i = 0; i < out->nelts; i++) {
        kz_header_pair_t *h = &APR_ARRAY_IDX(out, i, kz_header_pair_t);
        const char *at;
        while ((at = strstr(h->value, "{path}")) != NULL) {
            h->value = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, h->value, at - h->value), path,
                                   at + 6, NULL);
        }
    }
    return out;
}

static apr_size_t custom_headers_size(const apr_array_header_t *ch)
{
    apr_size_t size = 0;

    for (int i = 0; ch && i < ch->nelts; i++) {
        const kz_header_pair_t *h = &APR_ARRAY_IDX(ch, i, kz_header_pair_t);
        size += strlen(h->name) + strlen(h->value) + 4;
    }
    return size;
}

/* The write list: the head, then the body's segments (none for HEAD or a bodiless status). */
static void out_prepare(kz_request_t *r, const char *head, apr_size_t head_len)
{
    int body = !r->head_only && (r->nsegs > 0 || r->pull);
    int n = 1 + (body ? r->nsegs : 0);

    /* Room for a pulled chunk (size line, data, CRLF), after the head when it is the first. */
    r->out = apr_palloc(r->pool, (apr_size_t)(n > 4 ? n : 4) * sizeof(kz_body_seg_t));
    r->out[0] = (kz_body_seg_t){.data = head, .len = (apr_off_t)head_len, .framing = 1};
    for (int i = 1; i < n; i++) {
        r->out[i] = r->segs[i - 1];
    }
    r->nout = n;
    r->out_at = 0;
    r->out_off = 0;
    r->pull_done = !body || !r->pull;
}

void kz_response_prepare(kz_request_t *r)
{
    const kz_global_t *g = &r->rc->config->global;
    const apr_array_header_t *ch = custom_headers(r);
    const kz_header_pair_t *h = (const kz_header_pair_t *)r->headers->elts;
    const char *reason;
    apr_size_t size;
    char *head, *p;

    if (r->status == 0) {
        r->status = 200;
    }
    reason = kz_status_reason(r->status);
    /* The fixed parts (status line, Date, framing, Connection) take well under 256 bytes. */
    size = 256 + strlen(reason) + strlen(g->server_header) + custom_headers_size(ch);
    for (int i = 0; i < r->headers->nelts; i++) {
        size += strlen(h[i].name) + strlen(h[i].value) + 4;
    }
    p = head = apr_palloc(r->pool, size);
    p = APPEND_LIT(p, "HTTP/1.1 ");
    p = append_uint(p, (apr_uint64_t)r->status);
    *p++ = ' ';
    p = append(p, reason, strlen(reason));
    p = APPEND_LIT(p, "\r\nDate: ");
    p = append(p, r->conn->loop->date, 29);
    p = APPEND_LIT(p, "\r\n");
    if (*g->server_header) {
        p = append_field(p, "Server", g->server_header);
    }
    for (int i = 0; i < r->headers->nelts; i++) {
        p = append_field(p, h[i].name, h[i].value);
    }
    for (int i = 0; ch && i < ch->nelts; i++) {
        const kz_header_pair_t *c = &APR_ARRAY_IDX(ch, i, kz_header_pair_t);
        if (!kz_response_header_get(r, c->name)) {
            p = append_field(p, c->name, c->value);
        }
    }
    if (status_has_no_content(r->status)) {
        kz_response_body_clear(r);
    } else if (r->body_len >= 0) {
        p = APPEND_LIT(p, "Content-Length: ");
        p = append_uint(p, (apr_uint64_t)r->body_len);
        p = APPEND_LIT(p, "\r\n");
    } else if (r->head.version >= 11) {
        r->chunked_out = 1;
        p = APPEND_LIT(p, "Transfer-Encoding: chunked\r\n");
    } else {
        r->close = 1; /* HTTP/1.0 without a length: the close ends the body */
    }
    if (r->status == 101) {
        /* Switching protocols: the handler set Connection and Upgrade itself. */
    } else if (r->close) {
        p = APPEND_LIT(p, "Connection: close\r\n");
    } else if (r->head.version == 10) {
        p = APPEND_LIT(p, "Connection: keep-alive\r\n");
    }
    p = APPEND_LIT(p, "\r\n");
    out_prepare(r, head, (apr_size_t)(p - head));
}

/* Moves the write position past n written bytes. */
static void out_advance(kz_request_t *r, apr_size_t n)
{
    while (n > 0 && r->out_at < r->nout) {
        kz_body_seg_t *s = &r->out[r->out_at];
        apr_off_t left = s->len - r->out_off;
        apr_off_t take = (apr_off_t)n < left ? (apr_off_t)n : left;

        if (!s->framing) {
            r->body_sent += take;
        }
        r->out_off += take;
        n -= (apr_size_t)take;
        if (r->out_off == s->len) {
            r->out_at++;
            r->out_off = 0;
        }
    }
}

#define KZ_MAX_IOV 32

/* Writes the memory segments from the current one on, in one writev; MSG_MORE when a file
 * segment follows, so the kernel can join the head with it. Never for a streamed piece: the
 * producer may have nothing more for a while, and corked bytes would wait 200 ms. */
static apr_status_t out_write_mem(kz_request_t *r)
{
    struct iovec iov[KZ_MAX_IOV];
    int n = 0, i = r->out_at;
    apr_size_t sent = 0;
    apr_status_t rv;

    for (; i < r->nout && r->out[i].data && n < KZ_MAX_IOV; i++) {
        apr_off_t skip = i == r->out_at ? r->out_off : 0;
        iov[n].iov_base = (char *)r->out[i].data + skip;
        iov[n++].iov_len = (apr_size_t)(r->out[i].len - skip);
    }
    if (i < r->nout) {
        rv = kz_socket_sendv_more(r->conn->sock, iov, n, &sent);
    } else {
        rv = apr_socket_sendv(r->conn->sock, iov, n, &sent);
    }
    out_advance(r, sent);
    return rv;
}

static apr_status_t out_write_file(kz_request_t *r)
{
    kz_body_seg_t *s = &r->out[r->out_at];
    apr_off_t off = s->offset + r->out_off;
    apr_off_t left = s->len - r->out_off;
    apr_size_t n = left > (apr_off_t)(1 << 30) ? (apr_size_t)1 << 30 : (apr_size_t)left;
    apr_status_t rv = kz_socket_sendfile(r->conn->sock, s->file, &off, &n);

    out_advance(r, n);
    if (rv == APR_SUCCESS && n == 0) {
        return APR_EOF; /* the file shrank under us */
    }
    return rv;
}

/* Asks the producer for the next piece and queues it (with chunk framing when chunked) after
 * the first keep entries of the write list (1: the head not written yet, so both go in one
 * writev; 0: everything before was written). */
static apr_status_t out_pull(kz_request_t *r, int keep)
{
    const char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv = r->pull(r, r->pull_baton, &data, &len);
    char *end = r->chunk_line + sizeof(r->chunk_line);
    char *p = end;

    r->pull_started = 1;
    r->nout = keep;
    if (!keep) {
        r->out_at = 0;
        r->out_off = 0;
    }
    if (rv == APR_EOF) {
        r->pull_done = 1;
        if (r->chunked_out) {
            r->out[r->nout++] = (kz_body_seg_t){.data = "0\r\n\r\n", .len = 5, .framing = 1};
        }
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS || len == 0) {
        return rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    if (r->chunked_out) {
        *--p = '\n';
        *--p = '\r';
        for (apr_size_t v = len; p == end - 2 || v; v >>= 4) {
            *--p = "0123456789abcdef"[v & 15];
        }
        r->out[r->nout++] = (kz_body_seg_t){.data = p, .len = end - p, .framing = 1};
    }
    r->out[r->nout++] = (kz_body_seg_t){.data = data, .len = (apr_off_t)len};
    if (r->chunked_out) {
        r->out[r->nout++] = (kz_body_seg_t){.data = "\r\n", .len = 2, .framing = 1};
    }
    return APR_SUCCESS;
}

apr_status_t kz_response_write(kz_request_t *r)
{
    apr_status_t rv;
    int asked = 0; /* the producer said KZ_EWAIT just now: asking again would only repeat it */

    r->waiting = 0;
    if (!r->pull_started && r->out_at == 0 && r->out_off == 0 && r->nout == 1 && r->pull &&
        !r->pull_done) {
        /* A streamed body: its first piece joins the head when the producer has one ready. */
        rv = out_pull(r, 1);
        asked = rv == KZ_EWAIT;
        if (rv != APR_SUCCESS && rv != KZ_EWAIT) {
            /* Nothing went out yet: the client gets a 502 rather than a cut connection. */
            kz_response_reset(r);
            kz_errors_respond(r, 502);
            r->close = 1;
            r->chunked_out = 0;
            kz_response_prepare(r);
        }
    }
    for (;;) {
        while (r->out_at < r->nout) {
            rv = r->out[r->out_at].data ? out_write_mem(r) : out_write_file(r);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
        if (!r->pull || r->pull_done) {
            return APR_SUCCESS;
        }
        if (asked) {
            r->waiting = 1;
            return KZ_EWAIT;
        }
        if ((rv = out_pull(r, 0)) != APR_SUCCESS) {
            r->waiting = rv == KZ_EWAIT;
            return rv;
        }
    }
}
