/*
 * The upstream engine: connections from an event loop to backends (HTTP over TCP, HTTP over
 * TLS, Unix sockets), shared by the protocol layers (rproxy now; fcgi, scgi later). It parses
 * and resolves backend addresses (at load, and again in the background), connects without
 * blocking (trying each resolved address), runs the TLS handshake with OpenSSL (system CA
 * store, SNI, host-name check), reads and writes through one pair of calls whatever the
 * transport, enforces deadlines, and keeps idle connections in a per-loop, per-backend pool.
 *
 * A connection has one owner at a time. The owner asks for events with kz_uconn_wait(); the
 * engine calls the owner's callback on the loop when they come, or with uc->error set (503,
 * 504, 502) when the connection failed or its deadline passed. Nothing here blocks a loop.
 */
#ifndef KZ_UPSTREAM_H
#define KZ_UPSTREAM_H

#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_pools.h>
#include <apr_time.h>

typedef struct kz_loop kz_loop_t;

typedef enum kz_up_scheme { KZ_UP_HTTP, KZ_UP_HTTPS, KZ_UP_UNIX } kz_up_scheme_e;

/** A backend address, parsed from a URL at load; shared (read-only) by every loop. */
typedef struct kz_upstream_target {
    kz_up_scheme_e scheme;
    const char *url;       /**< as configured */
    const char *host;      /**< name or address (IPv6 without brackets); "localhost" for unix */
    apr_port_t port;       /**< 0 for unix */
    const char *authority; /**< the Host value: host[:port] as the URL wrote it */
    const char *sock_path; /**< unix */
    const char *base;      /**< the URL's path without a trailing '/', "" for none */
    const char *key;       /**< names the connection pool: scheme, address, TLS settings */
    int tls;
    int verify;        /**< TLS: verify the certificate chain and the host name */
    int is_literal;    /**< host is an IP address: never re-resolved, no SNI */
    apr_pool_t *pool;  /**< holds every address list the resolver published */
    void *volatile sa; /**< apr_sockaddr_t *: the current address list, or NULL */
} kz_upstream_target_t;

/**
 * Parses url (http://host[:port][/base], https://…, unix:///path) into *out, allocated in p.
 * Returns NULL or an error message. Does not resolve the name (see kz_upstream_resolve).
 */
const char *kz_upstream_target_parse(kz_upstream_target_t **out, const char *url, int verify,
                                     apr_pool_t *p);

/**
 * Resolves the target's name (blocking: call it at load or from a background thread, never on
 * a loop) and publishes the result for the loops if it changed. Returns APR_SUCCESS or the
 * resolver's error (the previous address list stays in use).
 */
apr_status_t kz_upstream_resolve(kz_upstream_target_t *t);

/** The limits a protocol layer applies to its connections (from properties). */
typedef struct kz_upstream_limits {
    apr_interval_time_t connect;   /**< connect + TLS handshake */
    apr_interval_time_t keepalive; /**< an idle pooled connection older than this is closed */
    int keep_max;                  /**< idle connections kept per backend and loop */
} kz_upstream_limits_t;

typedef struct kz_uconn kz_uconn_t;
typedef void (*kz_uconn_fn)(kz_uconn_t *uc, void *baton, apr_int16_t events);

/** A connection to a backend. Fields are read-only for owners. */
struct kz_uconn {
    int kind; /**< KZ_EV_UPSTREAM: the loop dispatches on it */
    kz_loop_t *loop;
    apr_pool_t *pool;
    apr_socket_t *sock;
    apr_pollfd_t pfd;
    apr_int16_t events; /**< registered with the pollset */
    int state;
    int open;
    int reused;            /**< came from the keep-alive pool */
    int error;             /**< after a failure: 503, 504 or 502 */
    const char *why;       /**< after a failure: the cause, for the log */
    void *ssl;             /**< SSL * for https */
    apr_int16_t want_recv; /**< what TLS needs for the handshake or a read to go on, or 0 */
    apr_int16_t want_send; /**< what TLS needs for a write to go on, or 0 */
    apr_time_t deadline;
    int deadline_status;
    kz_uconn_fn fn;
    void *baton;
    char *key;
    const kz_upstream_target_t *target; /**< only while owned (targets die with their config) */
    apr_sockaddr_t *sa_next;            /**< the next address to try if connecting fails */
    kz_upstream_limits_t lim;
    apr_time_t idle_since;
    kz_uconn_t *prev, *next; /**< the loop's busy list, or a pool's idle list */
};

/**
 * Gets a connection to t for a new exchange: an idle pooled one (uc->reused; not when fresh,
 * a retry after a pooled one turned out dead) or a new one
 * being connected. The owner then calls kz_uconn_wait(); fn runs with APR_POLLOUT once a new
 * connection is ready. Returns NULL with *status (503) and *why when no attempt can start
 * (name not resolved, no socket).
 */
kz_uconn_t *kz_upstream_open(kz_loop_t *loop, const kz_upstream_target_t *t,
                             const kz_upstream_limits_t *lim, int fresh, kz_uconn_fn fn,
                             void *baton, int *status, const char **why);

/**
 * Waits for events (APR_POLLIN, APR_POLLOUT or both) for at most timeout (0: no deadline);
 * when the deadline passes fn runs with uc->error = timeout_status. While TLS needs the other
 * direction to go on with a read or a write (uc->want_recv, uc->want_send), that is polled for
 * it instead (each kept apart, so a tunnel's pending write is not lost to a later read).
 */
void kz_uconn_wait(kz_uconn_t *uc, apr_int16_t events, apr_interval_time_t timeout,
                   int timeout_status);

/** Changes the owner's callback (keeping the wait). */
void kz_uconn_own(kz_uconn_t *uc, kz_uconn_fn fn, void *baton);

/**
 * Sends or receives without blocking, through TLS when the target has it. APR_SUCCESS (*len
 * set), APR_EAGAIN, APR_EOF (recv: the backend closed), or another error.
 */
apr_status_t kz_uconn_send(kz_uconn_t *uc, const char *data, apr_size_t *len);
apr_status_t kz_uconn_recv(kz_uconn_t *uc, char *buf, apr_size_t *len);

/** Ends the owner's use: back to the loop's pool when reusable, else closed. */
void kz_uconn_release(kz_uconn_t *uc, int reusable);

/** Maps a connect or I/O failure to the status the client gets (503 refused/unreachable). */
int kz_upstream_status(apr_status_t rv);

struct ssl_st;
/**
 * Sets up the client SSL (OpenSSL's SSL *) ssl, made by the caller, for the https target t as
 * the engine sets up its own: SNI for a name, and with t->verify the host (or IP) check.
 * APR_SUCCESS or APR_EGENERAL. Touches nothing shared: safe on any thread.
 */
apr_status_t kz_upstream_ssl_setup(struct ssl_st *ssl, const kz_upstream_target_t *t);

/* ---- for the core (loop.c) ---- */
void kz_upstream_on_event(kz_uconn_t *uc, apr_int16_t events);
/** Deadlines of busy connections and idle timeouts of pooled ones (the loop's sweep). */
void kz_upstream_sweep(kz_loop_t *loop);
/** Frees connections closed in this poll round (a later event of the round may name them). */
void kz_upstream_release_closed(kz_loop_t *loop);
/** Closes every connection of a stopping loop. */
void kz_upstream_loop_stop(kz_loop_t *loop);

#endif
