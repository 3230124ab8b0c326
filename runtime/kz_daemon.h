/*
 * The portability API for running Karpacz unattended: a pid file, detaching from the terminal
 * (Unix daemon), dropping to an unprivileged user, and the supervisor that starts, restarts and
 * replaces the serving process (zero-downtime reload). The serving process side is here too:
 * listening sockets inherited from the supervisor and the readiness notice.
 * Implemented in unix/daemon.c and win32/daemon.c (where the service replaces the daemon:
 * detach and supervise return APR_ENOTIMPL, the serving-process calls find nothing to inherit).
 */
#ifndef KZ_DAEMON_H
#define KZ_DAEMON_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* ---- pid file ------------------------------------------------------------------------- */

/**
 * Checks that no live process holds the pid file PATH. A missing file, or one naming a process
 * that no longer exists (stale), is fine: APR_SUCCESS. A live one gives APR_EEXIST and *error
 * says "pid file PATH names the running process PID". Other failures give their status and
 * *error.
 */
apr_status_t kz_pidfile_check(const char *path, const char **error, apr_pool_t *p);

/**
 * Writes the calling process's id to PATH atomically (a temporary file in the same directory,
 * then rename), so a reader never sees a partial file. A stale file is replaced.
 */
apr_status_t kz_pidfile_write(const char *path, const char **error, apr_pool_t *p);

/** Removes PATH if it names the calling process (never another process's file). */
apr_status_t kz_pidfile_remove(const char *path, apr_pool_t *p);

/* ---- detaching and privileges --------------------------------------------------------- */

/** A detached process's link back to the command that started it (see kz_daemon_detach). */
typedef struct kz_daemon kz_daemon_t;

/**
 * Detaches the calling process from its terminal (Unix: double fork, new session, working
 * directory /, stdin from /dev/null, stdout and stderr appended to OUT_PATH, or /dev/null if it
 * is NULL or cannot be opened). Returns APR_SUCCESS in the detached process only; the original
 * process waits until that process calls kz_daemon_started() (or exits) and then exits itself,
 * with status 0 after a successful start and 1 otherwise, printing the failure message on its
 * own stderr. So the shell gets control back once the server answers. Windows: APR_ENOTIMPL.
 * Call it before any thread is created.
 */
apr_status_t kz_daemon_detach(kz_daemon_t **out, const char *out_path, apr_pool_t *p);

/**
 * Tells the process waiting in kz_daemon_detach how the start went: ok non-zero for success,
 * otherwise msg (may be NULL) is printed there. Only the first call counts; d may be NULL.
 */
void kz_daemon_started(kz_daemon_t *d, int ok, const char *msg);

/**
 * Switches to USER and GROUP (either may be NULL; a NULL GROUP means USER's primary group):
 * Unix: setgid, initgroups, setuid, then checks that root cannot be regained. Does nothing
 * (APR_SUCCESS) when both are NULL. A process that is not root can only "switch" to its own
 * user: other requests fail. On failure *error says why; the caller must not keep running as
 * root then. Windows: APR_ENOTIMPL when a user or group is given.
 */
apr_status_t kz_daemon_drop_privileges(const char *user, const char *group, const char **error,
                                       apr_pool_t *p);

/* ---- the supervisor ------------------------------------------------------------------- */

/** One address the serving process listens on. */
typedef struct kz_daemon_listen {
    const char *host; /**< NULL: every address (IPv6 and IPv4) */
    apr_port_t port;  /**< not 0: a supervisor binds a fixed port once */
    int count;        /**< sockets for this address: one per event loop */
} kz_daemon_listen_t;

/** What the supervisor learns from a configuration. */
typedef struct kz_daemon_conf {
    apr_array_header_t *listen;       /**< kz_daemon_listen_t */
    apr_interval_time_t stop_timeout; /**< a stopping serving process is killed after this */
    const char *config_file;          /**< absolute; the serving process gets "-c" this */
} kz_daemon_conf_t;

/**
 * Loads (or reloads) the configuration for the supervisor and fills *conf (allocated in p).
 * Prints its problems on stderr (the error log of a detached process) and returns non-success
 * when the configuration cannot be used.
 */
typedef apr_status_t (*kz_daemon_load_fn)(kz_daemon_conf_t *conf, void *baton, apr_pool_t *p);

/** How to supervise. */
typedef struct kz_daemon_spec {
    kz_daemon_load_fn load; /**< called at start and on every reload request */
    void *baton;
    kz_daemon_t *detached; /**< told the outcome of the first start; may be NULL */
    const char *pid_file;  /**< written at start, removed at the end; may be NULL */
} kz_daemon_spec_t;

/**
 * Runs the supervisor until it is told to stop; returns the process's exit status (0 after a
 * requested stop, 1 when the first serving process could not start). Unix: binds every
 * listening socket once (SO_REUSEPORT, `count` per address) and starts the serving process as
 * a new execution of this program with "-c config_file", passing the sockets in the
 * environment; restarts it at once when it dies (after a growing delay, 0.5 s doubling up to
 * 30 s, while it keeps dying within 10 s of its start); SIGTERM/SIGINT: stops it gracefully,
 * removes the pid file and returns; SIGUSR1: reopens stdout/stderr and forwards the signal; SIGHUP:
 * loads the configuration again (a failure is logged and nothing changes), binds sockets for new
 * addresses, starts a new serving process, and only once it reports ready stops the old one, which
 * drains. Windows (the service has its own entry): prints that it is not supported and returns 1.
 */
int kz_daemon_supervise(const kz_daemon_spec_t *spec, apr_pool_t *p);

/* ---- the serving process under a supervisor ------------------------------------------- */

/** Whether this process was started by a supervisor (and should call kz_daemon_ready()). */
int kz_daemon_supervised(void);

/**
 * The INDEX-th (from 0) listening socket the supervisor bound for host:port (host NULL: every
 * address), wrapped in p (non-blocking, closed by p's cleanup). APR_NOTFOUND when there is
 * none; the caller then binds one itself.
 */
apr_status_t kz_daemon_listener(apr_socket_t **out, const char *host, apr_port_t port, int index,
                                apr_pool_t *p);

/** Tells the supervisor this serving process accepts connections now. Idempotent. */
void kz_daemon_ready(void);

#endif
