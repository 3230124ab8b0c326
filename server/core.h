/*
 * The core's internal types: the server (configurations, loops, logs), an event loop, a
 * connection and a request. One loop runs per thread and owns everything it touches, so nothing
 * here is locked; the only shared, changing thing is the current configuration, swapped on
 * reload and reference-counted per loop (see server.c).
 */
#ifndef KZ_CORE_H
#define KZ_CORE_H

#include "config.h"
#include "filecache.h"
#include "http_parse.h"
#include "kz.h"
#include "kz_module.h"
#include "kz_fs.h"
#include "log.h"
#include "mime.h"

#include <apr_network_io.h>
#include <apr_portable.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

typedef struct kz_server kz_server_t;
typedef struct kz_loop kz_loop_t;
typedef struct kz_conn kz_conn_t;
typedef struct kz_request kz_request_t;

/** A loaded configuration with what is derived from it, shared by every loop. */
typedef struct kz_runconf {
    kz_config_t *config;
    kz_mime_t *mime;
    apr_hash_t *roots;            /**< wwwroot → kz_root_t *, opened at load */
    apr_array_header_t *warnings; /**< const char *: problems found while preparing it */
    int has_ip_hosts; /**< some host matches on `ip`: connections need their local address */
    volatile apr_uint32_t refs;
} kz_runconf_t;

struct kz_server {
    apr_pool_t *pool;
    kz_runconf_t *current; /**< guarded by mutex */
    volatile apr_uint32_t generation;
    apr_thread_mutex_t *mutex;
    kz_logger_t *logger;
    kz_mime_t *mime; /**< the built-in table, shared by every configuration */
    kz_loop_t **loops;
    int nloops;
    volatile apr_uint32_t stopping;
    apr_array_header_t *listeners; /**< kz_listen_addr_t actually bound (port 0 resolved) */
    struct kz_brute *brute;        /**< Basic-auth failures per client (brute.c) */
    struct kz_workpool *workpool;  /**< threads for blocking work (work.c), or NULL: inline */
};

/** A loop's reference to a configuration and the requests on this loop that use it. */
typedef struct kz_cfgslot {
    kz_runconf_t *rc;
    int users;
    int retired;
    struct kz_cfgslot *next;
} kz_cfgslot_t;

/** A buffer for reading request heads and bodies, recycled per loop. */
typedef struct kz_buf {
    struct kz_buf *next;
    apr_size_t size;
    char data[];
} kz_buf_t;

/** A loop's timers: a min-heap by deadline (timer.c). */
typedef struct kz_timers {
    kz_timer_t **heap;
    int n, cap;
    kz_timer_t *free;
} kz_timers_t;

struct kz_loop {
    kz_server_t *server;
    int id;
    apr_pool_t *pool;
    apr_allocator_t *allocator;
    apr_pollset_t *pollset;
    apr_array_header_t *listeners; /**< apr_socket_t * */
    apr_pollfd_t *listen_pfds;
    int accepting;
    int close_removes;         /**< closing a descriptor takes it out of the pollset */
    apr_socket_t *refuse_sock; /**< reused for every connection refused at the cap */
    apr_time_t accept_resume;  /**< when accept was paused for lack of descriptors */
    kz_conn_t *conns;          /**< every open connection, for the timeout sweep */
    kz_conn_t *free_conns;
    kz_conn_t *closed; /**< closed in this poll round, freed after it */
    int nconns;
    int max_conns;
    kz_buf_t *free_bufs;
    int nfree_bufs;
    apr_size_t buf_size;
    apr_time_t now;
    apr_time_t date_sec;
    char date[32];
    apr_time_t next_sweep;
    kz_logbuf_t *logbuf;
    kz_filecache_t *filecache;
    struct kz_zcache *zcache; /**< compressed static files (compress.h) */
    kz_cfgslot_t *cfg;        /**< the current configuration on this loop */
    kz_cfgslot_t *retired;    /**< older ones still used by requests */
    apr_uint32_t generation;
    apr_thread_t *thread;
    int draining;             /**< stopping: no accept, close idle connections */
    apr_time_t drain_idle_at; /**< draining: idle connections close from then on */
    kz_timers_t timers;
    apr_thread_mutex_t *post_mutex; /**< guards the post queue, filled by any thread */
    struct kz_post *post_head, *post_tail;
    /* upstream.c */
    struct kz_uconn *ubusy;   /**< backend connections owned by a request */
    struct kz_uconn *uclosed; /**< closed in this poll round, freed after it */
    apr_hash_t *upools;       /**< pool key → idle backend connections */
    apr_uint64_t rng;         /**< xorshift state for load balancing */
};

typedef enum kz_conn_state {
    KZ_CONN_READ_HEAD,
    KZ_CONN_READ_BODY, /**< discarding a body nobody read, before the response goes out */
    KZ_CONN_HANDLE,    /**< a module suspended the request; it resumes it */
    KZ_CONN_WRITE,
    KZ_CONN_LINGER,
    KZ_CONN_TUNNEL /**< after a 101: the request's tunnel handler owns the socket */
} kz_conn_state_e;

/** What a poll descriptor's client_data points to (the first field of each): see loop.c. */
enum kz_evkind { KZ_EV_CONN = 0, KZ_EV_UPSTREAM = 1 };

struct kz_conn {
    int kind; /**< KZ_EV_CONN */
    kz_loop_t *loop;
    kz_conn_t *prev, *next; /**< loop->conns list, or the free list (next only) */
    apr_socket_t *sock;
    apr_os_sock_t fd;
    apr_pollfd_t pfd;
    apr_int16_t events; /**< registered poll events; 0 when not in the pollset */
    kz_conn_state_e state;
    char client_ip[64];
    apr_port_t client_port;
    char local_ip[64]; /**< filled on demand */
    kz_buf_t *buf;
    apr_size_t len;      /**< bytes in buf */
    apr_size_t head_len; /**< the current request's head; body bytes follow it */
    kz_http_scan_t scan;
    apr_time_t deadline;
    apr_time_t request_deadline; /**< the whole-request `timeout` */
    int requests;
    apr_size_t linger_bytes;
    int open;
    kz_request_t *req;
};

/** The methods the core knows (RFC 9110 §9); others are answered with 501. */
enum kz_method {
    KZ_M_GET,
    KZ_M_HEAD,
    KZ_M_POST,
    KZ_M_PUT,
    KZ_M_DELETE,
    KZ_M_CONNECT,
    KZ_M_OPTIONS,
    KZ_M_TRACE,
    KZ_M_PATCH
};

/**
 * A part of a response body: bytes in memory, or a range of an open file (sent with sendfile).
 * A body is a list of them, so a multipart/byteranges answer needs no copy of the file.
 */
typedef struct kz_body_seg {
    const char *data; /**< the bytes, or NULL for a file range */
    apr_file_t *file;
    apr_off_t offset; /**< in file */
    apr_off_t len;
    int framing; /**< the head or chunk framing: not counted as body bytes */
} kz_body_seg_t;

/**
 * Produces the next piece of a streamed body (after the segments, if any). Returns APR_SUCCESS
 * with *len > 0 (the bytes stay valid until the next call), APR_EOF at the end, KZ_EWAIT when
 * nothing is ready yet (the producer later calls kz_response_wake() from the loop's thread), or
 * any other status to abort the connection.
 */
typedef apr_status_t (*kz_body_pull_fn)(kz_request_t *r, void *baton, const char **data,
                                        apr_size_t *len);

/** A callback about a request, run on its loop. */
typedef void (*kz_request_fn)(kz_request_t *r, void *baton);

/** A streamed body is waiting for its producer (see kz_body_pull_fn). */
#define KZ_EWAIT (APR_OS_START_USERERR + 101)

struct kz_request {
    apr_pool_t *pool;
    kz_conn_t *conn;
    kz_cfgslot_t *cfgslot;
    const kz_runconf_t *rc;
    const kz_conf_t *conf;
    kz_http_head_t head;
    kz_http_info_t info;
    apr_time_t time;
    const char *method;
    int method_num;          /**< an enum kz_method value, -1 when unknown */
    const char *target;      /**< as received */
    const char *path;        /**< sanitized, decoded */
    const char *query;       /**< after '?', or NULL */
    const char *host;        /**< Host (lowercased? no: as received), NUL-terminated */
    const kz_vhost_t *vhost; /**< the host that matched, or NULL (global configuration) */
    const char *client_ip;   /**< the connection's peer, or the X-Forwarded-For address */
    const char *user;        /**< the authenticated user (Basic), or NULL */
    /* modules */
    int phase;    /**< 0: handle hooks; 1: CONNECT/upgrade hooks (request.c) */
    int mod_next; /**< the index in loadModules of the next module to run */
    apr_uint64_t
        mods_ran;     /**< bit i: module i of loadModules ran a hook (its response hook runs) */
    int suspended;    /**< a handler returned KZ_SUSPENDED and has not resumed */
    int stage_next;   /**< the index of the core stage to run next (request.c) */
    int in_stage;     /**< the suspension is a core stage's, not a module's */
    void *auth_state; /**< Basic-auth verifications done for this request (ncodes.c) */
    int error_status; /**< the status an errorConfig entry is answering for, or 0 */
    int head_only;    /**< HEAD */
    /* body of the request */
    apr_off_t body_left; /**< Content-Length bytes still to read */
    kz_chunked_t chunked;
    apr_off_t body_read;
    int sent_continue;
    int body_done;             /**< the whole body was read (or there is none) */
    int body_status;           /**< 400 or 413 when the body's framing or size failed, else 0 */
    kz_request_fn body_waiter; /**< called when body bytes can be read (kz_request_body_wait) */
    void *body_waiter_baton;
    /* after the response head is written (a 101): the connection becomes a tunnel */
    kz_request_fn takeover;
    void *takeover_baton;
    /* response */
    int status;
    int close;                   /**< close the connection after the response */
    int linger;                  /**< then drain what the client still sends (errors) */
    apr_array_header_t *headers; /**< kz_header_pair_t, in order */
    kz_body_seg_t *segs;         /**< the body, in order (seg_inline until it grows) */
    int nsegs, segs_cap;
    kz_body_seg_t seg_inline[2];
    apr_off_t body_len;   /**< sum of the segments, or -1: streamed, length unknown (chunked) */
    kz_body_pull_fn pull; /**< streams the body after the segments, or NULL */
    void *pull_baton;
    int chunked_out; /**< the body goes out in chunked coding */
    /* writing */
    kz_body_seg_t *out; /**< head, then the body segments (then pulled chunks) */
    int nout, out_at;
    apr_off_t out_off; /**< bytes of out[out_at] already written */
    int pull_done;
    int pull_started; /**< the producer was asked once (the first piece may join the head) */
    int waiting;      /**< KZ_EWAIT: the producer will call kz_response_wake() */
    char chunk_line[24];
    apr_off_t body_sent; /**< body bytes written (for the log) */
    apr_off_t bytes_sent;
};

/* ---- server.c ---- */
apr_status_t kz_server_start(kz_server_t **out, kz_config_t *config, apr_pool_t *p);
void kz_server_run(kz_server_t *server); /**< waits for control events until stopped */
apr_status_t kz_runconf_create(kz_runconf_t **out, kz_config_t *config, kz_mime_t *builtin,
                               const char **error);
void kz_runconf_release(kz_runconf_t *rc);
/** Makes sure the loop uses the newest configuration before a request starts. */
kz_cfgslot_t *kz_loop_config(kz_loop_t *loop);
void kz_cfgslot_done(kz_loop_t *loop, kz_cfgslot_t *slot);

/* ---- loop.c ---- */
apr_status_t kz_loop_create(kz_loop_t **out, kz_server_t *server, int id, apr_pool_t *p);
void *APR_THREAD_FUNC kz_loop_main(apr_thread_t *thread, void *data);
/** Drops the loop's references to configurations (a loop whose thread has ended). */
void kz_loop_release_configs(kz_loop_t *loop);
/** Frees a loop whose thread has ended (releasing its configurations first). */
void kz_loop_destroy(kz_loop_t *loop);
void kz_loop_update_now(kz_loop_t *loop);
kz_buf_t *kz_loop_buf_get(kz_loop_t *loop);
void kz_loop_buf_put(kz_loop_t *loop, kz_buf_t *buf);
/**
 * Sets the events a descriptor is polled for (0: none); *cur holds what is registered. APR has
 * no "modify", so a change is a remove and an add; no change costs nothing.
 */
void kz_loop_poll(kz_loop_t *loop, apr_pollfd_t *pfd, apr_int16_t *cur, apr_int16_t events);
/** Before closing a polled descriptor: takes it out unless closing does (epoll, kqueue). */
void kz_loop_unpoll(kz_loop_t *loop, apr_pollfd_t *pfd, apr_int16_t *cur);
void kz_conn_set_events(kz_conn_t *c, apr_int16_t events);
void kz_conn_close(kz_conn_t *c);

/* ---- timer.c ---- */
/** How long the loop may sleep: until its next timer, at most max. */
apr_interval_time_t kz_timers_wait(kz_loop_t *loop, apr_interval_time_t max);
/** Runs the timers that are due and the callbacks other threads posted. */
void kz_timers_run(kz_loop_t *loop);
void kz_loop_run_posted(kz_loop_t *loop);
void kz_timers_destroy(kz_loop_t *loop);

/* ---- conn.c ---- */
void kz_conn_start(kz_conn_t *c);
/** Writes the response of a request that was suspended and is now settled. */
void kz_conn_respond(kz_conn_t *c);
/** Frees the connection's request, if any (before the connection closes). */
void kz_conn_drop_request(kz_conn_t *c);
void kz_conn_on_event(kz_conn_t *c, apr_int16_t events);
void kz_conn_on_timeout(kz_conn_t *c);

/* ---- request.c ---- */
/**
 * Runs the pipeline for a request whose head (and body) has been read. Returns KZ_DONE with the
 * response set, or KZ_SUSPENDED: a module will resume it, and the connection then gets
 * kz_conn_respond().
 */
int kz_request_handle(kz_request_t *r);
/**
 * A suspended request ran out of time: answers status (504, or 408 while it waited for the
 * client's body); the module's cleanup runs with the pool.
 */
void kz_request_timeout(kz_request_t *r, int status);
/**
 * Continues a suspended request (r->suspended set) with rc as kz_request_resume() does, without
 * writing the response: returns KZ_DONE (the response is set) or KZ_SUSPENDED again.
 */
int kz_request_continue(kz_request_t *r, int rc);

/*
 * ---- the request body, read by a handler while the request is suspended (conn.c) ----
 * The pipeline runs as soon as the head is complete; a handler that wants the body (a proxy,
 * FastCGI) reads it with kz_request_body_read() and waits with kz_request_body_wait(). A body
 * nobody read is discarded before the response goes out (or the connection closes, for a
 * client still waiting for 100 Continue).
 */
/**
 * Reads up to *len body bytes (de-chunked) into buf. APR_SUCCESS with *len > 0; APR_EOF at the
 * end of the body; APR_EAGAIN when nothing is available yet; APR_EGENERAL with r->body_status
 * set (400 bad chunked framing, 413 too large); APR_ECONNABORTED when the client went away.
 */
apr_status_t kz_request_body_read(kz_request_t *r, char *buf, apr_size_t *len);
/** Calls fn once when the client's socket has bytes (or closed); only while suspended. */
void kz_request_body_wait(kz_request_t *r, kz_request_fn fn, void *baton);
/** Bytes the client sent after the head (a tunnel's first bytes), at most *len; consumed. */
apr_size_t kz_request_take_early(kz_request_t *r, char *buf, apr_size_t len);
/**
 * Makes the connection a tunnel once the response head (a 101) is written: fn then runs with
 * the connection in KZ_CONN_TUNNEL; the owner relays with kz_conn_tunnel_* and ends it with
 * kz_conn_close().
 */
void kz_request_takeover(kz_request_t *r, kz_request_fn fn, void *baton);

/* ---- response.c ---- */
/** Sets an error response: status, the built-in page, Content-Type. */
void kz_response_error(kz_request_t *r, int status);
/** Forgets the response set so far: status, fields, body. */
void kz_response_reset(kz_request_t *r);
/** Drops the body set so far (segments and stream). */
void kz_response_body_clear(kz_request_t *r);
/**
 * Streams the body from fn after any segments; len is the whole body's length when known (then
 * Content-Length frames it), or -1 (chunked for HTTP/1.1, close-delimited for HTTP/1.0).
 */
void kz_response_body_stream(kz_request_t *r, kz_body_pull_fn fn, void *baton, apr_off_t len);
/** Tells a connection whose producer returned KZ_EWAIT that it has data (loop thread only). */
void kz_response_wake(kz_request_t *r);
/** Builds the response head and the iovecs; the connection then writes them. */
void kz_response_prepare(kz_request_t *r);
/**
 * Writes what is pending; APR_SUCCESS when all is sent, EAGAIN when the socket is full,
 * KZ_EWAIT when a streamed body's producer has nothing yet.
 */
apr_status_t kz_response_write(kz_request_t *r);

/*
 * ---- the request pipeline's stages, in their fixed order (request.c runs them) ----
 * Each returns KZ_DECLINED to go on, KZ_DONE when it answered, or an error status, or
 * KZ_SUSPENDED: kz_request_resume() later continues it, and KZ_DECLINED then runs the same
 * stage again (so a stage must be safe to run twice for one request).
 */
int kz_clientip_stage(kz_request_t *r);     /**< clientip.c: enableIPSpoofing */
int kz_redirect_stage(kz_request_t *r);     /**< redirect.c: wwwredirect */
int kz_blocklist_stage(kz_request_t *r);    /**< blocklist.c: blocklist */
int kz_rewrite_stage(kz_request_t *r);      /**< rewrite.c: rewriteMap */
int kz_ncodes_stage(kz_request_t *r);       /**< ncodes.c: nonStandardCodes, Basic auth */
int kz_static_slash_stage(kz_request_t *r); /**< static.c: trailing-slash redirects */
int kz_static_handle(kz_request_t *r);      /**< static.c: files, listings */

/* ---- errors.c ---- */
/** The errorConfig configuration for status in conf (the last matching entry), or NULL. */
const kz_conf_t *kz_errors_config(const kz_conf_t *conf, int status);
/** Answers with status: the errorPages file for it, else the built-in page. */
void kz_errors_respond(kz_request_t *r, int status);

/**
 * Picks the location of r->vhost for r->path again (after a rewrite changed the path) and sets
 * r->conf; a request without a host keeps the global configuration.
 */
void kz_request_reselect(kz_request_t *r);

#endif
