/*
 * Windows part of runtime/kz_net.h: the system's numeric address parser and printer
 * (InetPtonA/InetNtopA, Winsock 2 from Vista on; Ws2_32 is started by apr_initialize);
 * runtime/net.c does the rest.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600 /* InetPtonA and InetNtopA are declared from Vista on */
#endif
#include <winsock2.h>
#include <ws2tcpip.h>

#include "kz_net.h"

int kz_net_pton(int v4, const char *text, void *out)
{
    return InetPtonA(v4 ? AF_INET : AF_INET6, text, out);
}

int kz_net_ntop(int v4, const void *addr, char *out, apr_size_t size)
{
    return InetNtopA(v4 ? AF_INET : AF_INET6, addr, out, size) != NULL;
}
