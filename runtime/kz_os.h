/*
 * The portability API for what APR does not hide: processor count, descriptor limits, and the
 * process-wide control events (Unix signals; on Windows, console and service events).
 * Implemented in unix/os.c and win32/os.c.
 */
#ifndef KZ_OS_H
#define KZ_OS_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

/** Number of online processors (at least 1). */
int kz_os_ncpu(void);

/**
 * Raises the soft limit of open descriptors as far as the hard limit allows, up to want.
 * Sets *got to the limit in force afterwards.
 */
apr_status_t kz_os_raise_fd_limit(apr_uint32_t want, apr_uint32_t *got);

/** Control events delivered to the main thread. */
typedef enum kz_os_event {
    KZ_OS_EVENT_NONE = 0, /**< the wait timed out */
    KZ_OS_EVENT_STOP,     /**< stop gracefully (SIGTERM, SIGINT, Ctrl+C, service STOP) */
    KZ_OS_EVENT_RELOAD,   /**< reload the configuration (SIGHUP) */
    KZ_OS_EVENT_REOPEN    /**< reopen the log files (SIGUSR1) */
} kz_os_event_e;

/**
 * Routes the control events to kz_os_event_wait(): call once in the main thread before any
 * other thread starts (threads inherit the setup). Also ignores SIGPIPE.
 */
apr_status_t kz_os_events_init(void);

/** Waits up to timeout for one control event. */
kz_os_event_e kz_os_event_wait(apr_interval_time_t timeout);

/** The file name of module NAME's shared library: "mod_NAME.so" (Unix), "mod_NAME.dll" (Windows).
 */
const char *kz_os_module_file(const char *name, apr_pool_t *p);

/** The directory of the running executable (no trailing separator), or NULL if unknown. */
const char *kz_os_exe_dir(apr_pool_t *p);

#endif
