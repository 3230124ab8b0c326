/*
 * The event loop: one per thread, each with its own pollset, listening sockets, allocator,
 * connection slots and buffers, so nothing on the request path is shared or locked.
 * Timeouts are deadlines stored in each connection and checked by a sweep twice a second, which
 * costs nothing per request (no timer insert or delete) and is exact to half a second.
 */
#include "compress.h"
#include "core.h"

#include "kz_listen.h"
#include "upstream.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KZ_POOL_DEBUG
#define KZ_POOL_DEBUG 0
#endif

#define KZ_POLL_BATCH     256
#define KZ_SWEEP_INTERVAL apr_time_from_msec(500)
#define KZ_ACCEPT_BATCH   64
#define KZ_MAX_FREE_BUFS  64
/* The open-file cache of each loop: entries, bytes of small files held, largest such file. */
#define KZ_FC_ENTRIES      1024
#define KZ_FC_CONTENT      (32 * 1024 * 1024)
#define KZ_FC_FILE_CONTENT (32 * 1024)

/* Where a connection's poll descriptor points: a tag tells listeners from connections. */
static const char listener_tag[] = "listener";

void kz_loop_update_now(kz_loop_t *loop)
{
    loop->now = apr_time_now();
    if (apr_time_sec(loop->now) != loop->date_sec) {
        loop->date_sec = apr_time_sec(loop->now);
        kz_http_date(loop->date, loop->now);
    }
}

kz_buf_t *kz_loop_buf_get(kz_loop_t *loop)
{
    kz_buf_t *b = loop->free_bufs;

    if (b) {
        loop->free_bufs = b->next;
        loop->nfree_bufs--;
        return b;
    }
    /* Buffers outlive requests and are recycled per loop, so they come from malloc. */
    b = malloc(sizeof(*b) + loop->buf_size);
    if (!b) {
        return NULL;
    }
    b->size = loop->buf_size;
    return b;
}

void kz_loop_buf_put(kz_loop_t *loop, kz_buf_t *buf)
{
    if (buf->size != loop->buf_size || loop->nfree_bufs >= KZ_MAX_FREE_BUFS) {
        free(buf);
        return;
    }
    buf->next = loop->free_bufs;
    loop->free_bufs = buf;
    loop->nfree_bufs++;
}

static apr_status_t loop_cleanup(void *data)
{
    kz_loop_t *loop = data;

    kz_timers_destroy(loop); /* after the requests' pools, whose cleanups may cancel timers */
    while (loop->free_bufs) {
        kz_buf_t *b = loop->free_bufs;
        loop->free_bufs = b->next;
        free(b);
    }
    return APR_SUCCESS;
}

static int abort_on_oom(int rc)
{
    fprintf(stderr, "karpacz: out of memory (%d)\n", rc);
    abort();
}

apr_status_t kz_loop_create(kz_loop_t **out, kz_server_t *server, int id, apr_pool_t *p)
{
    kz_loop_t *loop;
    apr_allocator_t *alloc;
    apr_pool_t *pool;
    apr_status_t rv;
    const kz_global_t *g = &server->current->config->global;

    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_max_free_set(alloc, KZ_POOL_DEBUG ? 1 : 4 * 1024 * 1024);
    /* An unmanaged pool with the loop's own allocator and no mutex: only this loop uses it. */
    if ((rv = apr_pool_create_unmanaged_ex(&pool, abort_on_oom, alloc)) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, pool);
    loop = apr_pcalloc(pool, sizeof(*loop));
    loop->server = server;
    loop->id = id;
    loop->pool = pool;
    loop->allocator = alloc;
    loop->accepting = 1;
    loop->buf_size = g->max_head + 4096;
    /* The cap is split between the loops, rounding up so the sum is never below it. */
    loop->max_conns = (g->max_connections + server->nloops - 1) / server->nloops;
    loop->listeners = apr_array_make(pool, 2, sizeof(apr_socket_t *));
    apr_pool_cleanup_register(pool, loop, loop_cleanup, apr_pool_cleanup_null);
    rv = apr_pollset_create(&loop->pollset, (apr_uint32_t)loop->max_conns + 16, pool,
                            APR_POLLSET_NOCOPY | APR_POLLSET_WAKEABLE | APR_POLLSET_NODEFAULT);
    if (rv != APR_SUCCESS) {
        rv = apr_pollset_create(&loop->pollset, (apr_uint32_t)loop->max_conns + 16, pool,
                                APR_POLLSET_NOCOPY | APR_POLLSET_WAKEABLE);
    }
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    /* With epoll and kqueue, closing a descriptor takes it out of the set, and a NOCOPY pollset
     * keeps no state of its own: the remove call before close() can be skipped. */
    loop->close_removes = strcmp(apr_pollset_method_name(loop->pollset), "epoll") == 0 ||
                          strcmp(apr_pollset_method_name(loop->pollset), "kqueue") == 0;
    /* The post queue's mutex lives in the server's pool: other threads lock it. */
    if ((rv = apr_thread_mutex_create(&loop->post_mutex, APR_THREAD_MUTEX_DEFAULT, p)) !=
        APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    loop->logbuf = kz_logbuf_create(server->logger, pool);
    loop->filecache = kz_filecache_create(KZ_FC_ENTRIES, KZ_FC_CONTENT, KZ_FC_FILE_CONTENT, pool);
    loop->zcache = kz_zcache_create(pool); /* freed with the pool */
    loop->upools = apr_hash_make(pool);
    loop->rng =
        ((apr_uint64_t)apr_time_now() << 8) ^ (apr_uint64_t)(id + 1) * 0x9E3779B97F4A7C15ull;
    kz_loop_update_now(loop);
    *out = loop;
    return APR_SUCCESS;
}

/* Adds or removes the listening sockets from the pollset. */
static void loop_set_accepting(kz_loop_t *loop, int on)
{
    if (loop->accepting == on || !loop->listen_pfds) {
        return;
    }
    for (int i = 0; i < loop->listeners->nelts; i++) {
        if (on) {
            apr_pollset_add(loop->pollset, &loop->listen_pfds[i]);
        } else {
            apr_pollset_remove(loop->pollset, &loop->listen_pfds[i]);
        }
    }
    loop->accepting = on;
}

static void loop_add_listeners(kz_loop_t *loop)
{
    loop->listen_pfds = apr_pcalloc(loop->pool, sizeof(apr_pollfd_t) * loop->listeners->nelts);
    for (int i = 0; i < loop->listeners->nelts; i++) {
        apr_pollfd_t *pfd = &loop->listen_pfds[i];
        pfd->p = loop->pool;
        pfd->desc_type = APR_POLL_SOCKET;
        pfd->desc.s = APR_ARRAY_IDX(loop->listeners, i, apr_socket_t *);
        pfd->reqevents = APR_POLLIN;
        pfd->client_data = (void *)listener_tag;
        apr_pollset_add(loop->pollset, pfd);
    }
    loop->accepting = 1;
}

void kz_loop_poll(kz_loop_t *loop, apr_pollfd_t *pfd, apr_int16_t *cur, apr_int16_t events)
{
    if (*cur == events) {
        return;
    }
    if (*cur) {
        apr_pollset_remove(loop->pollset, pfd);
    }
    *cur = events;
    if (events) {
        pfd->reqevents = events;
        apr_pollset_add(loop->pollset, pfd);
    }
}

void kz_loop_unpoll(kz_loop_t *loop, apr_pollfd_t *pfd, apr_int16_t *cur)
{
    if (*cur && !loop->close_removes) {
        apr_pollset_remove(loop->pollset, pfd);
    }
    *cur = 0;
}

void kz_conn_set_events(kz_conn_t *c, apr_int16_t events)
{
    kz_loop_poll(c->loop, &c->pfd, &c->events, events);
}

static kz_conn_t *conn_alloc(kz_loop_t *loop)
{
    kz_conn_t *c = loop->free_conns;

    if (c) {
        loop->free_conns = c->next;
        apr_socket_t *sock = c->sock;
        memset(c, 0, sizeof(*c));
        c->sock = sock;
    } else {
        c = apr_pcalloc(loop->pool, sizeof(*c));
    }
    c->loop = loop;
    return c;
}

/* A full server refuses politely: a short 503 written straight away, then close. One socket
 * object per loop serves every refusal, so an overload allocates nothing. */
static void refuse(kz_loop_t *loop, apr_os_sock_t fd)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                              "Connection: close\r\nRetry-After: 1\r\n\r\n";
    apr_size_t len = sizeof(msg) - 1;

    if (kz_socket_wrap(&loop->refuse_sock, fd, loop->pool) == APR_SUCCESS) {
        apr_socket_send(loop->refuse_sock, msg, &len);
        apr_socket_close(loop->refuse_sock);
    }
}

static void loop_accept(kz_loop_t *loop, apr_socket_t *listener)
{
    for (int i = 0; i < KZ_ACCEPT_BATCH && loop->accepting; i++) {
        kz_accepted_t a;
        apr_status_t rv = kz_listen_accept(&a, listener);
        kz_conn_t *c;

        if (rv != APR_SUCCESS) {
            if (kz_listen_out_of_fds(rv)) {
                /* Out of descriptors: stop accepting for a while rather than spin on it. */
                kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_ERR, 101,
                             "out of file descriptors; pausing accept for 1 s");
                loop_set_accepting(loop, 0);
                loop->accept_resume = loop->now + apr_time_from_sec(1);
            }
            return;
        }
        if (loop->nconns >= loop->max_conns) {
            refuse(loop, a.fd);
            continue;
        }
        c = conn_alloc(loop);
        kz_socket_wrap(&c->sock, a.fd, loop->pool);
        c->fd = a.fd;
        memcpy(c->client_ip, a.ip, sizeof(c->client_ip));
        c->client_port = a.port;
        c->pfd.p = loop->pool;
        c->pfd.desc_type = APR_POLL_SOCKET;
        c->pfd.desc.s = c->sock;
        c->pfd.client_data = c;
        c->open = 1;
        c->next = loop->conns;
        if (loop->conns) {
            loop->conns->prev = c;
        }
        loop->conns = c;
        loop->nconns++;
        kz_conn_start(c);
    }
}

void kz_conn_close(kz_conn_t *c)
{
    kz_loop_t *loop = c->loop;

    if (!c->open) {
        return;
    }
    kz_conn_drop_request(c); /* a request ended by an error or a suspended one: its pool goes */
    c->open = 0;
    kz_loop_unpoll(loop, &c->pfd, &c->events);
    apr_socket_close(c->sock);
    if (c->buf) {
        kz_loop_buf_put(loop, c->buf);
        c->buf = NULL;
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        loop->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    loop->nconns--;
    /* Freed after this poll round: a later event of the same round may still name it. */
    c->next = loop->closed;
    loop->closed = c;
}

static void loop_sweep(kz_loop_t *loop)
{
    kz_conn_t *c = loop->conns, *next;

    for (; c; c = next) {
        next = c->next;
        if (loop->draining && c->state == KZ_CONN_READ_HEAD && c->len == 0 &&
            loop->now >= loop->drain_idle_at) {
            kz_conn_close(c);
        } else if ((c->deadline && loop->now >= c->deadline) ||
                   (c->request_deadline && loop->now >= c->request_deadline)) {
            kz_conn_on_timeout(c);
        }
    }
    if (!loop->accepting && !loop->draining && loop->accept_resume &&
        loop->now >= loop->accept_resume) {
        loop->accept_resume = 0;
        loop_set_accepting(loop, 1);
    }
    kz_upstream_sweep(loop);
    kz_logbuf_flush(loop->logbuf);
}

static void loop_release_closed(kz_loop_t *loop)
{
    while (loop->closed) {
        kz_conn_t *c = loop->closed;
        loop->closed = c->next;
        c->next = loop->free_conns;
        loop->free_conns = c;
    }
}

static void loop_start_draining(kz_loop_t *loop)
{
    loop->draining = 1;
    loop->drain_idle_at = loop->now + apr_time_from_sec(1);
    loop_set_accepting(loop, 0);
    for (int i = 0; i < loop->listeners->nelts; i++) {
        apr_socket_close(APR_ARRAY_IDX(loop->listeners, i, apr_socket_t *));
    }
}

void *APR_THREAD_FUNC kz_loop_main(apr_thread_t *thread, void *data)
{
    kz_loop_t *loop = data;
    apr_time_t stop_at = 0;

    loop_add_listeners(loop);
    for (;;) {
        const apr_pollfd_t *events;
        apr_int32_t n = 0;
        apr_status_t rv;

        rv = apr_pollset_poll(loop->pollset, kz_timers_wait(loop, KZ_SWEEP_INTERVAL), &n, &events);
        kz_loop_update_now(loop);
        if (rv == APR_SUCCESS) {
            for (apr_int32_t i = 0; i < n; i++) {
                if (events[i].client_data == listener_tag) {
                    loop_accept(loop, events[i].desc.s);
                } else if (*(const int *)events[i].client_data == KZ_EV_UPSTREAM) {
                    kz_upstream_on_event(events[i].client_data, events[i].rtnevents);
                } else {
                    kz_conn_t *c = events[i].client_data;
                    if (c->open) {
                        kz_conn_on_event(c, events[i].rtnevents);
                    }
                }
            }
        }
        kz_loop_run_posted(loop);
        kz_timers_run(loop);
        loop_release_closed(loop);
        kz_upstream_release_closed(loop);
        if (apr_atomic_read32(&loop->server->stopping) && !loop->draining) {
            loop_start_draining(loop);
            stop_at = loop->now + loop->cfg->rc->config->global.shutdown_timeout;
        }
        if (loop->now >= loop->next_sweep || loop->draining) {
            loop_sweep(loop);
            loop_release_closed(loop);
            loop->next_sweep = loop->now + KZ_SWEEP_INTERVAL;
        }
        if (loop->draining && (!loop->conns || loop->now >= stop_at)) {
            break;
        }
    }
    while (loop->conns) {
        kz_conn_close(loop->conns);
    }
    loop_release_closed(loop);
    kz_upstream_loop_stop(loop);
    kz_logbuf_flush(loop->logbuf);
    /* A plain return: apr_thread_exit() would unwind through pthread_exit for nothing. */
    return NULL;
}

void kz_loop_release_configs(kz_loop_t *loop)
{
    if (loop->cfg) {
        kz_runconf_release(loop->cfg->rc);
        free(loop->cfg);
        loop->cfg = NULL;
    }
    while (loop->retired) {
        kz_cfgslot_t *slot = loop->retired;
        loop->retired = slot->next;
        kz_runconf_release(slot->rc);
        free(slot);
    }
}

void kz_loop_destroy(kz_loop_t *loop)
{
    kz_loop_release_configs(loop);
    apr_pool_destroy(loop->pool); /* and its allocator, which it owns */
}
