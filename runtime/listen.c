/*
 * The portable part of runtime/kz_listen.h (the rest is in unix/listen.c and win32/listen.c).
 */
#include "kz_listen.h"

apr_port_t kz_listen_port(apr_socket_t *sock)
{
    apr_sockaddr_t *sa;

    if (apr_socket_addr_get(&sa, APR_LOCAL, sock) != APR_SUCCESS) {
        return 0;
    }
    return sa->port;
}
