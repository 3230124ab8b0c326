/*
 * POSIX part of runtime/kz_net.h: the system's numeric address parser and printer
 * (inet_pton/inet_ntop, POSIX.1-2008); runtime/net.c does the rest.
 */
#include "kz_net.h"

#include <arpa/inet.h>
#include <sys/socket.h>

int kz_net_pton(int v4, const char *text, void *out)
{
    return inet_pton(v4 ? AF_INET : AF_INET6, text, out);
}

int kz_net_ntop(int v4, const void *addr, char *out, apr_size_t size)
{
    return inet_ntop(v4 ? AF_INET : AF_INET6, addr, out, (socklen_t)size) != NULL;
}
