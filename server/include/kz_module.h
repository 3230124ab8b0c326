/*
 * The Karpacz module interface: what a module exports, and the functions of the server it may
 * call. It is the same for modules compiled into the server (cache, cgi, fcgi, scgi, rproxy,
 * fproxy) and for modules loaded at run time from a shared library (mod_NAME.so on Unix,
 * mod_NAME.dll on Windows). docs/modules.md shows how to write, build and load one;
 * modules/example/ is a complete, commented example.
 *
 * A shared-library module exports one symbol, `kz_module_NAME` (NAME as in loadModules; names are
 * letters, digits and '_'), a kz_module_t whose header says which interface it was built against
 * (a name of its own, so that two modules never interpose each other's symbol):
 *
 *     KZ_MODULE_EXPORT const kz_module_t kz_module_example = {
 *         KZ_MODULE_HEADER_INIT("example", "1.0.0"),
 *         .properties = example_properties,
 *         .nproperties = 1,
 *         .create_conf = example_conf,
 *         .handle = example_handle,
 *     };
 *
 * The server refuses a library whose magic or ABI version differs from its own, and one whose
 * name differs from the name in loadModules.
 *
 * Threads. Every request is handled on one event loop thread, start to end; a loop runs many
 * requests at once, so a handler MUST NOT block: no sleeping, no blocking socket or file read of
 * unbounded duration, no waiting on a lock held for long. A handler that has to wait returns
 * KZ_SUSPENDED and later, on the request's own loop thread, calls kz_request_resume():
 *
 *   - waiting for time: kz_timer_add(kz_request_loop(r), delay, fn, baton), and in fn call
 *     kz_request_resume(r, KZ_DONE) once the response is set;
 *   - waiting for work done on another thread: when it is done, that thread calls
 *     kz_loop_post(loop, fn, baton) — the only function here that is safe from any thread — and
 *     fn, run on the loop, sets the response and resumes.
 *
 * A suspended request may end without the module (its `timeout` passes, or the server stops):
 * its pool is then destroyed, so register a cleanup on kz_request_pool(r) that cancels your timer
 * or marks your work abandoned. kz_request_resume() on such a request does nothing.
 */
#ifndef KZ_MODULE_H
#define KZ_MODULE_H

#include "kz.h"
#include "kz_property.h"

#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "KZMD": the first field of every module. */
#define KZ_MODULE_MAGIC 0x4B5A4D44u
/** Raised whenever kz_module_t or a function below changes incompatibly. */
#define KZ_MODULE_ABI 1

/** The prefix of the symbol a shared-library module exports: kz_module_NAME. */
#define KZ_MODULE_SYMBOL_PREFIX "kz_module_"

typedef struct kz_request kz_request_t;
typedef struct kz_conf kz_conf_t;
typedef struct kz_loop kz_loop_t;
typedef struct kz_timer kz_timer_t;
typedef struct kz_module kz_module_t;

#define KZ_MODULE_HEADER                                                                           \
    unsigned magic;     /**< KZ_MODULE_MAGIC */                                                    \
    unsigned abi;       /**< KZ_MODULE_ABI */                                                      \
    const char *name;   /**< as written in loadModules */                                          \
    const char *version /**< the module's own version, for logs */

#define KZ_MODULE_HEADER_INIT(name, version) KZ_MODULE_MAGIC, KZ_MODULE_ABI, name, version

struct kz_module {
    KZ_MODULE_HEADER;
    /** The configuration properties the module owns; validated at load like the core's. */
    const kz_property_t *properties;
    int nproperties;
    /**
     * Optional: called once for each configuration that lists the module, before it serves
     * (also on reload). pconf lives as long as that configuration. Return APR_SUCCESS, or an
     * error with *error set to a message: the configuration is then refused.
     */
    apr_status_t (*init)(const kz_module_t *self, apr_pool_t *pconf, const char **error);
    /**
     * Optional: builds the module's settings for one scope (global, a host, a location) from its
     * properties, once per load; kz_request_module_conf() returns the result for a request.
     */
    void *(*create_conf)(const kz_module_t *self, const kz_conf_t *conf, apr_pool_t *pconf);
    /**
     * Optional: handles a request. Returns KZ_DECLINED (the next module, then static files, get
     * it), KZ_DONE (the module set the response), an HTTP status >= 400 (the server answers with
     * its error page for it) or KZ_SUSPENDED (see above).
     */
    int (*handle)(kz_request_t *r);
    /**
     * Optional: sees the final response of every request whose chain reached this module, after
     * the handlers, in reverse module order (a cache stores here). It may add header fields.
     */
    void (*on_response)(kz_request_t *r);
    /**
     * Optional: CONNECT requests, and requests asking for a protocol upgrade (an Upgrade field),
     * before the normal chain. Returns KZ_DECLINED, KZ_DONE, a status or KZ_SUSPENDED like
     * handle(). A CONNECT that no module takes is answered with 501; an upgrade that no module
     * takes is handled as a plain request.
     */
    int (*handle_connect)(kz_request_t *r);
};

/* ---- the request ---------------------------------------------------------------------- */

KZ_API apr_pool_t *kz_request_pool(const kz_request_t *r);
/** The method as received ("GET"). */
KZ_API const char *kz_request_method(const kz_request_t *r);
/** The decoded, sanitized path (after rewrites). */
KZ_API const char *kz_request_path(const kz_request_t *r);
/** The query after '?', or NULL. */
KZ_API const char *kz_request_query(const kz_request_t *r);
/** The value of a request header field (case-insensitive name), or NULL. */
KZ_API const char *kz_request_header(const kz_request_t *r, const char *name);
/** The client's address (X-Forwarded-For's when enableIPSpoofing is on). */
KZ_API const char *kz_request_client_ip(const kz_request_t *r);
/** The Host the request named, or NULL. */
KZ_API const char *kz_request_host(const kz_request_t *r);
/** The effective configuration of the request's host and location. */
KZ_API const kz_conf_t *kz_request_conf(const kz_request_t *r);
/** What self's create_conf() built for the request's scope (NULL without create_conf). */
KZ_API void *kz_request_module_conf(const kz_request_t *r, const kz_module_t *self);
/** The event loop that runs the request. */
KZ_API kz_loop_t *kz_request_loop(const kz_request_t *r);
/**
 * Continues a request whose handler returned KZ_SUSPENDED, with what the handler would have
 * returned (KZ_DONE, a status, or KZ_DECLINED to let the next module have it). Loop thread only.
 * Returns APR_SUCCESS, or APR_EINVAL when r is not suspended (it ended meanwhile). After it
 * returns, r may be gone (the response can be written and the request freed at once): do not
 * touch it again.
 */
KZ_API apr_status_t kz_request_resume(kz_request_t *r, int rc);

/* ---- configuration values ------------------------------------------------------------- */

/** The value of a property in a scope (merged as the configuration rules say), or NULL. */
KZ_API const kz_value_t *kz_conf_get(const kz_conf_t *conf, const char *name);

/* ---- the response --------------------------------------------------------------------- */

KZ_API void kz_response_status(kz_request_t *r, int status);
/** Adds a header field; name and value must live as long as the request (its pool). */
KZ_API void kz_response_header(kz_request_t *r, const char *name, const char *value);
KZ_API const char *kz_response_header_get(const kz_request_t *r, const char *name);
/** Replaces the body with bytes that live at least as long as the request. */
KZ_API void kz_response_body_mem(kz_request_t *r, const char *data, apr_size_t len);
/** Replaces the body with len bytes of file from offset; the file stays open until the end. */
KZ_API void kz_response_body_file(kz_request_t *r, apr_file_t *file, apr_off_t offset,
                                  apr_off_t len);
/** Appends to the body. */
KZ_API void kz_response_body_add_mem(kz_request_t *r, const char *data, apr_size_t len);
KZ_API void kz_response_body_add_file(kz_request_t *r, apr_file_t *file, apr_off_t offset,
                                      apr_off_t len);

/* ---- the loop: timers and wake-ups ---------------------------------------------------- */

/**
 * Calls fn(baton) on the loop's thread after delay (at the loop's next turn for 0). Loop thread
 * only. The timer is freed after it fires or is cancelled.
 */
KZ_API kz_timer_t *kz_timer_add(kz_loop_t *loop, apr_interval_time_t delay, void (*fn)(void *baton),
                                void *baton);
/** Cancels a timer that has not fired yet. Loop thread only. */
KZ_API void kz_timer_cancel(kz_timer_t *timer);
/**
 * Runs fn(baton) on the loop's thread soon. Safe from any thread, while the server runs: a module
 * that starts threads stops them from a cleanup on the pool its init() received, which is
 * destroyed before the loops are.
 */
KZ_API apr_status_t kz_loop_post(kz_loop_t *loop, void (*fn)(void *baton), void *baton);

/* ---- logging -------------------------------------------------------------------------- */

/**
 * Writes a line to the error log from a request's loop, without blocking:
 * `[time] [level] [KZnnnn] message`. Modules use message ids from 1000 up.
 */
KZ_API void kz_request_log(const kz_request_t *r, kz_log_level_e level, int msgid, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif

#endif
