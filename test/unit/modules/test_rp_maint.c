/*
 * Tests of modules/rproxy/rp_maint.c (proxy-spec "loadBalancerHealthCheckPath"/"Interval"):
 * a small blocking backend on 127.0.0.1 (plain or TLS, in a test thread) answers as told, and
 * the upkeep thread's probes must show in the balancer (probe_down). Waits poll with a
 * deadline; the backend counts the requests it answered, so a result is read only after a
 * probe that saw the current answer has finished.
 */
#include "kz_test.h"
#include "rp_maint.h"

#include <apr_atomic.h>
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <string.h>

#define WAIT_MAX apr_time_from_sec(10) /* generous for sanitizers; a pass takes milliseconds */
#define FAST     apr_time_from_msec(20)
#define LONG     apr_time_from_sec(3600)

/* A backend that answers every request with `answer` (NULL: reads it and never answers). */
typedef struct backend {
    apr_pool_t *pool;
    apr_socket_t *lsock;
    apr_port_t port;
    apr_thread_t *thread;
    SSL_CTX *tls;          /* serve TLS with this context */
    void *volatile answer; /* const char * */
    volatile apr_uint32_t accepted, served, stop;
    char request[1024]; /* the first request, as received */
} backend_t;

/* ---- the backend ---- */

/* The backend's shared fields use the compiler's atomics, which ThreadSanitizer sees (APR's
 * are inside a library it does not instrument): an acquire read pairs with a release write. */
static apr_uint32_t load32(volatile apr_uint32_t *v)
{
    return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static void inc32(volatile apr_uint32_t *v)
{
    __atomic_fetch_add(v, 1, __ATOMIC_ACQ_REL);
}

static void set_answer(backend_t *b, const char *answer)
{
    __atomic_store_n(&b->answer, (void *)answer, __ATOMIC_RELEASE);
}

static apr_size_t read_head(apr_socket_t *c, SSL *ssl, char *buf, apr_size_t max)
{
    apr_size_t have = 0;

    while (have < max - 1) {
        apr_size_t n = max - 1 - have;
        if (ssl) {
            int r = SSL_read(ssl, buf + have, (int)n);
            n = r > 0 ? (apr_size_t)r : 0;
        } else if (apr_socket_recv(c, buf + have, &n) != APR_SUCCESS) {
            n = 0;
        }
        if (n == 0) {
            break;
        }
        have += n;
        buf[have] = '\0';
        if (strstr(buf, "\r\n\r\n")) {
            break;
        }
    }
    buf[have] = '\0';
    return have;
}

/* Holds a connection open without answering until the test stops or the client goes. */
static void hold(backend_t *b, apr_socket_t *c)
{
    char x[64];

    apr_socket_timeout_set(c, apr_time_from_msec(20));
    while (!load32(&b->stop)) {
        apr_size_t n = sizeof(x);
        apr_status_t rv = apr_socket_recv(c, x, &n);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv) && !APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
    }
}

static void serve(backend_t *b, apr_socket_t *c)
{
    char buf[1024];
    SSL *ssl = NULL;
    const char *answer;
    apr_os_sock_t fd;

    apr_socket_timeout_set(c, b->tls ? -1 : apr_time_from_sec(2));
    if (b->tls) {
        /* Blocking, but bounded: the probe closes its end within its timeout. */
        apr_os_sock_get(&fd, c);
        ssl = SSL_new(b->tls);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) <= 0) {
            SSL_free(ssl);
            ERR_clear_error();
            return;
        }
    }
    read_head(c, ssl, buf, sizeof(buf));
    if (load32(&b->served) == 0 && b->request[0] == '\0') {
        memcpy(b->request, buf, sizeof(buf));
    }
    answer = __atomic_load_n(&b->answer, __ATOMIC_ACQUIRE);
    if (!answer) {
        hold(b, c);
    } else if (ssl) {
        SSL_write(ssl, answer, (int)strlen(answer));
        SSL_shutdown(ssl);
    } else {
        apr_size_t n = strlen(answer);
        apr_socket_send(c, answer, &n);
    }
    inc32(&b->served);
    SSL_free(ssl);
    ERR_clear_error();
}

static void *APR_THREAD_FUNC backend_main(apr_thread_t *thd, void *data)
{
    backend_t *b = data;

    while (!load32(&b->stop)) {
        apr_pool_t *cp;
        apr_socket_t *c;

        apr_pool_create(&cp, b->pool);
        if (apr_socket_accept(&c, b->lsock, cp) == APR_SUCCESS) {
            inc32(&b->accepted);
            serve(b, c);
            apr_socket_close(c);
        }
        apr_pool_destroy(cp);
    }
    return NULL;
}

/* A backend on 127.0.0.1 (an ephemeral port), or on the Unix socket unix_path if given. */
static backend_t *backend_start_at(const char *answer, SSL_CTX *tls, const char *unix_path)
{
    backend_t *b = apr_pcalloc(kz_test_pool, sizeof(*b));
    int family = unix_path ? APR_UNIX : APR_INET;
    apr_sockaddr_t *sa, *bound;

    apr_pool_create(&b->pool, kz_test_pool);
    set_answer(b, answer);
    b->tls = tls;
    CU_ASSERT_FATAL(apr_sockaddr_info_get(&sa, unix_path ? unix_path : "127.0.0.1", family, 0, 0,
                                          b->pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_socket_create(&b->lsock, family, SOCK_STREAM, unix_path ? 0 : APR_PROTO_TCP,
                                      b->pool) == APR_SUCCESS);
    if (!unix_path) {
        apr_socket_opt_set(b->lsock, APR_SO_REUSEADDR, 1);
    }
    CU_ASSERT_FATAL(apr_socket_bind(b->lsock, sa) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_socket_listen(b->lsock, 16) == APR_SUCCESS);
    apr_socket_addr_get(&bound, APR_LOCAL, b->lsock);
    b->port = unix_path ? 0 : bound->port;
    apr_socket_timeout_set(b->lsock, apr_time_from_msec(20)); /* accept wakes to see stop */
    CU_ASSERT_FATAL(apr_thread_create(&b->thread, NULL, backend_main, b, b->pool) == APR_SUCCESS);
    return b;
}

static backend_t *backend_start(const char *answer, SSL_CTX *tls)
{
    return backend_start_at(answer, tls, NULL);
}

static void backend_stop(backend_t *b)
{
    apr_status_t trv;

    __atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
    apr_thread_join(&trv, b->thread);
    apr_pool_destroy(b->pool);
}

/* ---- waiting ---- */

/* Waits until *counter >= want; 1 when it got there before the deadline. */
static int wait_count(volatile apr_uint32_t *counter, apr_uint32_t want)
{
    apr_time_t end = apr_time_now() + WAIT_MAX;

    while (load32(counter) < want) {
        if (apr_time_now() > end) {
            return 0;
        }
        apr_sleep(apr_time_from_msec(2));
    }
    return 1;
}

/* Waits until backend i's probe_down is `down`; 1 when it got there before the deadline. */
static int wait_down(kz_lb_t *lb, int i, apr_uint32_t down)
{
    apr_time_t end = apr_time_now() + WAIT_MAX;

    while (load32(&lb->backends[i].probe_down) != down) {
        if (apr_time_now() > end) {
            return 0;
        }
        apr_sleep(apr_time_from_msec(2));
    }
    return 1;
}

/* After the answer changed: the probe's result once two probes saw only the new answer. */
static apr_uint32_t settled_down(backend_t *b, kz_lb_t *lb)
{
    apr_uint32_t seen = load32(&b->served);

    /* Probes run one after another: when request seen+3 is answered, the result of seen+2
     * (the first surely made after the change) is in the balancer, and seen+3's is the same. */
    CU_ASSERT_FATAL(wait_count(&b->served, seen + 3));
    return load32(&lb->backends[0].probe_down);
}

/* ---- configurations ---- */

typedef struct conf {
    apr_pool_t *pconf;
    kz_lb_t *lb;
    kz_upstream_target_t **targets;
} conf_t;

/* A configuration of the given backends with probes of path; names are resolved (as at load)
 * unless `resolve` is 0. */
static conf_t conf_make(const char *const *urls, int n, const char *path, int verify,
                        apr_interval_time_t interval, apr_interval_time_t timeout, int resolve)
{
    conf_t c;

    apr_pool_create(&c.pconf, kz_test_pool);
    c.targets = apr_pcalloc(c.pconf, sizeof(*c.targets) * (apr_size_t)n);
    for (int i = 0; i < n; i++) {
        CU_ASSERT_FATAL(kz_upstream_target_parse(&c.targets[i], urls[i], verify, c.pconf) == NULL);
        if (resolve) {
            kz_upstream_resolve(c.targets[i]);
        }
    }
    c.lb = kz_lb_create(c.pconf, n, KZ_LB_ROUND_ROBIN, 0, 3, apr_time_from_sec(5));
    kz_rp_maint_add(c.pconf, c.lb, c.targets, n, path, interval, timeout);
    return c;
}

static const char *url_of(backend_t *b, const char *scheme, const char *host, const char *base)
{
    return apr_psprintf(kz_test_pool, "%s://%s:%u%s", scheme, host, (unsigned)b->port, base);
}

/* ---- tests ---- */

static void test_request_sent(void)
{
    backend_t *b = backend_start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
    const char *url = url_of(b, "http", "127.0.0.1", "/base/");
    conf_t c = conf_make(&url, 1, "health check", 0, FAST, apr_time_from_sec(2), 1);
    const char *want = apr_psprintf(kz_test_pool,
                                    "GET /base/health%%20check HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                    "Connection: close\r\nUser-Agent: Karpacz-health-check\r\n\r\n",
                                    (unsigned)b->port);

    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    CU_ASSERT_FATAL(wait_count(&b->served, 1));
    CU_ASSERT_STRING_EQUAL(b->request, want);
    apr_pool_destroy(c.pconf);
    backend_stop(b);
}

typedef struct answer_row {
    const char *label;
    const char *answer;
    apr_uint32_t down;
} answer_row_t;

static const answer_row_t answer_rows[] = {
    {"200 with reason", "HTTP/1.1 200 OK\r\n\r\n", 0},
    {"503", "HTTP/1.1 503 Service Unavailable\r\n\r\n", 1},
    {"204 without reason phrase", "HTTP/1.1 204\r\n\r\n", 0},
    {"301 redirect counts as up", "HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", 0},
    {"404", "HTTP/1.1 404 Not Found\r\n\r\n", 1},
    {"HTTP/1.0 399", "HTTP/1.0 399 Odd\r\n\r\n", 0},
    {"400", "HTTP/1.1 400 Bad\r\n\r\n", 1},
    {"103 interim then 200",
     "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 0},
    {"100 interim then 500", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n", 1},
    {"101 is not up", "HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n", 1},
    {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 1},
    {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 1},
    {"HTTP/2.0 is not HTTP/1.x", "HTTP/2.0 200 OK\r\n\r\n", 1},
    {"status 600", "HTTP/1.1 600 Odd\r\n\r\n", 1},
    {"lowercase protocol", "http/1.1 200 OK\r\n\r\n", 1},
    {"no status line, raw body", "hello", 1},
    {"status line without CRLF, then close", "HTTP/1.1 200 OK", 1},
    {"bare LF status line", "HTTP/1.1 200 OK\n\n", 1},
    {"empty answer", "", 1},
};

/* Each answer in turn on one running configuration, read once probes saw only it. */
static void test_answers(void)
{
    backend_t *b = backend_start("HTTP/1.1 200 OK\r\n\r\n", NULL);
    const char *url = url_of(b, "http", "127.0.0.1", "");
    conf_t c = conf_make(&url, 1, "/health", 0, FAST, apr_time_from_msec(500), 1);

    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    for (size_t i = 0; i < sizeof(answer_rows) / sizeof(answer_rows[0]); i++) {
        const answer_row_t *row = &answer_rows[i];
        set_answer(b, row->answer);
        if (settled_down(b, c.lb) != row->down) {
            CU_FAIL(row->label);
        }
    }
    apr_pool_destroy(c.pconf);
    backend_stop(b);
}

/* Down, up, down again as the backend changes its mind; a set without a path is not probed. */
static void test_flip_and_unprobed_set(void)
{
    backend_t *b = backend_start("HTTP/1.1 503 Busy\r\n\r\n", NULL);
    backend_t *quiet = backend_start("HTTP/1.1 503 Busy\r\n\r\n", NULL);
    const char *url = url_of(b, "http", "127.0.0.1", "");
    const char *qurl = url_of(quiet, "http", "127.0.0.1", "");
    conf_t c = conf_make(&url, 1, "/h", 0, FAST, apr_time_from_sec(2), 1);
    kz_lb_t *qlb = kz_lb_create(c.pconf, 1, KZ_LB_RANDOM, 0, 3, 0);
    kz_upstream_target_t *qt;

    CU_ASSERT_FATAL(kz_upstream_target_parse(&qt, qurl, 0, c.pconf) == NULL);
    kz_upstream_resolve(qt);
    kz_lb_probe(qlb, 0, 0); /* a probe would have cleared this */
    kz_rp_maint_add(c.pconf, qlb, &qt, 1, "", FAST, apr_time_from_sec(2));
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    CU_ASSERT(wait_down(c.lb, 0, 1));
    set_answer(b, "HTTP/1.1 200 OK\r\n\r\n");
    CU_ASSERT(wait_down(c.lb, 0, 0));
    set_answer(b, "HTTP/1.1 500 Oops\r\n\r\n");
    CU_ASSERT(wait_down(c.lb, 0, 1));
    CU_ASSERT_EQUAL(load32(&quiet->accepted), 0);
    CU_ASSERT_EQUAL(load32(&qlb->backends[0].probe_down), 1);
    apr_pool_destroy(c.pconf);
    backend_stop(b);
    backend_stop(quiet);
}

/* A refused port, a backend that never answers (timeout), and a good one, in one set. */
static void test_refused_and_timeout(void)
{
    backend_t *good = backend_start("HTTP/1.1 200 OK\r\n\r\n", NULL);
    backend_t *silent = backend_start(NULL, NULL);
    backend_t *gone = backend_start("HTTP/1.1 200 OK\r\n\r\n", NULL);
    const char *urls[3];
    conf_t c;

    urls[0] = url_of(gone, "http", "127.0.0.1", "");
    urls[1] = url_of(silent, "http", "127.0.0.1", "");
    urls[2] = url_of(good, "http", "127.0.0.1", "");
    backend_stop(gone); /* its port now refuses */
    c = conf_make(urls, 3, "/h", 0, FAST, apr_time_from_msec(150), 1);
    kz_lb_probe(c.lb, 2, 0); /* so that "up" is a change the probe must make */
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    CU_ASSERT(wait_down(c.lb, 0, 1));
    CU_ASSERT(wait_down(c.lb, 1, 1));
    CU_ASSERT(wait_down(c.lb, 2, 0));
    CU_ASSERT(load32(&silent->accepted) >= 1);
    apr_pool_destroy(c.pconf);
    backend_stop(silent);
    backend_stop(good);
}

/* Destroying the configuration's pool returns at once: while the thread sleeps a long interval,
 * and while a probe waits on a backend that never answers (a long timeout). */
static void test_stop_is_prompt(void)
{
    backend_t *ok = backend_start("HTTP/1.1 200 OK\r\n\r\n", NULL);
    backend_t *silent = backend_start(NULL, NULL);
    const char *u1 = url_of(ok, "http", "127.0.0.1", "");
    const char *u2 = url_of(silent, "http", "127.0.0.1", "");
    conf_t sleeping = conf_make(&u1, 1, "/h", 0, LONG, apr_time_from_sec(60), 1);
    conf_t probing = conf_make(&u2, 1, "/h", 0, LONG, apr_time_from_sec(60), 1);
    apr_time_t t0;

    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(sleeping.pconf), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(probing.pconf), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_rp_maint_start(probing.pconf), APR_SUCCESS); /* twice: one thread */
    CU_ASSERT_FATAL(wait_count(&ok->served, 1));
    CU_ASSERT_FATAL(wait_count(&silent->accepted, 1));
    t0 = apr_time_now();
    apr_pool_destroy(sleeping.pconf);
    CU_ASSERT(apr_time_now() - t0 < apr_time_from_sec(1));
    t0 = apr_time_now();
    apr_pool_destroy(probing.pconf);
    CU_ASSERT(apr_time_now() - t0 < apr_time_from_sec(1));
    /* The long interval held: one probe only. */
    CU_ASSERT_EQUAL(load32(&ok->accepted), 1);
    backend_stop(ok);
    backend_stop(silent);
}

/* Nothing to do (addresses only, no path): no thread, nothing probed; also a pool never started
 * (karpacz -t) and one with nothing registered. */
static void test_nothing_to_do(void)
{
    backend_t *b = backend_start("HTTP/1.1 503 Busy\r\n\r\n", NULL);
    const char *url = url_of(b, "http", "127.0.0.1", "");
    conf_t c = conf_make(&url, 1, NULL, 0, FAST, apr_time_from_sec(1), 1);
    conf_t never = conf_make(&url, 1, "/h", 0, FAST, apr_time_from_sec(1), 1);
    apr_pool_t *empty;

    apr_pool_create(&empty, kz_test_pool);
    CU_ASSERT_EQUAL(kz_rp_maint_start(empty), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    apr_sleep(apr_time_from_msec(100)); /* what a thread would have done by now: 5 probes */
    CU_ASSERT_EQUAL(load32(&b->accepted), 0);
    CU_ASSERT_EQUAL(load32(&c.lb->backends[0].probe_down), 0);
    apr_pool_destroy(c.pconf);
    apr_pool_destroy(never.pconf);
    apr_pool_destroy(empty);
    backend_stop(b);
}

/* A name that did not resolve at load is resolved when the thread starts. */
static void test_unresolved_name(void)
{
    backend_t *b = backend_start("HTTP/1.1 503 Busy\r\n\r\n", NULL);
    const char *url = url_of(b, "http", "localhost", "");
    conf_t c = conf_make(&url, 1, "/h", 0, FAST, apr_time_from_sec(2), 0);

    CU_ASSERT_PTR_NULL(c.targets[0]->sa);
    CU_ASSERT_EQUAL(c.targets[0]->is_literal, 0);
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    /* localhost may resolve to ::1 first; the probe then tries 127.0.0.1 next. */
    CU_ASSERT(wait_down(c.lb, 0, 1));
    CU_ASSERT(wait_count(&b->served, 1));
    CU_ASSERT_PTR_NOT_NULL(apr_atomic_casptr((volatile void **)&c.targets[0]->sa, NULL, NULL));
    apr_pool_destroy(c.pconf);
    backend_stop(b);
}

/* HTTP over a Unix socket: the probe connects to the socket path; Host is localhost. */
static void test_unix_socket(void)
{
    const char *path =
        apr_psprintf(kz_test_pool, "/tmp/kz-rp-maint-%" APR_TIME_T_FMT ".sock", apr_time_now());
    backend_t *b;
    const char *url = apr_pstrcat(kz_test_pool, "unix://", path, NULL);
    conf_t c;

    apr_file_remove(path, kz_test_pool);
    b = backend_start_at("HTTP/1.1 503 Busy\r\n\r\n", NULL, path);
    c = conf_make(&url, 1, "/h", 0, FAST, apr_time_from_sec(2), 1);
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(c.pconf), APR_SUCCESS);
    CU_ASSERT(wait_down(c.lb, 0, 1));
    CU_ASSERT_FATAL(wait_count(&b->served, 1));
    CU_ASSERT_STRING_EQUAL(b->request, "GET /h HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                                       "User-Agent: Karpacz-health-check\r\n\r\n");
    set_answer(b, "HTTP/1.1 200 OK\r\n\r\n");
    CU_ASSERT(wait_down(c.lb, 0, 0));
    apr_pool_destroy(c.pconf);
    backend_stop(b);
    apr_file_remove(path, kz_test_pool);
}

/* ---- TLS ---- */

/* Writes x as PEM to a new temporary file; returns its name. */
static const char *pem_file(X509 *x)
{
    char *name = apr_pstrdup(kz_test_pool, "/tmp/kz-rp-maint-ca-XXXXXX");
    BIO *mem = BIO_new(BIO_s_mem());
    apr_file_t *f;
    char *data;
    long len;

    CU_ASSERT_FATAL(mem && PEM_write_bio_X509(mem, x) == 1);
    len = BIO_get_mem_data(mem, &data);
    CU_ASSERT_FATAL(apr_file_mktemp(&f, name, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                                    kz_test_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_file_write_full(f, data, (apr_size_t)len, NULL) == APR_SUCCESS);
    apr_file_close(f);
    BIO_free(mem);
    return name;
}

/* A self-signed certificate for DNS:localhost with its key, as a server context; *pem names a
 * file holding the certificate. */
static SSL_CTX *tls_server(const char **pem)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509_EXTENSION *ext;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    CU_ASSERT_FATAL(key && x && ctx);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    CU_ASSERT_FATAL(X509_sign(x, key, EVP_sha256()) > 0);
    CU_ASSERT_FATAL(SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1);
    *pem = pem_file(x);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

/* https probes through the memory-BIO pump: unverified, verified by a trusted CA with the host
 * name, refused for a name the certificate lacks, and refused without the CA. */
static void test_tls(void)
{
    const char *pem;
    SSL_CTX *sctx;
    backend_t *b;
    const char *urls[3];
    conf_t unverified, verified, trusted;
    char *old = NULL;

#ifdef SIGPIPE
    signal(SIGPIPE, SIG_IGN); /* as the server does (kz_os_events_init): a peer may close first */
#endif
    apr_env_get(&old, "SSL_CERT_FILE", kz_test_pool);
    sctx = tls_server(&pem);
    b = backend_start("HTTP/1.1 200 OK\r\n\r\n", sctx);
    urls[0] = url_of(b, "https", "127.0.0.1", "");
    urls[1] = url_of(b, "https", "localhost", "");
    urls[2] = url_of(b, "https", "127.0.0.1", "");
    unverified = conf_make(urls, 1, "/h", 0, FAST, apr_time_from_sec(2), 1);
    verified = conf_make(urls + 1, 2, "/h", 1, FAST, apr_time_from_sec(2), 1);
    /* Contexts are made on first use, by the thread: set the CA for the third one only. */
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(unverified.pconf), APR_SUCCESS);
    kz_lb_probe(unverified.lb, 0, 0);
    CU_ASSERT(wait_down(unverified.lb, 0, 0));
    apr_pool_destroy(unverified.pconf);

    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(verified.pconf), APR_SUCCESS);
    CU_ASSERT(wait_down(verified.lb, 0, 1)); /* untrusted self-signed */
    CU_ASSERT(wait_down(verified.lb, 1, 1));
    apr_pool_destroy(verified.pconf);

    apr_env_set("SSL_CERT_FILE", pem, kz_test_pool);
    trusted = conf_make(urls + 1, 2, "/h", 1, FAST, apr_time_from_sec(2), 1);
    kz_lb_probe(trusted.lb, 0, 0);
    CU_ASSERT_EQUAL_FATAL(kz_rp_maint_start(trusted.pconf), APR_SUCCESS);
    CU_ASSERT(wait_down(trusted.lb, 0, 0));     /* localhost: in the certificate */
    CU_ASSERT(wait_down(trusted.lb, 1, 1));     /* 127.0.0.1: not in it */
    set_answer(b, "HTTP/1.1 503 Busy\r\n\r\n"); /* the status still decides over TLS */
    CU_ASSERT(wait_down(trusted.lb, 0, 1));
    apr_pool_destroy(trusted.pconf);
    if (old) {
        apr_env_set("SSL_CERT_FILE", old, kz_test_pool);
    } else {
        apr_env_delete("SSL_CERT_FILE", kz_test_pool);
    }
    backend_stop(b);
    SSL_CTX_free(sctx);
    apr_file_remove(pem, kz_test_pool);
}

static const kz_test_case_t cases[] = {
    {"the probe request", test_request_sent},
    {"status lines: 2xx/3xx up, others and malformed down", test_answers},
    {"down, up, down; a set without a path is not probed", test_flip_and_unprobed_set},
    {"refused and silent backends are down", test_refused_and_timeout},
    {"destroying the pool stops the thread at once", test_stop_is_prompt},
    {"nothing to do starts nothing", test_nothing_to_do},
    {"a name unresolved at load is resolved at start", test_unresolved_name},
    {"unix:// backends are probed over the socket", test_unix_socket},
    {"https probes: pump, verification, host name", test_tls},
    {NULL, NULL},
};

KZ_TEST_SUITE(rp_maint, cases)
