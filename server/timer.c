/*
 * Timers and cross-thread wake-ups of an event loop (kz_module.h): a binary min-heap of
 * deadlines per loop, run after each poll round, and a mutex-guarded queue of callbacks that
 * other threads post, each post waking the loop's pollset. Timers are used only by their loop's
 * thread, so the heap takes no lock; cancelled timers are taken out of the heap at once.
 */
#include "core.h"

#include <stdlib.h>

struct kz_timer {
    apr_time_t when;
    void (*fn)(void *baton);
    void *baton;
    kz_loop_t *loop;
    int idx;               /**< position in the heap, -1 when not in it */
    struct kz_timer *next; /**< free list */
};

typedef struct kz_post {
    void (*fn)(void *baton);
    void *baton;
    struct kz_post *next;
} kz_post_t;

static void heap_swap(kz_timers_t *t, int a, int b)
{
    kz_timer_t *x = t->heap[a];

    t->heap[a] = t->heap[b];
    t->heap[b] = x;
    t->heap[a]->idx = a;
    t->heap[b]->idx = b;
}

static void heap_up(kz_timers_t *t, int i)
{
    while (i > 0 && t->heap[(i - 1) / 2]->when > t->heap[i]->when) {
        heap_swap(t, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(kz_timers_t *t, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;

        if (l < t->n && t->heap[l]->when < t->heap[m]->when) {
            m = l;
        }
        if (r < t->n && t->heap[r]->when < t->heap[m]->when) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(t, i, m);
        i = m;
    }
}

static void heap_remove(kz_timers_t *t, int i)
{
    t->heap[i]->idx = -1;
    if (--t->n > i) {
        t->heap[i] = t->heap[t->n];
        t->heap[i]->idx = i;
        heap_up(t, i);
        heap_down(t, i);
    }
}

KZ_API kz_timer_t *kz_timer_add(kz_loop_t *loop, apr_interval_time_t delay, void (*fn)(void *baton),
                                void *baton)
{
    kz_timers_t *t = &loop->timers;
    kz_timer_t *tm = t->free;

    if (tm) {
        t->free = tm->next;
    } else {
        tm = apr_palloc(loop->pool, sizeof(*tm));
    }
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        kz_timer_t **heap = realloc(t->heap, (size_t)cap * sizeof(*heap));
        if (!heap) {
            abort(); /* as a pool allocation failure: out of memory */
        }
        t->heap = heap;
        t->cap = cap;
    }
    tm->when = loop->now + (delay > 0 ? delay : 0);
    tm->fn = fn;
    tm->baton = baton;
    tm->loop = loop;
    tm->idx = t->n;
    t->heap[t->n++] = tm;
    heap_up(t, tm->idx);
    return tm;
}

KZ_API void kz_timer_cancel(kz_timer_t *tm)
{
    kz_timers_t *t;

    if (!tm || tm->idx < 0) {
        return;
    }
    t = &tm->loop->timers;
    heap_remove(t, tm->idx);
    tm->next = t->free;
    t->free = tm;
}

apr_interval_time_t kz_timers_wait(kz_loop_t *loop, apr_interval_time_t max)
{
    kz_timers_t *t = &loop->timers;
    apr_interval_time_t left;

    if (t->n == 0) {
        return max;
    }
    left = t->heap[0]->when - loop->now;
    return left < 0 ? 0 : left < max ? left : max;
}

void kz_timers_run(kz_loop_t *loop)
{
    kz_timers_t *t = &loop->timers;
    /* Only what was due when the run began: a callback that adds a timer of 0 waits a turn. */
    apr_time_t now = loop->now;

    while (t->n > 0 && t->heap[0]->when <= now) {
        kz_timer_t *tm = t->heap[0];
        void (*fn)(void *) = tm->fn;
        void *baton = tm->baton;

        heap_remove(t, 0);
        tm->next = t->free;
        t->free = tm;
        fn(baton);
    }
}

KZ_API apr_status_t kz_loop_post(kz_loop_t *loop, void (*fn)(void *baton), void *baton)
{
    kz_post_t *item = malloc(sizeof(*item));

    if (!item) {
        return APR_ENOMEM;
    }
    item->fn = fn;
    item->baton = baton;
    item->next = NULL;
    apr_thread_mutex_lock(loop->post_mutex);
    if (loop->post_tail) {
        loop->post_tail->next = item;
    } else {
        loop->post_head = item;
    }
    loop->post_tail = item;
    apr_thread_mutex_unlock(loop->post_mutex);
    return apr_pollset_wakeup(loop->pollset);
}

void kz_loop_run_posted(kz_loop_t *loop)
{
    kz_post_t *item;

    if (!loop->post_head) {
        return; /* a racy peek: a post that lands now also wakes the next poll */
    }
    apr_thread_mutex_lock(loop->post_mutex);
    item = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    apr_thread_mutex_unlock(loop->post_mutex);
    while (item) {
        kz_post_t *next = item->next;
        item->fn(item->baton);
        free(item);
        item = next;
    }
}

void kz_timers_destroy(kz_loop_t *loop)
{
    free(loop->timers.heap);
    loop->timers.heap = NULL;
    loop->timers.n = loop->timers.cap = 0;
    while (loop->post_head) {
        kz_post_t *next = loop->post_head->next;
        free(loop->post_head);
        loop->post_head = next;
    }
}
