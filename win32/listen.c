/*
 * Windows implementation of runtime/kz_listen.h over Winsock 2. Windows has no SO_REUSEPORT,
 * so there is one listening socket per address, shared by every event loop: each loop polls it
 * and the first to accept gets the connection, the others see WSAEWOULDBLOCK. No SO_REUSEADDR
 * either: on Windows it would let another socket bind the port we listen on, and without it a
 * restart is not blocked by connections of the old process in TIME_WAIT (as it would be with
 * SO_EXCLUSIVEADDRUSE).
 */
#include <winsock2.h>
#include <ws2tcpip.h>

#include "kz_listen.h"

#include <apr_portable.h>
#include <string.h>

#define KZ_LISTEN_BACKLOG SOMAXCONN

int kz_listen_reuseport_supported(void)
{
    return 0;
}

static apr_status_t set_int_opt(SOCKET fd, int level, int name, int value)
{
    if (setsockopt(fd, level, name, (const char *)&value, sizeof(value)) != 0) {
        return apr_get_netos_error();
    }
    return APR_SUCCESS;
}

apr_status_t kz_listen_open(apr_socket_t **out, const char *host, apr_port_t port, int reuseport,
                            apr_pool_t *p)
{
    apr_sockaddr_t *sa;
    apr_socket_t *sock;
    apr_os_sock_t fd;
    apr_status_t rv;

    if (reuseport) {
        return APR_ENOTIMPL;
    }
    if ((rv = kz_listen_socket(&sock, &sa, host, port, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_os_sock_get(&fd, sock);
    SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
    if ((rv = kz_listen_start(sock, sa, KZ_LISTEN_BACKLOG)) != APR_SUCCESS) {
        return rv;
    }
    *out = sock;
    return APR_SUCCESS;
}

static void format_addr(const struct sockaddr_storage *ss, char *ip, size_t iplen, apr_port_t *port)
{
    ip[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        InetNtopA(AF_INET, &in->sin_addr, ip, iplen);
        if (port) {
            *port = ntohs(in->sin_port);
        }
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            InetNtopA(AF_INET, &in6->sin6_addr.s6_addr[12], ip, iplen);
        } else {
            InetNtopA(AF_INET6, &in6->sin6_addr, ip, iplen);
        }
        if (port) {
            *port = ntohs(in6->sin6_port);
        }
    }
}

apr_status_t kz_listen_accept(kz_accepted_t *conn, apr_socket_t *listener)
{
    struct sockaddr_storage peer;
    int len = sizeof(peer);
    apr_os_sock_t lfd;
    SOCKET fd;
    u_long nonblocking = 1;

    apr_os_sock_get(&lfd, listener);
    fd = accept(lfd, (struct sockaddr *)&peer, &len);
    if (fd == INVALID_SOCKET) {
        return apr_get_netos_error();
    }
    SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
    if (ioctlsocket(fd, FIONBIO, &nonblocking) != 0) {
        apr_status_t rv = apr_get_netos_error();
        closesocket(fd);
        return rv;
    }
    set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    conn->fd = fd;
    format_addr(&peer, conn->ip, sizeof(conn->ip), &conn->port);
    return APR_SUCCESS;
}

apr_status_t kz_socket_local_ip(char *ip, apr_size_t len, apr_os_sock_t fd)
{
    struct sockaddr_storage local;
    int llen = sizeof(local);

    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) {
        ip[0] = '\0';
        return apr_get_netos_error();
    }
    format_addr(&local, ip, len, NULL);
    return APR_SUCCESS;
}

int kz_listen_out_of_fds(apr_status_t status)
{
    return status == APR_FROM_OS_ERROR(WSAEMFILE) || status == APR_FROM_OS_ERROR(WSAENOBUFS) ||
           status == APR_ENOMEM;
}

apr_status_t kz_socket_sendv_more(apr_socket_t *sock, const struct iovec *vec, int nvec,
                                  apr_size_t *len)
{
    /* Winsock has no MSG_MORE; Nagle is off, so the head goes out as its own segment. */
    return apr_socket_sendv(sock, vec, nvec, len);
}
