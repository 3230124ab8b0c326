/*
 * Background upkeep of a configuration's backends (issue 5, proxy-spec
 * "loadBalancerHealthCheckPath" / "loadBalancerHealthCheckInterval"): one thread per serving
 * configuration re-resolves host names every KZ_RP_RESOLVE_INTERVAL and sends active health
 * probes (GET base+path over HTTP/1.1, RFC 9112; 2xx/3xx = up) whose results go to the load
 * balancer. Probes use blocking APR sockets with a timeout; TLS runs through memory BIOs over
 * the same socket so the timeout holds for the handshake too. Stopping (a pre-cleanup of the
 * configuration's pool) wakes the thread, shuts down a probe's socket in flight and joins it.
 */
#include "rp_maint.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#define MAINT_KEY        "kz_rp_maint"
#define MAINT_ANSWER_MAX 8192 /* a status line (and any 1xx heads before it) must fit */
#define MAINT_DEFAULT    apr_time_from_sec(5)
#define MAINT_MIN_PERIOD apr_time_from_msec(10)

/* One scope's backends. */
typedef struct maint_set {
    kz_lb_t *lb;
    kz_upstream_target_t *const *targets;
    int n;
    const char *path; /* encoded, starting with '/'; NULL: no probes */
    apr_interval_time_t interval, timeout;
    apr_time_t next; /* the next probe round */
} maint_set_t;

/* A configuration's upkeep: made at load in pconf, run by one thread once serving. */
typedef struct maint {
    apr_array_header_t *sets; /* maint_set_t */
    apr_pool_t *pool;         /* own allocator: only the thread allocates from it */
    apr_thread_t *thread;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    int stop;            /* under mutex */
    apr_socket_t *probe; /* the socket of a probe in flight, under mutex */
    SSL_CTX *tls[2];     /* [verify], made by the thread when first needed */
    int started;
} maint_t;

/* One probe's connection. */
typedef struct probe {
    maint_t *m;
    apr_socket_t *sock;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    apr_time_t deadline;
    apr_pool_t *p;
} probe_t;

enum { TLS_HANDSHAKE, TLS_WRITE, TLS_READ };

/* ---- registration (main thread) ---- */

/* The probe path as sent: '/'-prefixed, bytes that cannot stand in a request line escaped. */
static const char *path_encode(const char *path, apr_pool_t *p)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(path) * 3 + 2), *o = out;

    if (path[0] != '/') {
        *o++ = '/';
    }
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '#') {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 15];
        } else {
            *o++ = (char)*s;
        }
    }
    *o = '\0';
    return out;
}

void kz_rp_maint_add(apr_pool_t *pconf, kz_lb_t *lb, kz_upstream_target_t *const *targets, int n,
                     const char *path, apr_interval_time_t interval, apr_interval_time_t timeout)
{
    void *data = NULL;
    maint_t *m;
    maint_set_t *s;

    if (!lb || !targets || n <= 0) {
        return;
    }
    apr_pool_userdata_get(&data, MAINT_KEY, pconf);
    if (!(m = data)) {
        m = apr_pcalloc(pconf, sizeof(*m));
        m->sets = apr_array_make(pconf, 4, sizeof(maint_set_t));
        apr_pool_userdata_setn(m, MAINT_KEY, NULL, pconf);
    }
    s = apr_array_push(m->sets);
    s->lb = lb;
    s->targets = targets;
    s->n = n < lb->n ? n : lb->n;
    s->path = path && *path ? path_encode(path, pconf) : NULL;
    s->interval = interval > 0 ? interval : MAINT_DEFAULT;
    s->interval = s->interval < MAINT_MIN_PERIOD ? MAINT_MIN_PERIOD : s->interval;
    s->timeout = timeout > 0 ? timeout : MAINT_DEFAULT;
    s->next = 0;
}

/* Whether t has a name to look up again (not an address, not a socket path). */
static int has_name(const kz_upstream_target_t *t)
{
    return t->scheme != KZ_UP_UNIX && !t->is_literal;
}

/* Whether the configuration needs the thread: probes, or names to re-resolve. */
static int maint_needed(const maint_t *m, int *names)
{
    int work = 0;

    *names = 0;
    for (int i = 0; i < m->sets->nelts; i++) {
        const maint_set_t *s = &APR_ARRAY_IDX(m->sets, i, maint_set_t);
        work |= s->path != NULL;
        for (int j = 0; j < s->n; j++) {
            *names |= has_name(s->targets[j]);
        }
    }
    return work || *names;
}

/* ---- blocking I/O within the probe's deadline ---- */

/* Sets the socket's timeout to what is left of the probe's time. */
static apr_status_t io_arm(probe_t *pr)
{
    apr_interval_time_t left = pr->deadline - apr_time_now();

    if (left <= 0) {
        return APR_TIMEUP;
    }
    return apr_socket_timeout_set(pr->sock, left);
}

static apr_status_t raw_send(probe_t *pr, const char *data, apr_size_t len)
{
    while (len > 0) {
        apr_size_t n = len;
        apr_status_t rv = io_arm(pr);
        if (rv == APR_SUCCESS) {
            rv = apr_socket_send(pr->sock, data, &n);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        data += n;
        len -= n;
    }
    return APR_SUCCESS;
}

static apr_status_t raw_recv(probe_t *pr, char *buf, apr_size_t *len)
{
    apr_status_t rv = io_arm(pr);

    if (rv != APR_SUCCESS) {
        *len = 0;
        return rv;
    }
    rv = apr_socket_recv(pr->sock, buf, len);
    return *len > 0 ? APR_SUCCESS : rv == APR_SUCCESS ? APR_EOF : rv;
}

/* Sends what OpenSSL wrote into its output BIO. */
static apr_status_t tls_flush(probe_t *pr)
{
    char buf[4096];
    int n;

    while ((n = BIO_read(pr->wbio, buf, sizeof(buf))) > 0) {
        apr_status_t rv = raw_send(pr, buf, (apr_size_t)n);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Feeds OpenSSL the next bytes from the backend. */
static apr_status_t tls_fill(probe_t *pr)
{
    char buf[4096];
    apr_size_t len = sizeof(buf);
    apr_status_t rv = raw_recv(pr, buf, &len);

    if (rv == APR_SUCCESS && BIO_write(pr->rbio, buf, (int)len) != (int)len) {
        return APR_ENOMEM;
    }
    return rv;
}

/* Runs one TLS operation to completion, pumping bytes between the BIOs and the socket. */
static apr_status_t tls_run(probe_t *pr, int op, void *buf, int len, int *done)
{
    for (;;) {
        int r, err;
        apr_status_t rv;

        ERR_clear_error();
        r = op == TLS_HANDSHAKE ? SSL_do_handshake(pr->ssl)
            : op == TLS_WRITE   ? SSL_write(pr->ssl, buf, len)
                                : SSL_read(pr->ssl, buf, len);
        err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(pr->ssl, r);
        if ((rv = tls_flush(pr)) != APR_SUCCESS) {
            return rv;
        }
        if (r > 0) {
            *done = r;
            return APR_SUCCESS;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
            return APR_EOF;
        }
        if (err != SSL_ERROR_WANT_READ) {
            return APR_EGENERAL;
        }
        if ((rv = tls_fill(pr)) != APR_SUCCESS) {
            return rv;
        }
    }
}

static apr_status_t probe_send(probe_t *pr, const char *data, apr_size_t len)
{
    int done = 0;

    if (!pr->ssl) {
        return raw_send(pr, data, len);
    }
    while (len > 0) {
        apr_status_t rv = tls_run(pr, TLS_WRITE, (void *)data, (int)len, &done);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        data += done;
        len -= (apr_size_t)done;
    }
    return APR_SUCCESS;
}

static apr_status_t probe_recv(probe_t *pr, char *buf, apr_size_t *len)
{
    int done = 0;
    apr_status_t rv;

    if (!pr->ssl) {
        return raw_recv(pr, buf, len);
    }
    rv = tls_run(pr, TLS_READ, buf, (int)*len, &done);
    *len = rv == APR_SUCCESS ? (apr_size_t)done : 0;
    return rv;
}

/* ---- one probe ---- */

/*
 * The client context for a verification setting, made on first use. Not the engine's: that one
 * is made once per process, this one per configuration, so it reads the CA store anew.
 */
static SSL_CTX *tls_context(maint_t *m, int verify)
{
    SSL_CTX *ctx = m->tls[verify];

    if (ctx || !(ctx = SSL_CTX_new(TLS_client_method()))) {
        return ctx;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_default_verify_paths(ctx); /* honours SSL_CERT_FILE, as the engine does */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return m->tls[verify] = ctx;
}

/* TLS on the connected socket, with the engine's SNI and host check. */
static apr_status_t probe_tls(probe_t *pr, const kz_upstream_target_t *t)
{
    SSL_CTX *ctx = tls_context(pr->m, t->verify ? 1 : 0);
    int done;

    if (!ctx || !(pr->ssl = SSL_new(ctx))) {
        return APR_ENOMEM;
    }
    pr->rbio = BIO_new(BIO_s_mem());
    pr->wbio = BIO_new(BIO_s_mem());
    if (!pr->rbio || !pr->wbio) {
        BIO_free(pr->rbio);
        BIO_free(pr->wbio);
        return APR_ENOMEM;
    }
    SSL_set_bio(pr->ssl, pr->rbio, pr->wbio);
    SSL_set_connect_state(pr->ssl);
    if (kz_upstream_ssl_setup(pr->ssl, t) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return tls_run(pr, TLS_HANDSHAKE, NULL, 0, &done);
}

/* Makes s the probe in flight (a stop shuts it down); 0 when stopping already. */
static int probe_publish(maint_t *m, apr_socket_t *s)
{
    int go;

    apr_thread_mutex_lock(m->mutex);
    go = !m->stop;
    m->probe = go ? s : NULL;
    apr_thread_mutex_unlock(m->mutex);
    return go;
}

static void probe_close(probe_t *pr)
{
    if (pr->ssl) {
        SSL_free(pr->ssl);
        pr->ssl = NULL;
    }
    if (pr->sock) {
        probe_publish(pr->m, NULL);
        apr_socket_close(pr->sock);
        pr->sock = NULL;
    }
    ERR_clear_error();
}

/* Connects to the first address of the list that answers within the probe's time. */
static apr_status_t probe_connect(probe_t *pr, apr_sockaddr_t *sa)
{
    apr_status_t rv = APR_ENOENT; /* no address: the name never resolved */

    for (; sa; sa = sa->next) {
        int unix_sock = sa->family == APR_UNIX;
        rv = apr_socket_create(&pr->sock, sa->family, SOCK_STREAM, unix_sock ? 0 : APR_PROTO_TCP,
                               pr->p);
        if (rv != APR_SUCCESS) {
            pr->sock = NULL;
            continue;
        }
        if (!probe_publish(pr->m, pr->sock)) {
            probe_close(pr);
            return APR_EINTR;
        }
        if ((rv = io_arm(pr)) == APR_SUCCESS && (rv = apr_socket_connect(pr->sock, sa)) == 0) {
            return APR_SUCCESS;
        }
        probe_close(pr);
        if (APR_STATUS_IS_TIMEUP(rv)) {
            break;
        }
    }
    return rv;
}

/* Finds needle in buf[0..len). */
static const char *find(const char *buf, apr_size_t len, const char *needle)
{
    apr_size_t n = strlen(needle);

    for (apr_size_t i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, needle, n) == 0) {
            return buf + i;
        }
    }
    return NULL;
}

/*
 * The status of one status line of len bytes (CRLF excluded), parsed strictly:
 * "HTTP/1." DIGIT SP 3DIGIT [SP reason] (RFC 9112 §4); -1 when malformed.
 */
static int status_line(const char *l, apr_size_t len)
{
    const char *d = l + 9;

    if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ') {
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (d[i] < '0' || d[i] > '9') {
            return -1;
        }
    }
    if (len > 12 && l[12] != ' ') {
        return -1;
    }
    if (d[0] < '1' || d[0] > '5') {
        return -1;
    }
    return (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
}

/* The final status in buf[0..len), skipping interim 1xx heads; 0 = not yet, -1 = malformed. */
static int answer_status(const char *buf, apr_size_t len)
{
    apr_size_t at = 0;

    for (;;) {
        apr_size_t have = len - at, cmp = have < 7 ? have : 7;
        const char *eol, *end;
        int st;

        if (memcmp(buf + at, "HTTP/1.", cmp) != 0) {
            return -1; /* refused on the first bytes, without waiting for more */
        }
        if (!(eol = find(buf + at, have, "\r\n"))) {
            return 0;
        }
        st = status_line(buf + at, (apr_size_t)(eol - (buf + at)));
        if (st < 0 || st >= 200 || st == 101) {
            return st;
        }
        if (!(end = find(buf + at, have, "\r\n\r\n"))) {
            return 0;
        }
        at = (apr_size_t)(end + 4 - buf);
    }
}

/* Reads the answer until its final status line; 1 when that says 2xx or 3xx. */
static int probe_answer(probe_t *pr)
{
    char buf[MAINT_ANSWER_MAX];
    apr_size_t have = 0;
    int st = 0;

    while (st == 0 && have < sizeof(buf)) {
        apr_size_t n = sizeof(buf) - have;
        if (probe_recv(pr, buf + have, &n) != APR_SUCCESS) {
            return 0;
        }
        have += n;
        st = answer_status(buf, have);
    }
    return st >= 200 && st < 400;
}

/* One probe of t: 1 = up. Its whole time (connect, TLS, request, answer) is at most timeout. */
static int probe_one(maint_t *m, const maint_set_t *s, kz_upstream_target_t *t, apr_pool_t *p)
{
    probe_t pr = {.m = m, .p = p, .deadline = apr_time_now() + s->timeout};
    apr_sockaddr_t *sa = apr_atomic_casptr((volatile void **)&t->sa, NULL, NULL);
    const char *req;
    int up = 0;

    if (probe_connect(&pr, sa) == APR_SUCCESS && (!t->tls || probe_tls(&pr, t) == APR_SUCCESS)) {
        req =
            apr_pstrcat(p, "GET ", t->base, s->path, " HTTP/1.1\r\nHost: ", t->authority,
                        "\r\nConnection: close\r\nUser-Agent: Karpacz-health-check\r\n\r\n", NULL);
        up = probe_send(&pr, req, strlen(req)) == APR_SUCCESS && probe_answer(&pr);
    }
    probe_close(&pr);
    return up;
}

/* ---- the thread ---- */

static int maint_stopping(maint_t *m)
{
    int stop;

    apr_thread_mutex_lock(m->mutex);
    stop = m->stop;
    apr_thread_mutex_unlock(m->mutex);
    return stop;
}

/* Probes every backend of s once; a stop ends the round without a result for the rest. */
static void probe_round(maint_t *m, maint_set_t *s)
{
    for (int i = 0; i < s->n; i++) {
        apr_pool_t *p;
        int up;

        apr_pool_create(&p, m->pool);
        up = probe_one(m, s, s->targets[i], p);
        apr_pool_destroy(p);
        if (maint_stopping(m)) {
            return; /* a probe cut short by the stop says nothing about the backend */
        }
        kz_lb_probe(s->lb, i, up);
    }
}

/* Looks every name up again (all: also those that resolved before). */
static void resolve_round(maint_t *m, int all)
{
    for (int i = 0; i < m->sets->nelts && !maint_stopping(m); i++) {
        maint_set_t *s = &APR_ARRAY_IDX(m->sets, i, maint_set_t);
        for (int j = 0; j < s->n; j++) {
            kz_upstream_target_t *t = s->targets[j];
            if (has_name(t) && (all || !apr_atomic_casptr((volatile void **)&t->sa, NULL, NULL))) {
                /* A failure keeps the previous addresses: nothing to report. */
                (void)kz_upstream_resolve(t);
            }
        }
    }
}

/* Sleeps until `until` or a stop; returns whether to stop. */
static int maint_sleep(maint_t *m, apr_time_t until)
{
    int stop;
    apr_time_t now;

    apr_thread_mutex_lock(m->mutex);
    while (!m->stop && (now = apr_time_now()) < until) {
        apr_thread_cond_timedwait(m->cond, m->mutex, until - now);
    }
    stop = m->stop;
    apr_thread_mutex_unlock(m->mutex);
    return stop;
}

/* Runs the probe rounds that are due; returns when the next one is. */
static apr_time_t probe_due(maint_t *m, apr_time_t wake)
{
    for (int i = 0; i < m->sets->nelts && !maint_stopping(m); i++) {
        maint_set_t *s = &APR_ARRAY_IDX(m->sets, i, maint_set_t);
        apr_time_t start = apr_time_now();
        if (!s->path) {
            continue;
        }
        if (s->next <= start) {
            probe_round(m, s);
            s->next = start + s->interval;
            if (s->next < apr_time_now()) {
                s->next = apr_time_now(); /* a round longer than the interval: no backlog */
            }
        }
        wake = s->next < wake ? s->next : wake;
    }
    return wake;
}

static void *APR_THREAD_FUNC maint_main(apr_thread_t *thd, void *data)
{
    maint_t *m = data;
    int names;
    apr_time_t next_resolve = apr_time_now() + KZ_RP_RESOLVE_INTERVAL;

    maint_needed(m, &names);
    resolve_round(m, 0); /* names that did not resolve at load are tried at once */
    for (;;) {
        apr_time_t wake = probe_due(m, names ? next_resolve : APR_INT64_MAX);
        if (names && next_resolve <= apr_time_now()) {
            resolve_round(m, 1);
            next_resolve = apr_time_now() + KZ_RP_RESOLVE_INTERVAL;
            continue;
        }
        if (maint_sleep(m, wake)) {
            break;
        }
    }
    for (int i = 0; i < 2; i++) {
        SSL_CTX_free(m->tls[i]);
        m->tls[i] = NULL;
    }
    return NULL;
}

/* ---- start and stop ---- */

/* Before the configuration's memory goes: wake the thread, cut a probe short, join. */
static apr_status_t maint_stop(void *data)
{
    maint_t *m = data;
    apr_status_t trv;

    apr_thread_mutex_lock(m->mutex);
    m->stop = 1;
    if (m->probe) {
        apr_socket_shutdown(m->probe, APR_SHUTDOWN_READWRITE);
    }
    apr_thread_cond_signal(m->cond);
    apr_thread_mutex_unlock(m->mutex);
    apr_thread_join(&trv, m->thread);
    return APR_SUCCESS;
}

apr_status_t kz_rp_maint_start(apr_pool_t *pconf)
{
    void *data = NULL;
    maint_t *m;
    apr_allocator_t *alloc;
    apr_status_t rv;
    int names;

    apr_pool_userdata_get(&data, MAINT_KEY, pconf);
    if (!(m = data) || m->started || !maint_needed(m, &names)) {
        return APR_SUCCESS;
    }
    /* The thread allocates only from this pool, whose allocator no other thread uses. */
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(&m->pool, pconf, NULL, alloc)) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, m->pool);
    apr_pool_tag(m->pool, "kz_rp_maint");
    if ((rv = apr_thread_mutex_create(&m->mutex, APR_THREAD_MUTEX_DEFAULT, m->pool)) ||
        (rv = apr_thread_cond_create(&m->cond, m->pool)) ||
        (rv = apr_thread_create(&m->thread, NULL, maint_main, m, m->pool))) {
        return rv;
    }
    m->started = 1;
    /* A pre-cleanup runs before child pools (the targets' address lists) are destroyed. */
    apr_pool_pre_cleanup_register(pconf, m, maint_stop);
    return APR_SUCCESS;
}
