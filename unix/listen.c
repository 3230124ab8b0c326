/*
 * POSIX implementation of runtime/kz_listen.h: SO_REUSEPORT listeners, accept4 with
 * SOCK_NONBLOCK, TCP_NODELAY, addresses formatted with inet_ntop, MSG_MORE and sendfile.
 */
#include "kz_listen.h"

#include <apr_portable.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KZ_LISTEN_BACKLOG 4096

int kz_listen_reuseport_supported(void)
{
#ifdef SO_REUSEPORT
    return 1;
#else
    return 0;
#endif
}

static apr_status_t set_int_opt(apr_socket_t *sock, int level, int name, int value)
{
    apr_os_sock_t fd;

    apr_os_sock_get(&fd, sock);
    if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
        return errno;
    }
    return APR_SUCCESS;
}

apr_status_t kz_listen_open(apr_socket_t **out, const char *host, apr_port_t port, int reuseport,
                            apr_pool_t *p)
{
    apr_sockaddr_t *sa;
    apr_socket_t *sock;
    apr_status_t rv;

    if ((rv = kz_listen_socket(&sock, &sa, host, port, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_socket_opt_set(sock, APR_SO_REUSEADDR, 1);
#ifdef SO_REUSEPORT
    if (reuseport && (rv = set_int_opt(sock, SOL_SOCKET, SO_REUSEPORT, 1)) != APR_SUCCESS) {
        apr_socket_close(sock);
        return rv;
    }
#endif
    if ((rv = kz_listen_start(sock, sa, KZ_LISTEN_BACKLOG)) != APR_SUCCESS) {
        return rv;
    }
    /* Linux copies TCP_NODELAY from the listener to every accepted socket. */
    set_int_opt(sock, IPPROTO_TCP, TCP_NODELAY, 1);
#ifdef TCP_DEFER_ACCEPT
    /* Wake the loop for a connection only once its first bytes are there (nginx's
     * "deferred"): the accept is followed at once by a read that finds the request. */
    set_int_opt(sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
#endif
    *out = sock;
    return APR_SUCCESS;
}

static void format_addr(const struct sockaddr_storage *ss, char *ip, size_t iplen, apr_port_t *port)
{
    ip[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)iplen);
        if (port) {
            *port = ntohs(in->sin_port);
        }
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, (socklen_t)iplen);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
        }
        if (port) {
            *port = ntohs(in6->sin6_port);
        }
    }
}

apr_status_t kz_listen_accept(kz_accepted_t *conn, apr_socket_t *listener)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    apr_os_sock_t lfd;
    int fd, one = 1;

    apr_os_sock_get(&lfd, listener);
    do {
        fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return errno;
    }
#ifndef __linux__
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#else
    (void)one; /* inherited from the listener */
#endif
    conn->fd = fd;
    format_addr(&peer, conn->ip, sizeof(conn->ip), &conn->port);
    return APR_SUCCESS;
}

apr_status_t kz_socket_local_ip(char *ip, apr_size_t len, apr_os_sock_t fd)
{
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);

    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) {
        ip[0] = '\0';
        return errno;
    }
    format_addr(&local, ip, len, NULL);
    return APR_SUCCESS;
}

int kz_listen_out_of_fds(apr_status_t status)
{
    return status == EMFILE || status == ENFILE || status == ENOBUFS || status == ENOMEM;
}

apr_status_t kz_socket_sendv_more(apr_socket_t *sock, const struct iovec *vec, int nvec,
                                  apr_size_t *len)
{
#ifdef MSG_MORE
    struct msghdr msg = {0};
    apr_os_sock_t fd;
    ssize_t n;

    apr_os_sock_get(&fd, sock);
    msg.msg_iov = (struct iovec *)vec;
    msg.msg_iovlen = (size_t)nvec;
    do {
        n = sendmsg(fd, &msg, MSG_MORE | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        *len = 0;
        return errno;
    }
    *len = (apr_size_t)n;
    return APR_SUCCESS;
#else
    return apr_socket_sendv(sock, vec, nvec, len);
#endif
}

apr_status_t kz_socket_sendfile(apr_socket_t *sock, apr_file_t *file, apr_off_t *off,
                                apr_size_t *len)
{
    /* APR's sendfile (Linux sendfile(2)) suits a non-blocking socket as it is. */
    return apr_socket_sendfile(sock, file, NULL, off, len, 0);
}
