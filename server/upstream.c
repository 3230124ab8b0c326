/*
 * The upstream engine (upstream.h): backend addresses, non-blocking connects over every
 * resolved address, TLS with OpenSSL (RFC 8446 through the library; RFC 6125 host-name checks
 * by X509_VERIFY_PARAM), deadlines, and a per-loop keep-alive pool per backend whose idle
 * connections stay registered for reading, so a backend that closes one is noticed at once and
 * reusing one costs no poll call.
 */
#include "upstream.h"

#include "core.h"
#include "kz_net.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>

enum { UC_CONNECTING, UC_HANDSHAKE, UC_READY, UC_IDLE };

/* The idle connections of one backend on one loop. */
typedef struct upool {
    kz_uconn_t *idle; /* most recently used first */
    int n;
} upool_t;

static SSL_CTX *tls_ctx[2]; /* [verify] */

/* Made once, at the first https target, on the main thread (configurations load there). */
static SSL_CTX *tls_context(int verify)
{
    SSL_CTX *ctx = tls_ctx[verify];

    if (ctx) {
        return ctx;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (verify) {
        SSL_CTX_set_default_verify_paths(ctx); /* honours SSL_CERT_FILE / SSL_CERT_DIR */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return tls_ctx[verify] = ctx;
}

/* ---- targets ---- */

static const char *parse_hostport(kz_upstream_target_t *t, const char *hp, apr_pool_t *p)
{
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;

    if (!*hp || apr_parse_addr_port(&host, &scope, &port, hp, p) != APR_SUCCESS || !host || scope) {
        return apr_psprintf(p, "'%s' is not a valid host[:port]", hp);
    }
    t->host = host;
    t->port = port ? port : (t->tls ? 443 : 80);
    t->authority = apr_pstrdup(p, hp);
    {
        unsigned char bin[16];
        int v4;
        t->is_literal = kz_ip_parse(host, strlen(host), bin, &v4) == 1;
    }
    return NULL;
}

static apr_status_t pool_destroy(void *data)
{
    apr_pool_destroy(data);
    return APR_SUCCESS;
}

/* The resolver thread allocates address lists in t->pool while loops and reloads allocate from
 * the configuration's pool: t->pool gets an allocator of its own, so the two never share one
 * (an allocator without a mutex), and goes with the configuration. */
static void target_pool(kz_upstream_target_t *t, apr_pool_t *p)
{
    apr_allocator_t *alloc = NULL;

    apr_allocator_create(&alloc);
    apr_pool_create_unmanaged_ex(&t->pool, NULL, alloc);
    apr_allocator_owner_set(alloc, t->pool);
    apr_pool_cleanup_register(p, t->pool, pool_destroy, apr_pool_cleanup_null);
}

const char *kz_upstream_target_parse(kz_upstream_target_t **out, const char *url, int verify,
                                     apr_pool_t *p)
{
    kz_upstream_target_t *t = apr_pcalloc(p, sizeof(*t));
    const char *rest, *slash, *err;

    t->url = url;
    target_pool(t, p);
    if (!strncasecmp(url, "unix://", 7)) {
        t->scheme = KZ_UP_UNIX;
        t->sock_path = url + 7;
        if (t->sock_path[0] != '/') {
            return "a unix:// URL needs an absolute socket path (unix:///path)";
        }
        t->host = t->authority = "localhost";
        t->base = "";
        t->key = apr_pstrcat(p, "unix:", t->sock_path, NULL);
        *out = t;
        return NULL;
    }
    if (!strncasecmp(url, "http://", 7)) {
        rest = url + 7;
    } else if (!strncasecmp(url, "https://", 8)) {
        rest = url + 8;
        t->scheme = KZ_UP_HTTPS;
        t->tls = 1;
        t->verify = verify;
        if (!tls_context(verify)) {
            return "cannot create a TLS context";
        }
    } else {
        return "the URL must start with http://, https:// or unix://";
    }
    slash = strchr(rest, '/');
    if ((err = parse_hostport(t, slash ? apr_pstrmemdup(p, rest, slash - rest) : rest, p))) {
        return err;
    }
    t->base = slash ? apr_pstrdup(p, slash) : "";
    if (strchr(t->base, '?') || strchr(t->base, '#')) {
        return "the URL may not have a query or fragment";
    }
    while (*t->base && t->base[strlen(t->base) - 1] == '/') {
        ((char *)t->base)[strlen(t->base) - 1] = '\0';
    }
    t->key = apr_psprintf(p, "%s://%s:%u/%d", t->tls ? "https" : "http", t->host, (unsigned)t->port,
                          t->verify);
    *out = t;
    return NULL;
}

/* Whether two address lists hold the same addresses in the same order. */
static int sa_same(apr_sockaddr_t *a, apr_sockaddr_t *b)
{
    for (; a && b; a = a->next, b = b->next) {
        if (!apr_sockaddr_equal(a, b)) {
            return 0;
        }
    }
    return !a && !b;
}

apr_status_t kz_upstream_resolve(kz_upstream_target_t *t)
{
    apr_sockaddr_t *sa;
    apr_pool_t *scratch;
    apr_status_t rv;

    if (t->scheme == KZ_UP_UNIX) {
        if (!t->sa) {
            rv = apr_sockaddr_info_get(&sa, t->sock_path, APR_UNIX, 0, 0, t->pool);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            apr_atomic_casptr((volatile void **)&t->sa, sa, NULL);
        }
        return APR_SUCCESS;
    }
    if (t->sa && t->is_literal) {
        return APR_SUCCESS;
    }
    apr_pool_create(&scratch, NULL);
    rv = apr_sockaddr_info_get(&sa, t->host, APR_UNSPEC, t->port, 0, scratch);
    if (rv == APR_SUCCESS && !sa_same(sa, t->sa)) {
        /* Published lists are never freed before the configuration: a loop may be using one.
         * They change rarely, so keeping them costs little. */
        apr_sockaddr_info_get(&sa, t->host, APR_UNSPEC, t->port, 0, t->pool);
        apr_atomic_xchgptr((volatile void **)&t->sa, sa);
    }
    apr_pool_destroy(scratch);
    return rv;
}

/* ---- connections ---- */

int kz_upstream_status(apr_status_t rv)
{
    if (APR_STATUS_IS_ECONNREFUSED(rv) || APR_STATUS_IS_EHOSTUNREACH(rv) ||
        APR_STATUS_IS_ENETUNREACH(rv) || APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_EACCES(rv)) {
        return 503;
    }
    if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_ETIMEDOUT(rv)) {
        return 504;
    }
    return 502;
}

static void uc_set_events(kz_uconn_t *uc, apr_int16_t events)
{
    kz_loop_poll(uc->loop, &uc->pfd, &uc->events, events);
}

static void list_remove(kz_uconn_t **head, kz_uconn_t *uc)
{
    if (uc->prev) {
        uc->prev->next = uc->next;
    } else if (*head == uc) {
        *head = uc->next;
    }
    if (uc->next) {
        uc->next->prev = uc->prev;
    }
    uc->prev = uc->next = NULL;
}

static void list_push(kz_uconn_t **head, kz_uconn_t *uc)
{
    uc->prev = NULL;
    uc->next = *head;
    if (*head) {
        (*head)->prev = uc;
    }
    *head = uc;
}

/* Closes a connection that is on no list; freed after the poll round. */
static void uc_close(kz_uconn_t *uc)
{
    kz_loop_t *loop = uc->loop;

    if (!uc->open) {
        return;
    }
    uc->open = 0;
    if (uc->ssl) {
        SSL_free(uc->ssl); /* no close_notify: the socket closes anyway */
        uc->ssl = NULL;
    }
    kz_loop_unpoll(loop, &uc->pfd, &uc->events);
    apr_socket_close(uc->sock);
    uc->next = loop->uclosed;
    loop->uclosed = uc;
}

void kz_upstream_release_closed(kz_loop_t *loop)
{
    while (loop->uclosed) {
        kz_uconn_t *uc = loop->uclosed;
        loop->uclosed = uc->next;
        apr_pool_destroy(uc->pool);
    }
}

static void uc_fail(kz_uconn_t *uc, int status, const char *why)
{
    uc->error = status;
    uc->why = why;
    uc->fn(uc, uc->baton, 0);
}

static apr_status_t uc_start_connect(kz_uconn_t *uc, apr_sockaddr_t *sa)
{
    apr_status_t rv;

    if (uc->sock) {
        kz_loop_unpoll(uc->loop, &uc->pfd, &uc->events);
        apr_socket_close(uc->sock);
        uc->sock = NULL;
    }
    /* Set first: a socket that cannot be made must not keep the callers on this address. */
    uc->sa_next = sa->next;
    rv = apr_socket_create(&uc->sock, sa->family, SOCK_STREAM,
                           APR_PROTO_TCP * (sa->family != APR_UNIX), uc->pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_socket_timeout_set(uc->sock, 0);
    if (sa->family != APR_UNIX) {
        apr_socket_opt_set(uc->sock, APR_TCP_NODELAY, 1);
    }
    uc->pfd.desc.s = uc->sock;
    rv = apr_socket_connect(uc->sock, sa);
    if (rv == APR_SUCCESS || APR_STATUS_IS_EINPROGRESS(rv)) {
        return APR_SUCCESS;
    }
    return rv;
}

kz_uconn_t *kz_upstream_open(kz_loop_t *loop, const kz_upstream_target_t *t,
                             const kz_upstream_limits_t *lim, int fresh, kz_uconn_fn fn,
                             void *baton, int *status, const char **why)
{
    upool_t *up = apr_hash_get(loop->upools, t->key, APR_HASH_KEY_STRING);
    apr_sockaddr_t *sa = t->sa;
    apr_pool_t *p;
    kz_uconn_t *uc;
    apr_status_t rv;

    while (up && up->idle && !fresh) {
        uc = up->idle;
        list_remove(&up->idle, uc);
        up->n--;
        if (loop->now - uc->idle_since >= lim->keepalive) {
            uc_close(uc);
            continue;
        }
        uc->state = UC_READY;
        uc->reused = 1;
        uc->fn = fn;
        uc->baton = baton;
        uc->target = t;
        uc->lim = *lim;
        uc->error = 0;
        uc->deadline = 0;
        uc->want_recv = uc->want_send = 0;
        list_push(&loop->ubusy, uc);
        return uc;
    }
    if (!sa) {
        *status = 503;
        *why = "the backend's name did not resolve";
        return NULL;
    }
    apr_pool_create(&p, loop->pool);
    uc = apr_pcalloc(p, sizeof(*uc));
    uc->kind = KZ_EV_UPSTREAM;
    uc->loop = loop;
    uc->pool = p;
    uc->fn = fn;
    uc->baton = baton;
    uc->target = t;
    uc->lim = *lim;
    uc->key = apr_pstrdup(p, t->key);
    uc->pfd.p = p;
    uc->pfd.desc_type = APR_POLL_SOCKET;
    uc->pfd.client_data = uc;
    uc->open = 1;
    uc->state = UC_CONNECTING;
    rv = uc_start_connect(uc, sa);
    while (rv != APR_SUCCESS && uc->sa_next) {
        rv = uc_start_connect(uc, uc->sa_next);
    }
    if (rv != APR_SUCCESS) {
        *status = kz_upstream_status(rv);
        *why = "connect failed";
        if (uc->sock) {
            apr_socket_close(uc->sock);
        }
        apr_pool_destroy(p);
        return NULL;
    }
    list_push(&loop->ubusy, uc);
    /* Connecting has its own deadline; the owner's wait starts when it is ready. */
    uc->deadline = loop->now + lim->connect;
    uc->deadline_status = 504;
    uc_set_events(uc, APR_POLLOUT);
    return uc;
}

void kz_uconn_own(kz_uconn_t *uc, kz_uconn_fn fn, void *baton)
{
    uc->fn = fn;
    uc->baton = baton;
}

void kz_uconn_wait(kz_uconn_t *uc, apr_int16_t events, apr_interval_time_t timeout,
                   int timeout_status)
{
    apr_int16_t ev = 0;

    if (uc->state != UC_READY) {
        return; /* still connecting: the engine polls; the owner hears when it is ready */
    }
    uc->deadline = timeout ? uc->loop->now + timeout : 0;
    uc->deadline_status = timeout_status;
    if (events & APR_POLLIN) {
        ev |= uc->want_recv ? uc->want_recv : APR_POLLIN;
    }
    if (events & APR_POLLOUT) {
        ev |= uc->want_send ? uc->want_send : APR_POLLOUT;
    }
    uc_set_events(uc, ev);
}

/* ---- TLS ---- */

static apr_status_t tls_result(kz_uconn_t *uc, int ret, apr_int16_t *want)
{
    switch (SSL_get_error(uc->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        *want = APR_POLLIN;
        return APR_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = APR_POLLOUT;
        return APR_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;
    default:
        ERR_clear_error();
        return APR_EGENERAL;
    }
}

static apr_status_t tls_start(kz_uconn_t *uc)
{
    const kz_upstream_target_t *t = uc->target;
    apr_os_sock_t fd;
    SSL *ssl = SSL_new(tls_context(t->verify));

    if (!ssl) {
        return APR_ENOMEM;
    }
    uc->ssl = ssl;
    apr_os_sock_get(&fd, uc->sock);
    SSL_set_fd(ssl, (int)fd);
    return kz_upstream_ssl_setup(ssl, t);
}

static const char *tls_error(kz_uconn_t *uc)
{
    long v = SSL_get_verify_result(uc->ssl);

    if (v != X509_V_OK) {
        return apr_pstrcat(uc->pool, "TLS certificate verification failed: ",
                           X509_verify_cert_error_string(v), NULL);
    }
    return "TLS handshake failed";
}

apr_status_t kz_uconn_send(kz_uconn_t *uc, const char *data, apr_size_t *len)
{
    if (uc->ssl) {
        size_t n = 0;
        int ret = SSL_write_ex(uc->ssl, data, *len, &n);
        uc->want_send = 0;
        *len = n;
        return ret > 0 ? APR_SUCCESS : tls_result(uc, ret, &uc->want_send);
    }
    return apr_socket_send(uc->sock, data, len);
}

apr_status_t kz_uconn_recv(kz_uconn_t *uc, char *buf, apr_size_t *len)
{
    apr_status_t rv;

    if (uc->ssl) {
        size_t n = 0;
        int ret = SSL_read_ex(uc->ssl, buf, *len, &n);
        uc->want_recv = 0;
        *len = n;
        return ret > 0 ? APR_SUCCESS : tls_result(uc, ret, &uc->want_recv);
    }
    rv = apr_socket_recv(uc->sock, buf, len);
    if (rv == APR_SUCCESS && *len == 0) {
        return APR_EOF;
    }
    return rv;
}

/*
 * The engine's SNI and RFC 6125 host (or IP) check, for a caller that makes its own SSL and runs
 * its own I/O on it (the health prober).
 */
apr_status_t kz_upstream_ssl_setup(struct ssl_st *ssl, const kz_upstream_target_t *t)
{
    X509_VERIFY_PARAM *vp;

    if (!t->is_literal && !SSL_set_tlsext_host_name(ssl, t->host)) {
        return APR_EGENERAL;
    }
    if (t->verify) {
        vp = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (t->is_literal ? !X509_VERIFY_PARAM_set1_ip_asc(vp, t->host)
                          : !X509_VERIFY_PARAM_set1_host(vp, t->host, 0)) {
            return APR_EGENERAL;
        }
    }
    return APR_SUCCESS;
}

/* ---- events ---- */

/* The connect finished (or failed): on to TLS, or ready. */
static void uc_connected(kz_uconn_t *uc, apr_int16_t events)
{
    char probe;
    apr_size_t n = 1;
    apr_status_t rv;

    if (events & (APR_POLLERR | APR_POLLHUP)) {
        /* A failed connect leaves its error pending: a read returns it. */
        rv = apr_socket_recv(uc->sock, &probe, &n);
        rv = rv == APR_SUCCESS || rv == APR_EOF ? APR_ECONNREFUSED : rv;
        while (uc->sa_next) {
            if (uc_start_connect(uc, uc->sa_next) == APR_SUCCESS) {
                uc_set_events(uc, APR_POLLOUT);
                return;
            }
        }
        uc_fail(uc, kz_upstream_status(rv), "connect failed");
        return;
    }
    if (uc->target->tls) {
        if (tls_start(uc) != APR_SUCCESS) {
            uc_fail(uc, 502, "TLS setup failed");
            return;
        }
        uc->state = UC_HANDSHAKE;
    } else {
        uc->state = UC_READY;
        uc->deadline = 0;
        uc->fn(uc, uc->baton, APR_POLLOUT);
    }
}

static void uc_handshake(kz_uconn_t *uc)
{
    int ret = SSL_connect(uc->ssl);
    apr_status_t rv;

    if (ret == 1) {
        uc->want_recv = 0;
        uc->state = UC_READY;
        uc->deadline = 0;
        uc->fn(uc, uc->baton, APR_POLLOUT);
        return;
    }
    rv = tls_result(uc, ret, &uc->want_recv);
    if (APR_STATUS_IS_EAGAIN(rv)) {
        uc_set_events(uc, uc->want_recv);
        return;
    }
    uc_fail(uc, 502, tls_error(uc));
}

/* An idle pooled connection became readable: the backend closed it (or sent junk). */
static void uc_idle_event(kz_uconn_t *uc)
{
    upool_t *up = apr_hash_get(uc->loop->upools, uc->key, APR_HASH_KEY_STRING);

    if (up) {
        list_remove(&up->idle, uc);
        up->n--;
    }
    uc_close(uc);
}

void kz_upstream_on_event(kz_uconn_t *uc, apr_int16_t events)
{
    if (!uc->open) {
        return;
    }
    switch (uc->state) {
    case UC_IDLE:
        uc_idle_event(uc);
        break;
    case UC_CONNECTING:
        uc_connected(uc, events);
        if (uc->open && uc->state == UC_HANDSHAKE) {
            uc_handshake(uc);
        }
        break;
    case UC_HANDSHAKE:
        uc_handshake(uc);
        break;
    default:
        uc->fn(uc, uc->baton, events);
        break;
    }
}

void kz_uconn_release(kz_uconn_t *uc, int reusable)
{
    kz_loop_t *loop = uc->loop;
    upool_t *up;

    list_remove(&loop->ubusy, uc);
    uc->target = NULL;
    uc->fn = NULL;
    uc->baton = NULL;
    /* Plaintext TLS still holds is a backend out of step, invisible to poll: not reused. */
    if (!reusable || uc->state != UC_READY || uc->lim.keep_max <= 0 || loop->draining ||
        (uc->ssl && SSL_pending(uc->ssl) > 0)) {
        uc_close(uc);
        return;
    }
    up = apr_hash_get(loop->upools, uc->key, APR_HASH_KEY_STRING);
    if (!up) {
        up = apr_pcalloc(loop->pool, sizeof(*up));
        apr_hash_set(loop->upools, apr_pstrdup(loop->pool, uc->key), APR_HASH_KEY_STRING, up);
    }
    if (up->n >= uc->lim.keep_max) {
        uc_close(uc);
        return;
    }
    uc->state = UC_IDLE;
    uc->idle_since = loop->now;
    uc->deadline = 0;
    list_push(&up->idle, uc);
    up->n++;
    /* Stays registered for reading: a close by the backend shows at once, and the next owner,
     * which waits for the response anyway, needs no poll call. */
    uc_set_events(uc, APR_POLLIN);
}

void kz_upstream_sweep(kz_loop_t *loop)
{
    kz_uconn_t *uc, *next;

    for (uc = loop->ubusy; uc; uc = next) {
        next = uc->next;
        if (uc->deadline && loop->now >= uc->deadline) {
            uc->deadline = 0;
            uc_fail(uc, uc->deadline_status, "timed out");
        }
    }
    for (apr_hash_index_t *hi = apr_hash_first(NULL, loop->upools); hi; hi = apr_hash_next(hi)) {
        upool_t *up = apr_hash_this_val(hi);
        for (uc = up->idle; uc; uc = next) {
            next = uc->next;
            /* A draining loop keeps no idle connections: the backend gets them back now. */
            if (loop->draining || loop->now - uc->idle_since >= uc->lim.keepalive) {
                list_remove(&up->idle, uc);
                up->n--;
                uc_close(uc);
            }
        }
    }
}

void kz_upstream_loop_stop(kz_loop_t *loop)
{
    for (apr_hash_index_t *hi = apr_hash_first(NULL, loop->upools); hi; hi = apr_hash_next(hi)) {
        upool_t *up = apr_hash_this_val(hi);
        while (up->idle) {
            kz_uconn_t *uc = up->idle;
            list_remove(&up->idle, uc);
            up->n--;
            uc_close(uc);
        }
    }
    kz_upstream_release_closed(loop);
}
