/*
 * Responses (RFC 9110 §6, §15; RFC 9112 §4, §6): the head is assembled in one buffer (status
 * line, Date from the loop's per-second cache, Server, the handler's fields, customHeaders when
 * absent, framing, Connection), sent with the body in one writev, or with sendfile after it.
 */
#include "core.h"
#include "errpage.h"
#include "kz_listen.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

void kz_response_header(kz_request_t *r, const char *name, const char *value)
{
    kz_header_pair_t *h = apr_array_push(r->headers);

    h->name = name;
    h->value = value;
}

const char *kz_response_header_get(const kz_request_t *r, const char *name)
{
    const kz_header_pair_t *h = (const kz_header_pair_t *)r->headers->elts;

    for (int i = 0; i < r->headers->nelts; i++) {
        if (strcasecmp(h[i].name, name) == 0) {
            return h[i].value;
        }
    }
    return NULL;
}

void kz_response_error(kz_request_t *r, int status)
{
    const char *page;

    r->status = status;
    r->headers->nelts = 0;
    r->file = NULL;
    r->body_len = (apr_off_t)kz_errpage_render(
        &page, status, status == 500 ? r->conf->admin_email : NULL, r->pool);
    r->body = page;
    r->body_kind = KZ_BODY_MEM;
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

/* The fields of customHeaders that the response does not have yet. */
static apr_size_t custom_headers_size(const kz_request_t *r)
{
    const apr_array_header_t *ch = r->conf->custom_headers;
    apr_size_t size = 0;

    for (int i = 0; ch && i < ch->nelts; i++) {
        const kz_header_pair_t *h = &APR_ARRAY_IDX(ch, i, kz_header_pair_t);
        size += strlen(h->name) + strlen(h->value) + 4;
    }
    return size;
}

void kz_response_prepare(kz_request_t *r)
{
    const kz_global_t *g = &r->rc->config->global;
    const apr_array_header_t *ch = r->conf->custom_headers;
    const kz_header_pair_t *h = (const kz_header_pair_t *)r->headers->elts;
    const char *reason;
    apr_size_t size;
    char *head, *p;

    if (r->status == 0) {
        r->status = 200;
    }
    reason = kz_status_reason(r->status);
    /* The fixed parts (status line, Date, framing, Connection) take well under 256 bytes. */
    size = 256 + strlen(reason) + strlen(g->server_header) + custom_headers_size(r);
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
        r->body_kind = KZ_BODY_NONE;
    } else {
        p = APPEND_LIT(p, "Content-Length: ");
        p = append_uint(p, (apr_uint64_t)r->body_len);
        p = APPEND_LIT(p, "\r\n");
    }
    if (r->close) {
        p = APPEND_LIT(p, "Connection: close\r\n");
    } else if (r->head.version == 10) {
        p = APPEND_LIT(p, "Connection: keep-alive\r\n");
    }
    p = APPEND_LIT(p, "\r\n");

    r->iov = apr_palloc(r->pool, 2 * sizeof(struct iovec));
    r->iov[0].iov_base = head;
    r->iov[0].iov_len = (apr_size_t)(p - head);
    r->niov = 1;
    r->bytes_sent = 0;
    if (r->head_only || r->body_kind == KZ_BODY_NONE) {
        r->body_kind = KZ_BODY_NONE;
    } else if (r->body_kind == KZ_BODY_MEM && r->body_len > 0) {
        r->iov[1].iov_base = (void *)r->body;
        r->iov[1].iov_len = (apr_size_t)r->body_len;
        r->niov = 2;
    }
}

/* Moves the iovecs past n written bytes. */
static void iov_advance(kz_request_t *r, apr_size_t n)
{
    while (n > 0 && r->iov_done < r->niov) {
        struct iovec *v = &r->iov[r->iov_done];
        apr_size_t take = n < v->iov_len ? n : v->iov_len;

        if (r->iov_done > 0) {
            r->body_sent += (apr_off_t)take;
        }
        v->iov_base = (char *)v->iov_base + take;
        v->iov_len -= take;
        n -= take;
        if (v->iov_len == 0) {
            r->iov_done++;
        }
    }
}

apr_status_t kz_response_write(kz_request_t *r)
{
    apr_socket_t *sock = r->conn->sock;
    apr_status_t rv;

    while (r->iov_done < r->niov) {
        apr_size_t n = 0;
        if (r->body_kind == KZ_BODY_FILE && r->body_len > 0) {
            rv = kz_socket_sendv_more(sock, r->iov + r->iov_done, r->niov - r->iov_done, &n);
        } else {
            rv = apr_socket_sendv(sock, r->iov + r->iov_done, r->niov - r->iov_done, &n);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        iov_advance(r, n);
    }
    while (r->body_kind == KZ_BODY_FILE && r->body_sent < r->body_len) {
        apr_off_t off = r->file_offset + r->body_sent;
        apr_off_t left = r->body_len - r->body_sent;
        apr_size_t n = left > (apr_off_t)(1 << 30) ? (apr_size_t)1 << 30 : (apr_size_t)left;

        rv = apr_socket_sendfile(sock, r->file, NULL, &off, &n, 0);
        r->body_sent += (apr_off_t)n;
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (n == 0) {
            return APR_EOF; /* the file shrank under us */
        }
    }
    return APR_SUCCESS;
}
