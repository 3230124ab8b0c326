/*
 * The portable part of runtime/kz_listen.h, APR calls only: the listening socket's address
 * and creation, its bind and listen, its port, and the wrapping of accepted descriptors. The
 * parts that need the OS's socket types are in unix/listen.c and win32/listen.c.
 */
#include "kz_listen.h"

apr_status_t kz_listen_socket(apr_socket_t **sock, apr_sockaddr_t **sa, const char *host,
                              apr_port_t port, apr_pool_t *p)
{
    /* No host: try the IPv6 wildcard first (dual stack), then IPv4. */
    apr_status_t rv = apr_sockaddr_info_get(sa, host, host ? APR_UNSPEC : APR_INET6, port, 0, p);

    if (rv != APR_SUCCESS && !host) {
        rv = apr_sockaddr_info_get(sa, NULL, APR_INET, port, 0, p);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_socket_create(sock, (*sa)->family, SOCK_STREAM, APR_PROTO_TCP, p);
    if (rv != APR_SUCCESS && !host && (*sa)->family == APR_INET6) {
        if ((rv = apr_sockaddr_info_get(sa, NULL, APR_INET, port, 0, p)) == APR_SUCCESS) {
            rv = apr_socket_create(sock, (*sa)->family, SOCK_STREAM, APR_PROTO_TCP, p);
        }
    }
    if (rv == APR_SUCCESS && !host && (*sa)->family == APR_INET6) {
        apr_socket_opt_set(*sock, APR_IPV6_V6ONLY, 0);
    }
    return rv;
}

apr_status_t kz_listen_start(apr_socket_t *sock, apr_sockaddr_t *sa, int backlog)
{
    apr_status_t rv;

    if ((rv = apr_socket_bind(sock, sa)) != APR_SUCCESS ||
        (rv = apr_socket_listen(sock, backlog)) != APR_SUCCESS) {
        apr_socket_close(sock);
        return rv;
    }
    apr_socket_opt_set(sock, APR_SO_NONBLOCK, 1);
    apr_socket_timeout_set(sock, 0);
    return APR_SUCCESS;
}

apr_port_t kz_listen_port(apr_socket_t *sock)
{
    apr_sockaddr_t *sa;

    if (apr_socket_addr_get(&sa, APR_LOCAL, sock) != APR_SUCCESS) {
        return 0;
    }
    return sa->port;
}

apr_status_t kz_socket_wrap(apr_socket_t **sock, apr_os_sock_t fd, apr_pool_t *p)
{
    int fresh = *sock == NULL;
    apr_status_t rv = apr_os_sock_put(sock, &fd, p);

    if (rv == APR_SUCCESS && fresh) {
        /* The descriptor is already non-blocking (kz_listen_accept); this records it in APR
         * once. */
        apr_socket_opt_set(*sock, APR_SO_NONBLOCK, 1);
        apr_socket_timeout_set(*sock, 0);
    }
    return rv;
}
