/*
 * Blocking work off the event loops (work.h). Each job travels in a malloc'ed holder: submitted
 * on the loop, run on a pool thread, handed back with kz_loop_post() and finished on the loop.
 * The request's side is a cleanup on its pool that only forgets the request (the holder keeps
 * going), so everything that reads or writes holder->r happens on the loop's thread and needs
 * no lock; the thread reads only what was set before the job was queued. The holder is freed
 * on the loop when the job comes back, which is always after the request's side is done with
 * it. Holders are also listed in the pool, so that a job that never ran, or whose answer was
 * posted to a loop that had already ended, is still released when the server stops.
 */
#include "work.h"

#include <apr_atomic.h>
#include <apr_thread_mutex.h>
#include <apr_thread_pool.h>

#include <stdlib.h>

typedef struct kz_work kz_work_t;

struct kz_workpool {
    apr_pool_t *pool; /* its own allocator: the threads' pool must not share the server's */
    apr_thread_pool_t *threads;
    apr_thread_mutex_t *mutex; /* guards live */
    kz_work_t *live;
    volatile apr_uint32_t pending; /* queued or running */
    apr_uint32_t max_pending;
};

struct kz_work {
    kz_workpool_t *wp;
    kz_work_t *prev, *next; /* wp->live */
    kz_request_t *r;        /* NULL once the request has ended (loop thread only) */
    kz_loop_t *loop;
    void (*run)(void *job, apr_pool_t *scratch);
    void (*done)(kz_request_t *r, void *job);
    void (*release)(void *job);
    void *job;
};

apr_status_t kz_workpool_create(kz_workpool_t **out, int threads, int max_pending)
{
    apr_pool_t *p;
    apr_thread_mutex_t *alloc_mutex;
    kz_workpool_t *wp;
    apr_status_t rv;

    *out = NULL;
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    wp = apr_pcalloc(p, sizeof(*wp));
    wp->pool = p;
    wp->max_pending = max_pending > 0 ? (apr_uint32_t)max_pending : 1;
    /* Every thread is started now and none is ever reaped (idle max = threads), so no loop
     * thread creates one later; the allocator is locked all the same, as loops queue tasks. */
    if ((rv = apr_thread_mutex_create(&alloc_mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_thread_mutex_create(&wp->mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    apr_allocator_mutex_set(apr_pool_allocator_get(p), alloc_mutex);
    rv = apr_thread_pool_create(&wp->threads, (apr_size_t)threads, (apr_size_t)threads, p);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    apr_thread_pool_idle_max_set(wp->threads, (apr_size_t)threads);
    *out = wp;
    return APR_SUCCESS;
}

static void work_unlink(kz_work_t *w)
{
    kz_workpool_t *wp = w->wp;

    apr_thread_mutex_lock(wp->mutex);
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        wp->live = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    apr_thread_mutex_unlock(wp->mutex);
}

void kz_workpool_destroy(kz_workpool_t *wp)
{
    if (!wp) {
        return;
    }
    /* Lets the running jobs finish (and post); queued ones are dropped, their holders stay. */
    apr_thread_pool_destroy(wp->threads);
    while (wp->live) {
        kz_work_t *w = wp->live;

        wp->live = w->next;
        w->release(w->job);
        free(w);
    }
    apr_pool_destroy(wp->pool);
}

/* The request's pool is going: the job must not reach the request any more. */
static apr_status_t work_forget(void *data)
{
    kz_work_t *w = data;

    w->r = NULL;
    return APR_SUCCESS;
}

/* On the loop: the job is back. */
static void work_done(void *data)
{
    kz_work_t *w = data;

    if (w->r) {
        apr_pool_cleanup_kill(w->r->pool, w, work_forget);
        w->done(w->r, w->job); /* may end the request: r is not touched after */
    }
    work_unlink(w);
    w->release(w->job);
    free(w);
}

/* On a pool thread. */
static void *APR_THREAD_FUNC work_thread(apr_thread_t *thread, void *data)
{
    kz_work_t *w = data;
    apr_pool_t *scratch;

    if (apr_pool_create_unmanaged_ex(&scratch, NULL, NULL) == APR_SUCCESS) {
        w->run(w->job, scratch);
        apr_pool_destroy(scratch);
    } else {
        w->run(w->job, NULL);
    }
    apr_atomic_dec32(&w->wp->pending);
    /* Only a failed allocation keeps the post from being queued: the holder then waits in the
     * list for the server's stop, and the request for its `timeout`. */
    kz_loop_post(w->loop, work_done, w);
    return NULL;
}

apr_status_t kz_work_submit(kz_request_t *r, void (*run)(void *job, apr_pool_t *scratch),
                            void (*done)(kz_request_t *r, void *job), void (*release)(void *job),
                            void *job)
{
    kz_workpool_t *wp = r->conn->loop->server->workpool;
    kz_work_t *w;
    apr_status_t rv;

    if (!wp) {
        return APR_ENOTIMPL;
    }
    if (apr_atomic_inc32(&wp->pending) >= wp->max_pending) {
        apr_atomic_dec32(&wp->pending);
        return APR_EAGAIN;
    }
    if (!(w = calloc(1, sizeof(*w)))) {
        apr_atomic_dec32(&wp->pending);
        return APR_ENOMEM;
    }
    *w = (kz_work_t){wp, NULL, NULL, r, r->conn->loop, run, done, release, job};
    apr_thread_mutex_lock(wp->mutex);
    w->next = wp->live;
    if (wp->live) {
        wp->live->prev = w;
    }
    wp->live = w;
    apr_thread_mutex_unlock(wp->mutex);
    apr_pool_cleanup_register(r->pool, w, work_forget, apr_pool_cleanup_null);
    rv = apr_thread_pool_push(wp->threads, work_thread, w, APR_THREAD_TASK_PRIORITY_NORMAL, NULL);
    if (rv != APR_SUCCESS) {
        apr_pool_cleanup_kill(r->pool, w, work_forget);
        work_unlink(w);
        free(w);
        apr_atomic_dec32(&wp->pending);
    }
    return rv;
}
