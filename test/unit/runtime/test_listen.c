/*
 * Tests of runtime/kz_listen.h that hold on every platform (runtime/listen.c with unix/listen.c
 * or win32/listen.c): a listener on an ephemeral loopback port, a second one on the same port
 * (refused without reuseport), accept with nothing waiting and with a client, and the wrapped
 * socket's local address.
 */
#include "kz_listen.h"
#include "kz_test.h"

#include <apr_poll.h>

#include <string.h>

static void test_listen_accept(void)
{
    apr_socket_t *l, *again, *client, *wrapped = NULL;
    apr_sockaddr_t *to, *mine;
    kz_accepted_t a;
    char ip[64];
    apr_port_t port;
    apr_pollfd_t pfd = {0};
    apr_int32_t n;

    CU_ASSERT_EQUAL_FATAL(kz_listen_open(&l, "127.0.0.1", 0, 0, kz_test_pool), APR_SUCCESS);
    port = kz_listen_port(l);
    CU_ASSERT_NOT_EQUAL_FATAL(port, 0);
    /* The port is taken: a second listener without reuseport fails (and closes its socket). */
    CU_ASSERT_NOT_EQUAL(kz_listen_open(&again, "127.0.0.1", port, 0, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_TRUE(APR_STATUS_IS_EAGAIN(kz_listen_accept(&a, l)));

    CU_ASSERT_EQUAL_FATAL(apr_sockaddr_info_get(&to, "127.0.0.1", APR_INET, port, 0, kz_test_pool),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(
        apr_socket_create(&client, APR_INET, SOCK_STREAM, APR_PROTO_TCP, kz_test_pool),
        APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_connect(client, to), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_addr_get(&mine, APR_LOCAL, client), APR_SUCCESS);
    /* Wait for the listener to be readable, as the event loop does, then accept. */
    pfd.p = kz_test_pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.reqevents = APR_POLLIN;
    pfd.desc.s = l;
    CU_ASSERT_EQUAL_FATAL(apr_poll(&pfd, 1, &n, apr_time_from_sec(5)), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(kz_listen_accept(&a, l), APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(a.ip, "127.0.0.1");
    CU_ASSERT_EQUAL(a.port, mine->port);
    CU_ASSERT_EQUAL_FATAL(kz_socket_wrap(&wrapped, a.fd, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_socket_local_ip(ip, sizeof(ip), a.fd), APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(ip, "127.0.0.1");
    apr_socket_close(wrapped);
    apr_socket_close(client);
    apr_socket_close(l);
}

static void test_listen_reuseport(void)
{
    apr_socket_t *a, *b;
    apr_status_t rv = kz_listen_open(&a, "127.0.0.1", 0, 1, kz_test_pool);

    if (!kz_listen_reuseport_supported()) {
        CU_ASSERT_EQUAL(rv, APR_ENOTIMPL);
        return;
    }
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    /* Both ask for SO_REUSEPORT: the kernel lets them share the port. */
    CU_ASSERT_EQUAL(kz_listen_open(&b, "127.0.0.1", kz_listen_port(a), 1, kz_test_pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_listen_port(b), kz_listen_port(a));
    apr_socket_close(b);
    apr_socket_close(a);
}

static const kz_test_case_t cases[] = {
    {"listen on an ephemeral port, refuse it twice, accept a client", test_listen_accept},
    {"reuseport: shared port, or ENOTIMPL where unsupported", test_listen_reuseport},
    {NULL, NULL},
};

KZ_TEST_SUITE(listen, cases)
