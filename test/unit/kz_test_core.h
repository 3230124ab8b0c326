/*
 * A request with its connection, loop and server, made without sockets or threads, for unit
 * tests that run parts of the pipeline or the loop's post queue directly.
 */
#ifndef KZ_TEST_CORE_H
#define KZ_TEST_CORE_H

#include "core.h"

#include <string.h>

typedef struct kz_test_fixture {
    kz_server_t server;
    kz_loop_t loop;
    kz_conn_t conn;
    kz_runconf_t rc;
    kz_request_t r;
    kz_http_field_t fields[8];
    char buf[256];
} kz_test_fixture_t;

/** Zeroes f and links its request to its connection, loop and server. */
static inline void kz_test_fixture_link(kz_test_fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->loop.server = &f->server;
    f->conn.loop = &f->loop;
    f->r.conn = &f->conn;
}

#endif
