/*
 * rproxy: the reverse proxy (proxyTo, secureProxyTo), a thin HTTP/1.1 layer (RFC 9112) over the
 * upstream engine. Per request: pick a backend (balancer.h), take a pooled connection or open
 * one, send the head with hop-by-hop fields removed (RFC 9110 §7.6.1) and X-Forwarded-* set,
 * stream the client's body as it arrives, parse the backend's head strictly
 * (upstream_http.h), then stream the body to the client as the client takes it: the core pulls
 * (kz_body_pull_fn), so a slow client holds at most one buffer. After a 101 the two sockets are
 * relayed both ways. The connection returns to the loop's pool when the exchange ended cleanly.
 */
#include "rproxy.h"

#include "balancer.h"
#include "core.h"
#include "rp_maint.h"
#include "upstream.h"
#include "upstream_http.h"
#include "url.h"

#include <apr_strings.h>
#include <string.h>

#define RP_MAX_HEAD    (64 * 1024)
#define RP_MAX_FIELDS  256
#define RP_MAX_INTERIM 8
#define RP_BUF         (32 * 1024)

/* ---- configuration ---- */

typedef struct rp_set {
    kz_upstream_target_t **targets;
    int n;
    kz_lb_t *lb;
} rp_set_t;

typedef struct rp_conf {
    rp_set_t plain, secure;
    kz_upstream_limits_t lim;
    apr_interval_time_t response_to, idle_to, upgrade_idle;
    int xfwd, preserve_host, intercept;
} rp_conf_t;

static apr_array_header_t *url_list(const kz_value_t *v, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));

    if (v && v->type == KZ_V_LIST) {
        for (int i = 0; i < v->items->nelts; i++) {
            APR_ARRAY_PUSH(out, const char *) = APR_ARRAY_IDX(v->items, i, kz_value_t *)->text;
        }
    } else if (v && v->text) {
        APR_ARRAY_PUSH(out, const char *) = v->text;
    }
    return out;
}

const char *kz_rproxy_check_urls(const kz_value_t *value, apr_pool_t *p)
{
    apr_array_header_t *urls = url_list(value, p);

    for (int i = 0; i < urls->nelts; i++) {
        kz_upstream_target_t *t;
        const char *url = APR_ARRAY_IDX(urls, i, const char *);
        const char *err = kz_upstream_target_parse(&t, url, 0, p);
        if (err) {
            return apr_psprintf(p, "backend '%s': %s", url, err);
        }
    }
    return NULL;
}

const char *kz_rproxy_check_method(const kz_value_t *value, apr_pool_t *p)
{
    return kz_lb_method_parse(value->text) < 0
               ? "must be random, round_robin, least_conn or two_random"
               : NULL;
}

static apr_int64_t conf_int(const kz_conf_t *conf, const char *name, apr_int64_t def)
{
    const kz_value_t *v = kz_conf_get(conf, name);
    return v && v->type == KZ_V_INT ? v->i : def;
}

static int conf_bool(const kz_conf_t *conf, const char *name)
{
    const kz_value_t *v = kz_conf_get(conf, name);
    return v && v->type == KZ_V_BOOL && v->b;
}

static void set_compile(rp_set_t *set, const kz_conf_t *conf, const char *prop, int verify,
                        apr_pool_t *p)
{
    apr_array_header_t *urls = url_list(kz_conf_get(conf, prop), p);
    const kz_value_t *m = kz_conf_get(conf, "loadBalancerMethod");
    const kz_value_t *path = kz_conf_get(conf, "loadBalancerHealthCheckPath");
    int method = m ? kz_lb_method_parse(m->text) : KZ_LB_RANDOM;

    set->n = 0;
    set->targets = apr_pcalloc(p, sizeof(*set->targets) * (apr_size_t)(urls->nelts + 1));
    for (int i = 0; i < urls->nelts; i++) {
        /* Checked at validation; a URL that fails here (a TLS context) is left out. */
        if (!kz_upstream_target_parse(&set->targets[set->n], APR_ARRAY_IDX(urls, i, const char *),
                                      verify, p)) {
            kz_upstream_resolve(set->targets[set->n]);
            set->n++;
        }
    }
    if (set->n == 0) {
        return;
    }
    set->lb =
        kz_lb_create(p, set->n, method < 0 ? KZ_LB_RANDOM : (kz_lb_method_e)method,
                     conf_bool(conf, "enableLoadBalancerHealthCheck"),
                     (apr_uint32_t)conf_int(conf, "loadBalancerHealthCheckMaximumFails", 3),
                     apr_time_from_msec(conf_int(conf, "loadBalancerHealthCheckWindow", 5000)));
    kz_rp_maint_add(p, set->lb, set->targets, set->n, path ? path->text : NULL,
                    apr_time_from_msec(conf_int(conf, "loadBalancerHealthCheckInterval", 5000)),
                    apr_time_from_msec(conf_int(conf, "proxyConnectTimeout", 5000)));
}

static void *rp_create_conf(const kz_module_t *self, const kz_conf_t *conf, apr_pool_t *p)
{
    rp_conf_t *cf = apr_pcalloc(p, sizeof(*cf));
    int verify = !conf_bool(conf, "disableProxyCertificateVerification");

    set_compile(&cf->plain, conf, "proxyTo", verify, p);
    set_compile(&cf->secure, conf, "secureProxyTo", verify, p);
    if (cf->plain.n == 0 && cf->secure.n == 0) {
        return NULL;
    }
    cf->lim.connect = apr_time_from_msec(conf_int(conf, "proxyConnectTimeout", 5000));
    cf->lim.keepalive = apr_time_from_msec(conf_int(conf, "proxyKeepaliveTimeout", 15000));
    cf->lim.keep_max = (int)conf_int(conf, "proxyKeepaliveConnections", 32);
    cf->response_to = apr_time_from_msec(conf_int(conf, "proxyResponseTimeout", 60000));
    cf->idle_to = apr_time_from_msec(conf_int(conf, "proxyIdleTimeout", 60000));
    cf->upgrade_idle = apr_time_from_msec(conf_int(conf, "proxyUpgradeIdleTimeout", 600000));
    cf->xfwd = !conf_bool(conf, "disableProxyXForwarded");
    cf->preserve_host = conf_bool(conf, "proxyPreserveHost");
    cf->intercept = conf_bool(conf, "proxyInterceptErrors");
    return cf;
}

static apr_status_t rp_init(const kz_module_t *self, apr_pool_t *pconf, const char **error)
{
    apr_status_t rv = kz_rp_maint_start(pconf);

    if (rv != APR_SUCCESS) {
        *error = "rproxy: cannot start the backend upkeep thread";
    }
    return rv;
}

/* ---- one exchange ---- */

enum { PX_CONNECT, PX_SEND, PX_HEAD, PX_BODY, PX_TUNNEL, PX_DONE };

typedef struct px {
    kz_request_t *r;
    const rp_conf_t *cf;
    const rp_set_t *set;
    int bi;
    const kz_upstream_target_t *t;
    kz_uconn_t *uc;
    int state;
    int acquired, retried, got_byte, req_complete, failed;
    int in_start; /* still inside the handler: a result is returned, not resumed */
    int sync_rc;
    /* to the backend: the head, then body pieces */
    char *out;
    apr_size_t out_len, out_off;
    char *obuf;
    int chunked_up, body_eof;
    /* from the backend: the head, then body bytes */
    char *in;
    apr_size_t in_cap, in_len, in_off;
    kz_http_scan_t scan;
    kz_http_field_t *fields; /* of the head being parsed */
    int interim;
    kz_resp_info_t info;
    apr_off_t left;
    kz_chunked_t chunk;
    char *bbuf; /* body reads after the head's leftovers */
    /* tunnel: client → backend in obuf, backend → client in bbuf */
    apr_size_t up_len, up_off, down_len, down_off;
    int client_eof, backend_eof;
    int tunnel_started;
} px_t;

static void px_event(kz_uconn_t *uc, void *baton, apr_int16_t events);

static apr_status_t px_cleanup(void *data)
{
    px_t *x = data;

    if (x->uc) {
        kz_uconn_release(x->uc, 0);
        x->uc = NULL;
    }
    if (x->acquired) {
        kz_lb_release(x->set->lb, x->bi);
        x->acquired = 0;
    }
    return APR_SUCCESS;
}

static int idempotent(const kz_request_t *r)
{
    switch (r->method_num) {
    case KZ_M_GET:
    case KZ_M_HEAD:
    case KZ_M_PUT:
    case KZ_M_DELETE:
    case KZ_M_OPTIONS:
    case KZ_M_TRACE:
        return 1;
    default:
        return 0;
    }
}

static int is_field(const kz_http_field_t *f, const char *lower)
{
    apr_size_t n = strlen(lower);
    return f->name_len == n && kz_ascii_caseeq(f->name, lower, n);
}

/* The request head for the backend. */
static int build_head(px_t *x)
{
    kz_request_t *r = x->r;
    const kz_http_head_t *h = &r->head;
    kz_hop_t hop;
    apr_array_header_t *parts = apr_array_make(r->pool, 32, sizeof(const char *));
    const char *xff = NULL;

    if (kz_hop_init(&hop, h->fields, h->nfields) != 0) {
        return 400;
    }
#define ADD(s) (APR_ARRAY_PUSH(parts, const char *) = (s))
    ADD(r->method);
    ADD(" ");
    ADD(x->t->base);
    ADD(kz_url_encode_path(r->path, r->pool));
    if (r->query) {
        ADD("?");
        ADD(r->query);
    }
    ADD(" HTTP/1.1\r\nHost: ");
    ADD(x->cf->preserve_host && r->host ? r->host : x->t->authority);
    ADD("\r\n");
    for (int i = 0; i < h->nfields; i++) {
        const kz_http_field_t *f = &h->fields[i];
        /* Expect is answered here (the client got its 100 when its body was asked for). */
        /* The body's framing is the server's own (from the parsed head, never the client's
         * field: one named in Connection would otherwise vanish and smuggle the body). */
        if (kz_hop_is(&hop, f->name, f->name_len) || is_field(f, "host") || is_field(f, "expect") ||
            is_field(f, "content-length")) {
            continue;
        }
        if (is_field(f, "x-forwarded-for")) {
            if (x->cf->xfwd) {
                xff = xff ? apr_pstrcat(r->pool, xff, ", ", f->value, NULL) : f->value;
            }
            continue;
        }
        if (is_field(f, "x-forwarded-proto") || is_field(f, "x-forwarded-host")) {
            continue;
        }
        ADD(f->name);
        ADD(": ");
        ADD(f->value);
        ADD("\r\n");
    }
    if (x->cf->xfwd) {
        ADD("X-Forwarded-For: ");
        ADD(xff ? apr_pstrcat(r->pool, xff, ", ", r->conn->client_ip, NULL) : r->conn->client_ip);
        ADD("\r\nX-Forwarded-Proto: http\r\n");
        if (r->host) {
            ADD("X-Forwarded-Host: ");
            ADD(r->host);
            ADD("\r\n");
        }
    }
    if (r->info.chunked) {
        ADD("Transfer-Encoding: chunked\r\n");
        x->chunked_up = 1;
    } else if (r->info.content_length >= 0) {
        ADD("Content-Length: ");
        ADD(apr_off_t_toa(r->pool, r->info.content_length));
        ADD("\r\n");
    }
    if (r->info.upgrade) {
        const kz_http_field_t *u = kz_http_field(h, "Upgrade");
        ADD("Connection: upgrade\r\nUpgrade: ");
        ADD(u ? u->value : "");
        ADD("\r\n\r\n");
    } else {
        ADD("Connection: keep-alive\r\n\r\n");
    }
#undef ADD
    x->out = apr_array_pstrcat(r->pool, parts, 0);
    x->out_len = strlen(x->out);
    x->out_off = 0;
    return 0;
}

/* Hands the result to the core: returned by the handler when it comes before the handler
 * returned, else through kz_request_resume() (after which the request may be gone). */
static void px_resume(px_t *x, int rc)
{
    if (x->in_start) {
        x->sync_rc = rc;
        return;
    }
    kz_request_resume(x->r, rc);
}

/* Ends the request with an error status (before any response byte went to the client). */
static void px_fail(px_t *x, int status, const char *why)
{
    kz_request_t *r = x->r;

    kz_request_log(r, KZ_LOG_ERR, 600, "proxy to %s: %s (%d)", x->t->url, why, status);
    if (x->uc) {
        kz_uconn_release(x->uc, 0);
        x->uc = NULL;
    }
    x->state = PX_DONE;
    px_resume(x, status); /* last: the request may be gone afterwards */
}

static int px_open(px_t *x, int fresh);

/* A pooled connection that turned out dead before any answer: once more on a fresh one.
 * Returns 0 when no retry is allowed (the caller fails the request), else 1: retrying, or the
 * request was ended with the fresh attempt's status (logged by px_open). */
static int px_retry(px_t *x)
{
    int rc;

    /* Body bytes already sent cannot be read from the client again (obuf: the body started). */
    if (!x->uc->reused || x->got_byte || x->retried || !idempotent(x->r) || !x->r->body_done ||
        x->obuf) {
        return 0;
    }
    x->retried = 1;
    kz_uconn_release(x->uc, 0);
    x->uc = NULL;
    x->out_off = 0;
    x->state = PX_CONNECT;
    if ((rc = px_open(x, 1)) != 0) {
        x->state = PX_DONE;
        px_resume(x, rc); /* last: the request may be gone afterwards */
    }
    return 1;
}

/* Frames a piece of the client's body for the backend into obuf; 0, or -1 to wait. */
static int px_fill_body(px_t *x)
{
    kz_request_t *r = x->r;
    apr_size_t room = RP_BUF - 32, n = room;
    char *data = x->obuf + (x->chunked_up ? 18 : 0);
    apr_status_t rv;

    rv = kz_request_body_read(r, data, &n);
    if (rv == APR_EOF) {
        x->body_eof = 1;
        x->out = x->obuf;
        x->out_off = 0;
        x->out_len = x->chunked_up ? (memcpy(x->obuf, "0\r\n\r\n", 5), 5) : 0;
        return 0;
    }
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_EAGAIN(rv) ? -1 : (r->body_status ? r->body_status : 400);
    }
    x->out = data;
    x->out_off = 0;
    x->out_len = n;
    if (x->chunked_up) {
        char line[18];
        int len = apr_snprintf(line, sizeof(line), "%lx\r\n", (unsigned long)n);
        x->out = data - len;
        memcpy(x->out, line, (apr_size_t)len);
        memcpy(data + n, "\r\n", 2);
        x->out_len = n + (apr_size_t)len + 2;
    }
    return 0;
}

static void px_client_ready(kz_request_t *r, void *baton);
static void px_read_head(px_t *x);

/* Sends the head and the body as they come. */
static void px_send(px_t *x)
{
    for (;;) {
        while (x->out_off < x->out_len) {
            apr_size_t n = x->out_len - x->out_off;
            apr_status_t rv = kz_uconn_send(x->uc, x->out + x->out_off, &n);
            if (APR_STATUS_IS_EAGAIN(rv)) {
                kz_uconn_wait(x->uc, APR_POLLOUT | APR_POLLIN, x->cf->idle_to, 504);
                return;
            }
            if (rv != APR_SUCCESS) {
                if (!px_retry(x)) {
                    px_fail(x, 502, "sending the request failed");
                }
                return;
            }
            x->out_off += n;
        }
        if (x->body_eof || (!x->obuf && x->r->body_done)) {
            break;
        }
        if (!x->obuf) {
            x->obuf = apr_palloc(x->r->pool, RP_BUF);
        }
        int rc = px_fill_body(x);
        if (rc < 0) {
            /* The backend may answer before the body ends: keep listening to it, without a
             * deadline (the client is slow, not the backend: requestBodyTimeout covers it). */
            kz_uconn_wait(x->uc, APR_POLLIN, 0, 0);
            kz_request_body_wait(x->r, px_client_ready, x);
            return;
        }
        if (rc > 0) {
            px_fail(x, rc, "the client's body was malformed or too large");
            return;
        }
    }
    /* No read now: the answer cannot be there yet, and an idle pooled connection is already
     * polled for reading, so waiting costs nothing. */
    x->req_complete = 1;
    x->state = PX_HEAD;
    kz_uconn_wait(x->uc, APR_POLLIN, x->cf->response_to, 504);
}

/* Whether the core answered the request without us (its `timeout` passed, the answer may still
 * be going out): then the backend connection is let go and nothing else is done. */
static int px_abandoned(px_t *x)
{
    if (x->r->suspended) {
        return 0;
    }
    if (x->uc) {
        kz_uconn_release(x->uc, 0);
        x->uc = NULL;
    }
    x->state = PX_DONE;
    return 1;
}

static void px_client_ready(kz_request_t *r, void *baton)
{
    px_t *x = baton;

    if (!px_abandoned(x) && x->state == PX_SEND) {
        px_send(x);
    }
}

static apr_status_t px_pull(kz_request_t *r, void *baton, const char **data, apr_size_t *len);
static void px_tunnel_backend(kz_uconn_t *uc, void *baton, apr_int16_t events);
static void px_body_event(kz_uconn_t *uc, void *baton, apr_int16_t events);
static void px_tunnel(kz_request_t *r, void *baton);

/* The backend's head is parsed: the response for the client. */
static void px_respond(px_t *x, const kz_resp_head_t *h)
{
    kz_request_t *r = x->r;
    kz_hop_t hop;
    apr_off_t clen = -1;

    if (kz_hop_init(&hop, h->fields, h->nfields) != 0) {
        px_fail(x, 502, "the response's Connection field names too many fields");
        return;
    }
    if (x->cf->intercept && h->status >= 400) {
        kz_uconn_release(x->uc, 0);
        x->uc = NULL;
        x->state = PX_DONE;
        px_resume(x, h->status);
        return;
    }
    kz_response_status(r, h->status);
    for (int i = 0; i < h->nfields; i++) {
        const kz_http_field_t *f = &h->fields[i];
        if (is_field(f, "content-length")) {
            clen = apr_atoi64(f->value);
            continue;
        }
        if (kz_hop_is(&hop, f->name, f->name_len) || is_field(f, "date") || is_field(f, "server")) {
            continue;
        }
        kz_response_header(r, f->name, f->value);
    }
    if (x->info.upgrade) {
        const kz_http_field_t *u = NULL;
        for (int i = 0; i < h->nfields; i++) {
            if (is_field(&h->fields[i], "upgrade")) {
                u = &h->fields[i];
            }
        }
        kz_response_header(r, "Connection", "upgrade");
        kz_response_header(r, "Upgrade", u ? u->value : "");
        kz_uconn_own(x->uc, px_tunnel_backend, x);
        kz_uconn_wait(x->uc, 0, 0, 0);
        x->state = PX_TUNNEL;
        kz_request_takeover(r, px_tunnel, x);
        px_resume(x, KZ_DONE); /* last */
        return;
    }
    x->state = PX_BODY;
    x->left = x->info.body == KZ_RESP_BODY_LENGTH ? x->info.length : 0;
    /* "Content-Length: 0" ends here too: a pull would wait for bytes that never come. */
    if (x->info.body == KZ_RESP_BODY_NONE || (x->info.body == KZ_RESP_BODY_LENGTH && !x->left)) {
        /* HEAD: the framing a GET would get (the backend's length, else chunked), never a
         * "Content-Length: 0" that describes an empty body. */
        if (r->head_only) {
            kz_response_body_stream(r, px_pull, x, clen);
        }
        /* Bytes after a bodiless answer mean a backend out of step: not reused. */
        kz_uconn_release(x->uc, x->info.keep_alive && x->req_complete && x->in_off == x->in_len);
        x->uc = NULL;
    } else {
        kz_response_body_stream(r, px_pull, x,
                                x->info.body == KZ_RESP_BODY_LENGTH ? x->info.length : -1);
        /* The pull reads on; until it waits, the socket is not watched (no deadline). */
        kz_uconn_own(x->uc, px_body_event, x);
        kz_uconn_wait(x->uc, APR_POLLIN, 0, 0);
    }
    px_resume(x, KZ_DONE); /* last: writing may end the request */
}

static void px_head_parsed(px_t *x, apr_size_t head_len)
{
    kz_request_t *r = x->r;
    kz_resp_head_t h;

    if (!x->fields) { /* once per request, however many interim heads come first */
        x->fields = apr_palloc(r->pool, sizeof(*x->fields) * RP_MAX_FIELDS);
    }
    if (kz_resp_parse(&h, x->in + x->in_off, head_len, x->fields, RP_MAX_FIELDS) != KZ_PARSE_OK ||
        kz_resp_analyze(&x->info, &h, r->head_only, 0) != KZ_PARSE_OK) {
        px_fail(x, 502, "malformed response head");
        return;
    }
    if (x->info.upgrade && !r->info.upgrade) {
        px_fail(x, 502, "101 to a request that asked for no upgrade");
        return;
    }
    if (x->info.interim) {
        if (++x->interim > RP_MAX_INTERIM) {
            px_fail(x, 502, "too many interim (1xx) responses");
            return;
        }
        x->in_off += head_len;
        memset(&x->scan, 0, sizeof(x->scan));
        px_read_head(x);
        return;
    }
    x->in_off += head_len;
    px_respond(x, &h); /* last: the request may be gone afterwards */
}

static void px_read_head(px_t *x)
{
    for (;;) {
        apr_size_t head_len = 0, n;
        apr_status_t rv;
        int rc = KZ_PARSE_AGAIN;

        if (x->in_len > x->in_off) {
            rc = kz_resp_scan(&x->scan, x->in + x->in_off, x->in_len - x->in_off, RP_MAX_HEAD,
                              RP_MAX_FIELDS, &head_len);
        }
        if (rc == KZ_PARSE_OK) {
            px_head_parsed(x, head_len);
            return;
        }
        if (rc != KZ_PARSE_AGAIN) {
            px_fail(x, 502, "malformed response head");
            return;
        }
        if (x->in_len == x->in_cap) {
            /* Room for more: move the unparsed part to the front, or grow up to the limit. */
            if (x->in_off > 0) {
                memmove(x->in, x->in + x->in_off, x->in_len - x->in_off);
                x->in_len -= x->in_off;
                x->in_off = 0;
            } else {
                char *bigger = apr_palloc(x->r->pool, x->in_cap * 2);
                memcpy(bigger, x->in, x->in_len);
                x->in = bigger;
                x->in_cap *= 2;
            }
        }
        n = x->in_cap - x->in_len;
        rv = kz_uconn_recv(x->uc, x->in + x->in_len, &n);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            kz_uconn_wait(x->uc, APR_POLLIN, x->got_byte ? x->cf->idle_to : x->cf->response_to,
                          504);
            return;
        }
        if (rv != APR_SUCCESS) {
            if (!px_retry(x)) {
                px_fail(x, 502,
                        rv == APR_EOF ? "the backend closed without an answer"
                                      : "reading the response failed");
            }
            return;
        }
        x->got_byte = 1;
        x->in_len += n;
    }
}

/* ---- the body, pulled by the core as the client takes it ---- */

static void px_body_event(kz_uconn_t *uc, void *baton, apr_int16_t events)
{
    px_t *x = baton;

    if (uc->error) {
        x->failed = 1;
        kz_request_log(x->r, KZ_LOG_ERR, 601, "proxy to %s: %s while sending the body", x->t->url,
                       uc->why);
    }
    if (!x->r->waiting) {
        /* Not asked for now (the client's socket is full): stop polling until it is. */
        kz_uconn_wait(uc, 0, 0, 0);
        if (!x->failed) {
            return;
        }
    }
    kz_response_wake(x->r); /* last */
}

/* Decodes raw bytes at buf[0..n): sets *data and *len to body bytes; returns the bytes consumed
 * (or (apr_size_t)-1 for a framing error). Sets x->state to PX_DONE at the end. */
static apr_size_t px_decode(px_t *x, char *buf, apr_size_t n, const char **data, apr_size_t *len)
{
    apr_size_t take, out;
    int rc;

    switch (x->info.body) {
    case KZ_RESP_BODY_LENGTH:
        take = (apr_off_t)n < x->left ? n : (apr_size_t)x->left;
        x->left -= (apr_off_t)take;
        *data = buf;
        *len = take;
        if (x->left == 0) {
            x->state = PX_DONE;
        }
        return take;
    case KZ_RESP_BODY_CHUNKED:
        rc = kz_chunked_decode(&x->chunk, buf, n, &take, &out);
        if (rc > 0) {
            return (apr_size_t)-1;
        }
        *data = buf;
        *len = out;
        if (rc == KZ_PARSE_OK) {
            x->state = PX_DONE;
        }
        return take;
    default:
        *data = buf;
        *len = n;
        return n;
    }
}

static apr_status_t px_pull(kz_request_t *r, void *baton, const char **data, apr_size_t *len)
{
    px_t *x = baton;

    for (;;) {
        apr_size_t n, used;
        apr_status_t rv;

        if (x->failed) {
            return APR_EGENERAL;
        }
        if (x->state == PX_DONE) {
            if (x->uc) {
                kz_uconn_release(x->uc,
                                 x->info.keep_alive && x->req_complete && x->in_off == x->in_len);
                x->uc = NULL;
            }
            return APR_EOF;
        }
        if (x->in_off < x->in_len) {
            used = px_decode(x, x->in + x->in_off, x->in_len - x->in_off, data, len);
            if (used == (apr_size_t)-1) {
                kz_request_log(r, KZ_LOG_ERR, 602, "proxy to %s: malformed chunked body",
                               x->t->url);
                return APR_EGENERAL;
            }
            x->in_off += used;
            if (*len > 0) {
                return APR_SUCCESS;
            }
            continue;
        }
        if (!x->bbuf) {
            x->bbuf = apr_palloc(r->pool, RP_BUF);
        }
        n = RP_BUF;
        rv = kz_uconn_recv(x->uc, x->bbuf, &n);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            kz_uconn_own(x->uc, px_body_event, x);
            kz_uconn_wait(x->uc, APR_POLLIN, x->cf->idle_to, 504);
            return KZ_EWAIT;
        }
        if (rv == APR_EOF && x->info.body == KZ_RESP_BODY_CLOSE) {
            x->state = PX_DONE;
            x->info.keep_alive = 0;
            continue;
        }
        if (rv != APR_SUCCESS) {
            kz_request_log(r, KZ_LOG_ERR, 601, "proxy to %s: the body ended early", x->t->url);
            return APR_EGENERAL;
        }
        x->in = x->bbuf;
        x->in_off = 0;
        x->in_len = n;
    }
}

/* ---- the tunnel after a 101 ---- */

static void px_tunnel_step(px_t *x)
{
    kz_request_t *r = x->r;
    kz_conn_t *c = r->conn;
    apr_int16_t cev = 0, bev = 0;

    for (int progress = 1; progress;) {
        apr_size_t n;
        apr_status_t rv;
        progress = 0;
        if (x->up_off == x->up_len && !x->client_eof) {
            /* Bytes the client sent with its head first (they may fill more than one buffer). */
            n = kz_request_take_early(r, x->obuf, RP_BUF);
            rv = APR_SUCCESS;
            if (n == 0) {
                n = RP_BUF;
                rv = apr_socket_recv(c->sock, x->obuf, &n);
            }
            if (rv == APR_SUCCESS && n > 0) {
                x->up_len = n, x->up_off = 0, progress = 1;
            } else if (!APR_STATUS_IS_EAGAIN(rv)) {
                x->client_eof = 1;
            }
        }
        if (x->up_off < x->up_len) {
            n = x->up_len - x->up_off;
            rv = kz_uconn_send(x->uc, x->obuf + x->up_off, &n);
            if (rv == APR_SUCCESS) {
                x->up_off += n, progress = 1;
            } else if (!APR_STATUS_IS_EAGAIN(rv)) {
                x->backend_eof = x->client_eof = 1;
            }
        }
        if (x->down_off == x->down_len && !x->backend_eof) {
            n = RP_BUF;
            rv = kz_uconn_recv(x->uc, x->bbuf, &n);
            if (rv == APR_SUCCESS) {
                x->down_len = n, x->down_off = 0, progress = 1;
            } else if (!APR_STATUS_IS_EAGAIN(rv)) {
                x->backend_eof = 1;
            }
        }
        if (x->down_off < x->down_len) {
            n = x->down_len - x->down_off;
            rv = apr_socket_send(c->sock, x->bbuf + x->down_off, &n);
            if (rv == APR_SUCCESS) {
                x->down_off += n, progress = 1;
            } else if (!APR_STATUS_IS_EAGAIN(rv)) {
                x->backend_eof = x->client_eof = 1;
            }
        }
        if (progress) {
            c->deadline = c->loop->now + x->cf->upgrade_idle;
        }
    }
    if ((x->client_eof && x->up_off == x->up_len) ||
        (x->backend_eof && x->down_off == x->down_len)) {
        kz_conn_close(c); /* last: the request and its backend connection go with it */
        return;
    }
    cev = (x->up_off == x->up_len ? APR_POLLIN : 0) | (x->down_off < x->down_len ? APR_POLLOUT : 0);
    bev = (x->down_off == x->down_len ? APR_POLLIN : 0) | (x->up_off < x->up_len ? APR_POLLOUT : 0);
    kz_conn_set_events(c, cev);
    kz_uconn_wait(x->uc, bev, 0, 0);
}

static void px_tunnel_backend(kz_uconn_t *uc, void *baton, apr_int16_t events)
{
    px_t *x = baton;

    if (uc->error) {
        kz_conn_close(x->r->conn);
        return;
    }
    if (!x->tunnel_started) {
        kz_uconn_wait(uc, 0, 0, 0); /* the 101 is still going out */
        return;
    }
    px_tunnel_step(x);
}

/* The 101 went out: relay. Bytes the backend sent after its head go to the client first. */
static void px_tunnel(kz_request_t *r, void *baton)
{
    px_t *x = baton;

    if (!x->tunnel_started) {
        x->tunnel_started = 1;
        x->obuf = x->obuf ? x->obuf : apr_palloc(r->pool, RP_BUF);
        x->bbuf = x->bbuf ? x->bbuf : apr_palloc(r->pool, RP_BUF);
        x->down_len = x->in_len - x->in_off < RP_BUF ? x->in_len - x->in_off : RP_BUF;
        memcpy(x->bbuf, x->in + x->in_off, x->down_len);
        kz_uconn_own(x->uc, px_tunnel_backend, x);
        r->conn->deadline = r->conn->loop->now + x->cf->upgrade_idle;
    }
    px_tunnel_step(x);
}

/* ---- starting ---- */

static void px_event(kz_uconn_t *uc, void *baton, apr_int16_t events)
{
    px_t *x = baton;

    if (px_abandoned(x)) {
        return;
    }
    if (uc->error) {
        if (x->state == PX_CONNECT || uc->error == 504) {
            kz_lb_fail(x->set->lb, x->bi, uc->loop->now);
        }
        if (x->state == PX_CONNECT || uc->error == 504 || !px_retry(x)) {
            px_fail(x, uc->error, uc->why);
        }
        return;
    }
    if (x->state == PX_CONNECT) {
        x->state = PX_SEND;
    }
    if (x->state == PX_SEND && (events & APR_POLLIN) && !(events & APR_POLLOUT)) {
        /* An answer before the body ended: read it; the connection cannot be reused. */
        x->state = PX_HEAD;
        kz_uconn_wait(x->uc, APR_POLLIN, x->cf->response_to, 504);
    }
    if (x->state == PX_SEND) {
        px_send(x);
    } else if (x->state == PX_HEAD) {
        px_read_head(x);
    }
}

/* Opens (or reuses) a connection to the chosen backend; 0, or an error status. */
static int px_open(px_t *x, int fresh)
{
    int status = 503;
    const char *why = "no connection";

    x->uc =
        kz_upstream_open(x->r->conn->loop, x->t, &x->cf->lim, fresh, px_event, x, &status, &why);
    if (!x->uc) {
        kz_lb_fail(x->set->lb, x->bi, x->r->conn->loop->now);
        kz_request_log(x->r, KZ_LOG_ERR, 600, "proxy to %s: %s (%d)", x->t->url, why, status);
        return status;
    }
    if (x->uc->reused) {
        x->state = PX_SEND;
        px_send(x);
    } else {
        x->state = PX_CONNECT;
    }
    return 0;
}

static int rp_start(kz_request_t *r, const rp_conf_t *cf)
{
    px_t *x = apr_pcalloc(r->pool, sizeof(*x));
    kz_loop_t *loop = r->conn->loop;
    int rc;

    x->r = r;
    x->cf = cf;
    x->set = cf->plain.n ? &cf->plain : &cf->secure; /* no TLS listener yet: plain first */
    x->bi = kz_lb_pick(x->set->lb, loop->now, &loop->rng, -1);
    x->t = x->set->targets[x->bi];
    kz_lb_acquire(x->set->lb, x->bi);
    x->acquired = 1;
    apr_pool_cleanup_register(r->pool, x, px_cleanup, apr_pool_cleanup_null);
    if ((rc = build_head(x)) != 0) {
        return rc;
    }
    x->in_cap = 16 * 1024;
    x->in = apr_palloc(r->pool, x->in_cap);
    x->in_start = 1;
    x->sync_rc = KZ_SUSPENDED;
    rc = px_open(x, 0);
    x->in_start = 0;
    return rc ? rc : x->sync_rc;
}

static int rp_handle(kz_request_t *r)
{
    const rp_conf_t *cf = kz_request_module_conf(r, &kz_rproxy_module);

    if (!cf || !r->path) {
        return KZ_DECLINED;
    }
    return rp_start(r, cf);
}

/* Upgrades (WebSocket): proxied like any request, with the Upgrade sent along. */
static int rp_handle_connect(kz_request_t *r)
{
    if (r->method_num == KZ_M_CONNECT) {
        return KZ_DECLINED;
    }
    return rp_handle(r);
}

const kz_module_t kz_rproxy_module = {
    KZ_MODULE_HEADER_INIT("rproxy", KZ_VERSION_STRING),
    NULL,
    0,
    rp_init,
    rp_create_conf,
    rp_handle,
    NULL,
    rp_handle_connect,
};
