/*
 * The Windows service: registering Karpacz with the service control manager (karpacz -k
 * install|uninstall|start|stop) and the service's own entry (-k run), which runs the same
 * core as a foreground server. Implemented in win32/service.c; unix/service.c says that
 * services are a Windows feature (APR_ENOTIMPL). kz_service_command (runtime/service.c) is the
 * command line's side of it.
 */
#ifndef KZ_SERVICE_H
#define KZ_SERVICE_H

#include <apr_errno.h>
#include <apr_pools.h>

/** The service's name in the service control manager. */
#define KZ_SERVICE_NAME "Karpacz"

/** The service's body: runs the server until it is stopped; returns the exit status. */
typedef int (*kz_service_body_fn)(void *baton);

/**
 * Registers the service KZ_SERVICE_NAME to run this executable as `"EXE" -k run -c "CONFIG"`
 * (config_file made absolute, in APR's '/' form; it must exist): started automatically at
 * boot, restarted by the service control manager after a failure, with a description. An
 * existing registration is updated instead. *msg says what was done or what failed.
 */
apr_status_t kz_service_install(const char *config_file, const char **msg, apr_pool_t *p);

/** Stops the service if it runs, then removes its registration. */
apr_status_t kz_service_uninstall(const char **msg, apr_pool_t *p);

/** Starts the service and waits (up to 30 s) until it runs, or has stopped again (failure). */
apr_status_t kz_service_start(const char **msg, apr_pool_t *p);

/** Asks the service to stop gracefully and waits (up to 60 s) until it has. */
apr_status_t kz_service_stop(const char **msg, apr_pool_t *p);

/**
 * The service's entry: connects this process to the service control manager and runs body in
 * the service, reporting START_PENDING, then RUNNING once the server accepts connections
 * (kz_daemon_ready), STOP_PENDING and STOPPED; STOP and SHUTDOWN become the graceful
 * KZ_OS_EVENT_STOP, PARAMCHANGE a reload, user control 128 a log reopen. Returns APR_SUCCESS
 * with *exit_code set once the service has stopped, or APR_ENOTIMPL when this process was not
 * started by the service control manager (a console: the caller runs body itself; wine's
 * dispatcher waits for the service manager instead while other services run, so consoles
 * should run `karpacz -c FILE`).
 */
apr_status_t kz_service_run(kz_service_body_fn body, void *baton, int *exit_code);

/**
 * karpacz -k ACTION: install, uninstall, start, stop, or run (the service's own command line;
 * run from a console it serves in the foreground). Prints the outcome (stdout) or the problem
 * (stderr) and returns the exit status: 0, 1 on failure, 2 for an unknown action.
 */
int kz_service_command(const char *action, const char *config_file, kz_service_body_fn body,
                       void *baton, apr_pool_t *p);

#endif
