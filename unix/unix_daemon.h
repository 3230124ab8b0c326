/*
 * Shared between unix/daemon.c and unix/supervisor.c (not part of the portable API): the
 * environment variables of the supervisor protocol and the daemon's output redirection.
 */
#ifndef KZ_UNIX_DAEMON_H
#define KZ_UNIX_DAEMON_H

#include "kz_daemon.h"

/** Listening sockets handed to a serving process: "FD INDEX PORT HOST;..." */
#define KZ_ENV_LISTEN_FDS "KZ_LISTEN_FDS"
/** The write end of the readiness pipe of a serving process. */
#define KZ_ENV_READY_FD "KZ_READY_FD"

/** Points stdout and stderr at out_path (appending), or /dev/null when NULL or unopenable. */
apr_status_t kz_unix_redirect_output(const char *out_path);

/** The output file given to kz_daemon_detach, or NULL. */
const char *kz_unix_daemon_out_path(const kz_daemon_t *d);

#endif
