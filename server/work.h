/*
 * Blocking work off the event loops (DESIGN.md: nothing blocks a loop): a small pool of threads
 * (APR-util's apr_thread_pool) that runs a job for a request, then hands the job back to the
 * request's loop with kz_loop_post(). A request may end while its job runs (its `timeout`
 * passes, the server stops): the job then never touches it again, and is released all the same.
 */
#ifndef KZ_WORK_H
#define KZ_WORK_H

#include "core.h"

typedef struct kz_workpool kz_workpool_t;

/** Most jobs queued or running at once; past it kz_work_submit() refuses (the caller answers
 * 503 rather than queueing without bound or blocking its loop). */
#define KZ_WORK_MAX_PENDING 256

/** Starts `threads` threads (1 to 64) that take at most max_pending jobs at once. */
apr_status_t kz_workpool_create(kz_workpool_t **out, int threads, int max_pending);

/**
 * Waits for the jobs running, then releases every job still held (queued, or whose answer was
 * posted to a loop that ended first). Call after every loop has ended, before the loops are
 * destroyed (a running job still posts to its loop).
 */
void kz_workpool_destroy(kz_workpool_t *wp);

/**
 * Runs run(job, scratch) on a pool thread (scratch: a pool for that run only), then, on r's loop,
 * done(r, job) if r is still alive, and in every case release(job), exactly once, on the loop
 * (or at kz_workpool_destroy()). run must touch nothing but the job: copy its inputs into it
 * (not pointers into r's pool). Returns APR_SUCCESS, or APR_ENOTIMPL (no pool: unit tests, a
 * pool that failed to start), APR_EAGAIN (too many jobs) or another error: the job was then not
 * taken, and the caller still owns it.
 */
apr_status_t kz_work_submit(kz_request_t *r, void (*run)(void *job, apr_pool_t *scratch),
                            void (*done)(kz_request_t *r, void *job), void (*release)(void *job),
                            void *job);

#endif
