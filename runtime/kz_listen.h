/*
 * Listening and accepting, with the socket options APR does not offer: SO_REUSEPORT (one
 * listening socket per event loop where the platform balances between them), accept of a
 * non-blocking socket in one call, TCP_NODELAY, and the peer address as text without a pool.
 * The APR-only part is in runtime/listen.c, the rest in unix/listen.c and win32/listen.c (and
 * win32/sendfile.c).
 */
#ifndef KZ_LISTEN_H
#define KZ_LISTEN_H

#include <apr_file_io.h>
#include <apr_network_io.h>
#include <apr_portable.h>

/** Whether several sockets may listen on one address with the kernel balancing between them. */
int kz_listen_reuseport_supported(void);

/**
 * Opens a non-blocking socket listening on host:port (host NULL: every address, IPv6 and IPv4).
 * With reuseport, SO_REUSEPORT is set so other loops can listen on the same address. A cleanup
 * in p closes it.
 */
apr_status_t kz_listen_open(apr_socket_t **out, const char *host, apr_port_t port, int reuseport,
                            apr_pool_t *p);

/**
 * For unix/listen.c and win32/listen.c: creates the socket kz_listen_open binds, *sa its
 * address (host NULL: the IPv6 wildcard with IPV6_V6ONLY off, else IPv4).
 */
apr_status_t kz_listen_socket(apr_socket_t **sock, apr_sockaddr_t **sa, const char *host,
                              apr_port_t port, apr_pool_t *p);

/**
 * For unix/listen.c and win32/listen.c: binds sock to sa and listens, then makes it
 * non-blocking; on failure sock is closed.
 */
apr_status_t kz_listen_start(apr_socket_t *sock, apr_sockaddr_t *sa, int backlog);

/** The port a listening socket is bound to (for port 0). */
apr_port_t kz_listen_port(apr_socket_t *sock);

/** A connection just accepted. */
typedef struct kz_accepted {
    apr_os_sock_t fd;
    char ip[64]; /**< the peer's address as text; IPv4-mapped IPv6 addresses in IPv4 form */
    apr_port_t port;
} kz_accepted_t;

/**
 * Accepts one connection as a non-blocking socket with TCP_NODELAY set. Returns APR_SUCCESS,
 * an EAGAIN status when none is waiting, or another error (EMFILE and ENFILE among them, which
 * the caller tests with kz_listen_out_of_fds()).
 */
apr_status_t kz_listen_accept(kz_accepted_t *conn, apr_socket_t *listener);

/** The local address of a connected socket as text (IPv4-mapped addresses in IPv4 form). */
apr_status_t kz_socket_local_ip(char *ip, apr_size_t len, apr_os_sock_t fd);

/**
 * Writes iovecs like apr_socket_sendv, telling the kernel more data follows at once (a file
 * about to go out with sendfile), so the head and the first body bytes share a segment where
 * the platform can (Linux MSG_MORE). *len is set to the bytes written.
 */
apr_status_t kz_socket_sendv_more(apr_socket_t *sock, const struct iovec *vec, int nvec,
                                  apr_size_t *len);

/**
 * Sends up to *len bytes of file from offset *off on a non-blocking socket; *len is set to the
 * bytes sent (an EAGAIN status when none could be). Unix: apr_socket_sendfile (unix/listen.c).
 * Windows: a positional read and a send (win32/sendfile.c), because APR's TransmitFile path
 * cannot work without blocking: it gives up on a transfer the kernel still has in flight.
 */
apr_status_t kz_socket_sendfile(apr_socket_t *sock, apr_file_t *file, apr_off_t *off,
                                apr_size_t *len);

/** Whether an accept error means the process or system ran out of descriptors. */
int kz_listen_out_of_fds(apr_status_t status);

/**
 * Wraps an accepted descriptor in *sock, reusing the apr_socket_t when *sock is not NULL (so a
 * connection slot keeps one socket object for its whole life and nothing grows per connection).
 */
apr_status_t kz_socket_wrap(apr_socket_t **sock, apr_os_sock_t fd, apr_pool_t *p);

#endif
