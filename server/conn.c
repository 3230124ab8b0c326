/*
 * A connection's state machine (RFC 9112 §9): read a head, hand the request to the pipeline
 * (a handler may read the body meanwhile: kz_request_body_read), discard a body nobody read,
 * write the response, then keep the connection alive for the next request (pipelined bytes are
 * served straight from the buffer) or close it; after a 101 the connection becomes a tunnel
 * owned by the handler. An idle connection holds no buffer and no pool, so it costs its slot
 * and nothing more.
 */
#include "core.h"

#include <apr_strings.h>
#include <string.h>

#define KZ_LINGER_TIME  apr_time_from_sec(2)
#define KZ_LINGER_BYTES (256 * 1024)

static void conn_process(kz_conn_t *c);

static const kz_global_t *conn_global(kz_conn_t *c)
{
    return &c->loop->cfg->rc->config->global;
}

static void request_destroy(kz_conn_t *c);

static kz_request_t *request_create(kz_conn_t *c)
{
    kz_loop_t *loop = c->loop;
    apr_pool_t *p;
    kz_request_t *r;

    apr_pool_create(&p, loop->pool);
    r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->conn = c;
    r->time = loop->now;
    r->cfgslot = kz_loop_config(loop);
    r->rc = r->cfgslot->rc;
    r->conf = r->rc->config->global_conf;
    r->headers = apr_array_make(p, 8, sizeof(kz_header_pair_t));
    r->method = "-";
    r->target = "-";
    r->info.content_length = -1;
    r->client_ip = c->client_ip;
    c->req = r;
    return r;
}

void kz_conn_drop_request(kz_conn_t *c)
{
    request_destroy(c);
}

static void request_destroy(kz_conn_t *c)
{
    kz_request_t *r = c->req;

    if (!r) {
        return;
    }
    c->req = NULL;
    /* The pool first: its cleanups may still look at the configuration the slot holds. */
    kz_cfgslot_t *slot = r->cfgslot;
    apr_pool_destroy(r->pool);
    kz_cfgslot_done(c->loop, slot);
}

static void conn_read_head(kz_conn_t *c);

void kz_conn_start(kz_conn_t *c)
{
    c->state = KZ_CONN_READ_HEAD;
    c->deadline = c->loop->now + conn_global(c)->header_timeout;
    /* The request often arrives with the connection: reading now saves a poll round. */
    conn_read_head(c);
}

static void conn_linger(kz_conn_t *c)
{
    request_destroy(c);
    c->state = KZ_CONN_LINGER;
    c->len = 0;
    c->linger_bytes = 0;
    c->deadline = c->loop->now + KZ_LINGER_TIME;
    c->request_deadline = 0;
    apr_socket_shutdown(c->sock, APR_SHUTDOWN_WRITE);
    kz_conn_set_events(c, APR_POLLIN);
}

static void log_access(kz_request_t *r)
{
    kz_access_record_t rec;
    const kz_http_field_t *f;

    if (!kz_logbuf_has_access(r->conn->loop->logbuf)) {
        return;
    }
    memset(&rec, 0, sizeof(rec));
    rec.client_ip = r->client_ip;
    rec.user = r->user;
    rec.time = r->time;
    rec.method = r->method;
    rec.target = r->target;
    rec.protocol = r->head.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    rec.status = r->status;
    rec.bytes = r->body_sent;
    if (r->head.fields) {
        rec.referer = (f = kz_http_field(&r->head, "Referer")) ? f->value : NULL;
        rec.user_agent = (f = kz_http_field(&r->head, "User-Agent")) ? f->value : NULL;
    }
    kz_log_access(r->conn->loop->logbuf, &rec);
}

/* Waits for more of a head; an empty buffer goes back to the loop meanwhile. */
static void conn_wait_head(kz_conn_t *c)
{
    if (c->len == 0 && c->buf) {
        kz_loop_buf_put(c->loop, c->buf);
        c->buf = NULL;
    }
    kz_conn_set_events(c, APR_POLLIN);
}

/* The response is written: log, free the request, then keep the connection or close it. */
static void request_finish(kz_conn_t *c)
{
    kz_request_t *r = c->req;
    apr_size_t used = c->head_len;
    int close = r->close;

    log_access(r);
    request_destroy(c);
    c->requests++;
    if (close && c->len > used) {
        conn_linger(c); /* the client sent more: a plain close could reset the response */
        return;
    }
    if (close) {
        kz_conn_close(c);
        return;
    }
    /* Move pipelined bytes (after this request's head and body) to the start. */
    if (c->len > used) {
        memmove(c->buf->data, c->buf->data + used, c->len - used);
    }
    c->len -= used;
    c->head_len = 0;
    memset(&c->scan, 0, sizeof(c->scan));
    c->state = KZ_CONN_READ_HEAD;
    c->request_deadline = 0;
    c->deadline = c->loop->now +
                  (c->len ? conn_global(c)->header_timeout : conn_global(c)->keepalive_timeout);
    conn_wait_head(c);
}

static void conn_write(kz_conn_t *c)
{
    apr_status_t rv = kz_response_write(c->req);

    if (rv == APR_SUCCESS && c->req->linger) {
        log_access(c->req);
        conn_linger(c);
    } else if (rv == APR_SUCCESS && c->req->takeover) {
        log_access(c->req);
        c->state = KZ_CONN_TUNNEL;
        c->deadline = 0;
        c->request_deadline = 0;
        kz_conn_set_events(c, 0);
        c->req->takeover(c->req, c->req->takeover_baton);
    } else if (rv == APR_SUCCESS) {
        request_finish(c);
    } else if (APR_STATUS_IS_EAGAIN(rv)) {
        c->deadline = c->loop->now + conn_global(c)->body_timeout;
        kz_conn_set_events(c, APR_POLLOUT);
    } else if (rv == KZ_EWAIT) {
        /* The producer wakes the connection; a producer that never does is cut off like a
         * stalled client (the request's pool cleanups tell the producer). */
        c->deadline = c->loop->now + conn_global(c)->body_timeout;
        kz_conn_set_events(c, 0);
    } else {
        kz_conn_close(c);
    }
}

static void conn_read_body(kz_conn_t *c);
static void send_continue(kz_conn_t *c);

/* Starts writing the response the pipeline (or an error) produced. */
static void conn_respond(kz_conn_t *c)
{
    kz_request_t *r = c->req;
    const kz_global_t *g = conn_global(c);

    if (!r->body_done && !r->takeover) {
        if (r->close) {
            /* Closing anyway (a stalled body's 408): reading the rest first would only delay
             * the answer; a lingering close keeps late body bytes from resetting it. */
            r->linger = 1;
        } else if (!r->sent_continue && r->status >= 400) {
            /* The client waits for 100 Continue before sending: an error is answered with a
             * close instead of asking for a body nobody wants (RFC 9110 §10.1.1). */
            r->close = 1;
        } else {
            if (!r->sent_continue) {
                send_continue(c);
            }
            /* A body nobody read is read and dropped first, so the connection stays usable. */
            c->state = KZ_CONN_READ_BODY;
            conn_read_body(c);
            return;
        }
    }
    if (!r->info.keep_alive || c->loop->draining ||
        (g->max_keepalive_requests && c->requests + 1 >= g->max_keepalive_requests) ||
        g->keepalive_timeout == 0) {
        r->close = 1;
    }
    kz_response_prepare(r);
    c->state = KZ_CONN_WRITE;
    /* `timeout` bounds reading and handling, as the original's did; a long download is bounded
     * by progress (requestBodyTimeout between writes), not by its total time. */
    c->request_deadline = 0;
    conn_write(c);
}

/* Answers with an error and closes afterwards (the request's framing can't be trusted).
 * Bytes still unread would make close() send a reset that can destroy the response before the
 * client reads it, so the connection ends in a lingering close. */
static void conn_fail(kz_conn_t *c, int status)
{
    kz_request_t *r = c->req ? c->req : request_create(c);

    r->close = 1;
    r->linger = 1;
    r->info.keep_alive = 0;
    kz_response_error(r, status);
    kz_response_prepare(r);
    c->state = KZ_CONN_WRITE;
    conn_write(c);
}

static void conn_dispatch(kz_conn_t *c)
{
    c->state = KZ_CONN_HANDLE;
    if (kz_request_handle(c->req) == KZ_SUSPENDED) {
        /* Reading stops (pipelined requests wait in the buffer) unless the handler waits for
         * the body; `timeout` still applies. The socket stays in the pollset meanwhile: the
         * next request needs it there again, and a client that sends early is taken out at
         * its first event (so a suspended request costs no poll call). */
        c->state = KZ_CONN_HANDLE;
        if (!c->req->body_waiter) {
            c->deadline = 0;
        }
        return;
    }
    conn_respond(c);
}

/* Consumes body bytes that sit in the buffer after the head; returns 0, AGAIN or a status. */
static int body_consume(kz_conn_t *c)
{
    kz_request_t *r = c->req;
    char *data = c->buf->data + c->head_len;
    apr_size_t avail = c->len - c->head_len, take, out;
    int rc;

    if (!r->info.chunked) {
        take = (apr_off_t)avail < r->body_left ? avail : (apr_size_t)r->body_left;
        r->body_left -= (apr_off_t)take;
        r->body_read += (apr_off_t)take;
        rc = r->body_left ? KZ_PARSE_AGAIN : KZ_PARSE_OK;
    } else {
        rc = kz_chunked_decode(&r->chunked, data, avail, &take, &out);
        r->body_read += (apr_off_t)out;
        if (rc > 0) {
            return r->body_status = rc;
        }
        if (r->body_read > conn_global(c)->max_body) {
            return r->body_status = 413;
        }
    }
    memmove(data, data + take, avail - take);
    c->len -= take;
    r->body_done = rc == KZ_PARSE_OK;
    return rc;
}

/* Reads and drops the rest of a body nobody read, then writes the response. */
static void conn_read_body(kz_conn_t *c)
{
    for (;;) {
        int rc = c->req->body_status ? c->req->body_status : body_consume(c);
        apr_size_t n;
        apr_status_t rv;

        if (rc == KZ_PARSE_OK) {
            conn_respond(c);
            return;
        }
        if (rc > 0) {
            kz_response_reset(c->req);
            conn_fail(c, rc);
            return;
        }
        n = c->buf->size - c->len;
        if (n == 0) {
            conn_fail(c, 400);
            return;
        }
        rv = apr_socket_recv(c->sock, c->buf->data + c->len, &n);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            c->deadline = c->loop->now + conn_global(c)->body_timeout;
            kz_conn_set_events(c, APR_POLLIN);
            return;
        }
        if (rv != APR_SUCCESS || n == 0) {
            kz_conn_close(c);
            return;
        }
        c->len += n;
    }
}

static void send_continue(kz_conn_t *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    apr_size_t len = sizeof(msg) - 1;

    /* A fresh response on an empty socket buffer: the write does not come back short. */
    apr_socket_send(c->sock, msg, &len);
    c->req->sent_continue = 1;
}

/* The head is complete: parse it, then read the body or run the request. */
static void conn_start_request(kz_conn_t *c, apr_size_t head_len)
{
    /* The request first: creating it may move the loop to a reloaded configuration and free
     * the one it used, so `g` is read only after (regression: a 431 under reloads). */
    kz_request_t *r = request_create(c);
    const kz_global_t *g = &r->rc->config->global;
    kz_http_field_t *fields = apr_palloc(r->pool, sizeof(*fields) * (apr_size_t)g->max_headers);
    int rc;

    c->head_len = head_len;
    c->request_deadline = g->request_timeout ? c->loop->now + g->request_timeout : 0;
    rc = kz_http_parse_head(&r->head, c->buf->data, head_len, fields, g->max_headers);
    if (rc == KZ_PARSE_OK) {
        r->method = r->head.method;
        r->target = r->head.target;
        rc = kz_http_analyze(&r->info, &r->head);
    }
    if (rc != KZ_PARSE_OK) {
        conn_fail(c, rc);
        return;
    }
    if (r->info.content_length > g->max_body) {
        conn_fail(c, 413);
        return;
    }
    r->body_left = r->info.chunked ? 0 : r->info.content_length;
    r->body_done = !r->info.chunked && r->info.content_length <= 0;
    if (!r->body_done && (!r->info.expect_continue || r->head.version < 11)) {
        r->sent_continue = 1; /* nothing to wait for: the body comes anyway */
    }
    conn_dispatch(c);
}

/*
 * Serves every complete head in what was read so far. Pipelined requests are taken one after
 * the other in this loop (not by recursion, so a buffer full of tiny requests cannot deepen the
 * stack); it stops at an incomplete head or when a request has to wait for I/O.
 */
static void conn_process(kz_conn_t *c)
{
    while (c->open && c->state == KZ_CONN_READ_HEAD && c->len > 0) {
        const kz_global_t *g = conn_global(c);
        kz_http_limits_t lim = {g->max_request_line, g->max_header_field, g->max_head,
                                g->max_headers};
        apr_size_t head_len = 0;
        int rc = kz_http_scan_head(&c->scan, c->buf->data, c->len, &lim, &head_len);

        if (rc == KZ_PARSE_OK) {
            conn_start_request(c, head_len);
        } else if (rc != KZ_PARSE_AGAIN) {
            conn_fail(c, rc);
        } else {
            if (c->len == c->buf->size) {
                conn_fail(c, 431);
            }
            return;
        }
    }
}

static void conn_read_head(kz_conn_t *c)
{
    for (;;) {
        apr_size_t n, room;
        apr_status_t rv;

        if (!c->buf && !(c->buf = kz_loop_buf_get(c->loop))) {
            kz_conn_close(c);
            return;
        }
        room = n = c->buf->size - c->len;
        rv = apr_socket_recv(c->sock, c->buf->data + c->len, &n);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            conn_wait_head(c);
            return;
        }
        if (rv != APR_SUCCESS || n == 0) {
            kz_conn_close(c);
            return;
        }
        if (c->len == 0) {
            /* The first bytes of a head start the header timeout (against slow clients). */
            c->deadline = c->loop->now + conn_global(c)->header_timeout;
        }
        c->len += n;
        conn_process(c);
        if (!c->open || c->state != KZ_CONN_READ_HEAD) {
            return;
        }
        if (n < room) {
            /* A short read drained the socket: the (level-triggered) poll says when more
             * comes, which saves a read that would only say EAGAIN. */
            conn_wait_head(c);
            return;
        }
    }
}

static void conn_linger_read(kz_conn_t *c)
{
    char scratch[4096];

    for (;;) {
        apr_size_t n = sizeof(scratch);
        apr_status_t rv = apr_socket_recv(c->sock, scratch, &n);

        if (APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
        c->linger_bytes += n;
        if (rv != APR_SUCCESS || n == 0 || c->linger_bytes > KZ_LINGER_BYTES) {
            kz_conn_close(c);
            return;
        }
    }
}

void kz_conn_on_event(kz_conn_t *c, apr_int16_t events)
{
    switch (c->state) {
    case KZ_CONN_READ_HEAD:
        conn_read_head(c);
        break;
    case KZ_CONN_READ_BODY:
        conn_read_body(c);
        break;
    case KZ_CONN_WRITE:
        conn_write(c);
        conn_process(c); /* requests pipelined behind the one just written */
        break;
    case KZ_CONN_HANDLE:
        /* Wanted only while a handler waits for the body; otherwise the client sent ahead
         * (or closed) and is left alone until the response is written. */
        kz_conn_set_events(c, 0);
        if (c->req && c->req->body_waiter) {
            kz_request_fn fn = c->req->body_waiter;
            c->req->body_waiter = NULL;
            c->deadline = 0;
            fn(c->req, c->req->body_waiter_baton);
        }
        break;
    case KZ_CONN_LINGER:
        conn_linger_read(c);
        break;
    case KZ_CONN_TUNNEL:
        c->req->takeover(c->req, c->req->takeover_baton);
        break;
    }
}

void kz_conn_on_timeout(kz_conn_t *c)
{
    if (c->state == KZ_CONN_HANDLE) {
        kz_request_timeout(c->req, c->req->body_waiter ? 408 : 504);
        c->req->body_waiter = NULL;
        kz_conn_respond(c);
    } else if (c->state == KZ_CONN_READ_HEAD && c->len == 0) {
        kz_conn_close(c);
    } else if (c->state == KZ_CONN_READ_HEAD || c->state == KZ_CONN_READ_BODY) {
        c->deadline = 0;
        conn_fail(c, 408);
    } else {
        kz_conn_close(c);
    }
}

void kz_response_wake(kz_request_t *r)
{
    kz_conn_t *c = r->conn;

    if (c->req != r || c->state != KZ_CONN_WRITE || !r->waiting) {
        return;
    }
    conn_write(c);
    conn_process(c);
}

void kz_conn_respond(kz_conn_t *c)
{
    conn_respond(c);
    conn_process(c); /* requests pipelined behind this one */
}

/* ---- the request body, for handlers ---- */

apr_status_t kz_request_body_read(kz_request_t *r, char *buf, apr_size_t *len)
{
    kz_conn_t *c = r->conn;
    apr_size_t want = *len;

    *len = 0;
    if (r->body_status) {
        return APR_EGENERAL;
    }
    if (r->body_done) {
        return APR_EOF;
    }
    if (!r->sent_continue) {
        send_continue(c);
    }
    for (;;) {
        char *data = c->buf->data + c->head_len;
        apr_size_t avail = c->len - c->head_len, n;
        apr_status_t rv;

        if (avail > 0) {
            /* At most want bytes of input: de-chunking never makes more than it takes. */
            apr_size_t give = avail < want ? avail : want, out = give, take = give;
            int rc = KZ_PARSE_AGAIN;
            if (!r->info.chunked) {
                take = out = (apr_off_t)give < r->body_left ? give : (apr_size_t)r->body_left;
                r->body_left -= (apr_off_t)take;
                r->body_read += (apr_off_t)take;
                rc = r->body_left ? KZ_PARSE_AGAIN : KZ_PARSE_OK;
            } else if ((rc = kz_chunked_decode(&r->chunked, data, give, &take, &out)) > 0) {
                r->body_status = rc;
                return APR_EGENERAL;
            } else if ((r->body_read += (apr_off_t)out) > conn_global(c)->max_body) {
                r->body_status = 413;
                return APR_EGENERAL;
            }
            memcpy(buf, data, out);
            memmove(data, data + take, avail - take);
            c->len -= take;
            r->body_done = rc == KZ_PARSE_OK;
            if (out > 0 || r->body_done) {
                *len = out;
                return out > 0 ? APR_SUCCESS : APR_EOF;
            }
            continue;
        }
        n = c->buf->size - c->len;
        rv = apr_socket_recv(c->sock, c->buf->data + c->len, &n);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return APR_EAGAIN;
        }
        if (rv != APR_SUCCESS || n == 0) {
            return APR_ECONNABORTED;
        }
        c->len += n;
    }
}

void kz_request_body_wait(kz_request_t *r, kz_request_fn fn, void *baton)
{
    kz_conn_t *c = r->conn;

    r->body_waiter = fn;
    r->body_waiter_baton = baton;
    c->deadline = c->loop->now + conn_global(c)->body_timeout;
    kz_conn_set_events(c, APR_POLLIN);
}

apr_size_t kz_request_take_early(kz_request_t *r, char *buf, apr_size_t len)
{
    kz_conn_t *c = r->conn;
    apr_size_t avail = c->len - c->head_len, n = avail < len ? avail : len;

    memcpy(buf, c->buf->data + c->head_len, n);
    memmove(c->buf->data + c->head_len, c->buf->data + c->head_len + n, avail - n);
    c->len -= n;
    return n;
}

void kz_request_takeover(kz_request_t *r, kz_request_fn fn, void *baton)
{
    r->takeover = fn;
    r->takeover_baton = baton;
}
