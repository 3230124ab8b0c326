/*
 * POSIX part of runtime/kz_listen.h's kz_socket_sendfile: APR's sendfile (Linux sendfile(2)),
 * which a non-blocking socket suits as it is.
 */
#include "kz_listen.h"

apr_status_t kz_socket_sendfile(apr_socket_t *sock, apr_file_t *file, apr_off_t *off,
                                apr_size_t *len)
{
    return apr_socket_sendfile(sock, file, NULL, off, len, 0);
}
