/*
 * Tests of server/work.c (blocking work on pool threads, handed back to the request's loop)
 * and of the core stages' suspension in server/request.c: a job's result reaches a live
 * request, a request that ended meanwhile is never touched and the job is still released, the
 * pool's bounds, jobs released when the pool stops, and the nonStandardCodes stage suspending
 * for a password verification and running again with the result.
 */
#include "config.h"
#include "core.h"
#include "kz_test.h"
#include "kz_test_core.h"
#include "ncodes.h"
#include "work.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <string.h>

typedef kz_test_fixture_t fixture_t;

/* A loop that can take posts (no thread runs it: the test runs what was posted). */
static void fixture_init(fixture_t *f, int threads, int max_pending)
{
    kz_test_fixture_link(f);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&f->r.pool, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(
        apr_thread_mutex_create(&f->loop.post_mutex, APR_THREAD_MUTEX_DEFAULT, kz_test_pool),
        APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(
        apr_pollset_create(&f->loop.pollset, 4, kz_test_pool, APR_POLLSET_WAKEABLE), APR_SUCCESS);
    if (threads > 0) {
        CU_ASSERT_EQUAL_FATAL(kz_workpool_create(&f->server.workpool, threads, max_pending),
                              APR_SUCCESS);
    }
}

/* Waits (boundedly) until something was posted to the loop; returns 1 when it was. */
static int wait_post(fixture_t *f)
{
    for (int i = 0; i < 5000; i++) {
        int have;

        apr_thread_mutex_lock(f->loop.post_mutex);
        have = f->loop.post_head != NULL;
        apr_thread_mutex_unlock(f->loop.post_mutex);
        if (have) {
            return 1;
        }
        apr_sleep(1000);
    }
    return 0;
}

static void fixture_end(fixture_t *f)
{
    kz_workpool_destroy(f->server.workpool);
    kz_timers_destroy(&f->loop);
}

/* ---- jobs that record what happened --------------------------------------------------- */

typedef struct job {
    int in, out;
    volatile apr_uint32_t *gate; /* run waits while it is 0, when set */
    volatile apr_uint32_t started, ran;
} job_t;

static int done_calls, release_calls;
static kz_request_t *done_r;
static int done_out;

static void job_run(void *data, apr_pool_t *scratch)
{
    job_t *job = data;

    apr_atomic_set32(&job->started, 1);
    for (int i = 0; job->gate && !apr_atomic_read32(job->gate) && i < 5000; i++) {
        apr_sleep(1000);
    }
    job->out = job->in * 3;
    apr_atomic_set32(&job->ran, 1);
}

static void job_done(kz_request_t *r, void *data)
{
    done_calls++;
    done_r = r;
    done_out = ((job_t *)data)->out;
}

static void job_release(void *data)
{
    release_calls++;
}

static void reset_counts(void)
{
    done_calls = release_calls = done_out = 0;
    done_r = NULL;
}

static void test_result_reaches_request(void)
{
    fixture_t f;
    job_t job = {14, 0, NULL, 0, 0};

    reset_counts();
    fixture_init(&f, 2, 8);
    CU_ASSERT_EQUAL_FATAL(kz_work_submit(&f.r, job_run, job_done, job_release, &job), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(wait_post(&f), 1);
    CU_ASSERT_EQUAL(done_calls, 0); /* nothing happens off the loop */
    kz_loop_run_posted(&f.loop);
    CU_ASSERT_EQUAL(done_calls, 1);
    CU_ASSERT_PTR_EQUAL(done_r, &f.r);
    CU_ASSERT_EQUAL(done_out, 42);
    CU_ASSERT_EQUAL(release_calls, 1);
    apr_pool_destroy(f.r.pool); /* its cleanup was taken off: nothing more runs */
    CU_ASSERT_EQUAL(release_calls, 1);
    fixture_end(&f);
}

static void test_request_ends_first(void)
{
    fixture_t f;
    volatile apr_uint32_t gate = 0;
    job_t job = {5, 0, &gate, 0, 0};

    reset_counts();
    fixture_init(&f, 1, 8);
    CU_ASSERT_EQUAL_FATAL(kz_work_submit(&f.r, job_run, job_done, job_release, &job), APR_SUCCESS);
    apr_pool_destroy(f.r.pool); /* a 504 or a stop while the job runs */
    apr_atomic_set32(&gate, 1);
    CU_ASSERT_EQUAL_FATAL(wait_post(&f), 1);
    CU_ASSERT_EQUAL(apr_atomic_read32(&job.ran), 1);
    kz_loop_run_posted(&f.loop);
    CU_ASSERT_EQUAL(done_calls, 0);
    CU_ASSERT_EQUAL(release_calls, 1);
    fixture_end(&f);
}

static void test_bounds(void)
{
    fixture_t f;
    volatile apr_uint32_t gate = 0;
    job_t a = {1, 0, &gate, 0, 0}, b = {2, 0, NULL, 0, 0};

    reset_counts();
    fixture_init(&f, 0, 0);
    CU_ASSERT_EQUAL(kz_work_submit(&f.r, job_run, job_done, job_release, &a), APR_ENOTIMPL);
    fixture_end(&f);
    apr_pool_destroy(f.r.pool);

    fixture_init(&f, 1, 1);
    CU_ASSERT_EQUAL_FATAL(kz_work_submit(&f.r, job_run, job_done, job_release, &a), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_work_submit(&f.r, job_run, job_done, job_release, &b), APR_EAGAIN);
    apr_atomic_set32(&gate, 1);
    CU_ASSERT_EQUAL_FATAL(wait_post(&f), 1);
    kz_loop_run_posted(&f.loop);
    CU_ASSERT_EQUAL(done_out, 3);
    /* the slot is free again */
    CU_ASSERT_EQUAL_FATAL(kz_work_submit(&f.r, job_run, job_done, job_release, &b), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(wait_post(&f), 1);
    kz_loop_run_posted(&f.loop);
    CU_ASSERT_EQUAL(done_out, 6);
    CU_ASSERT_EQUAL(done_calls, 2);
    CU_ASSERT_EQUAL(release_calls, 2);
    CU_ASSERT_EQUAL(b.ran, 1);
    apr_pool_destroy(f.r.pool);
    fixture_end(&f);
}

/* A thread that opens a's gate a little later, while the pool is being stopped. */
static void *APR_THREAD_FUNC open_gate_later(apr_thread_t *t, void *gate)
{
    apr_sleep(apr_time_from_msec(100));
    apr_atomic_set32(gate, 1);
    return NULL;
}

static void test_stop_releases_all(void)
{
    fixture_t f;
    volatile apr_uint32_t gate = 0;
    job_t a = {1, 0, &gate, 0, 0}, b = {2, 0, NULL, 0, 0};
    apr_thread_t *opener;
    apr_status_t rv;

    reset_counts();
    fixture_init(&f, 1, 8);
    CU_ASSERT_EQUAL_FATAL(kz_work_submit(&f.r, job_run, job_done, job_release, &a), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(kz_work_submit(&f.r, job_run, job_done, job_release, &b), APR_SUCCESS);
    for (int i = 0; i < 5000 && !apr_atomic_read32(&a.started); i++) {
        apr_sleep(1000);
    }
    CU_ASSERT_EQUAL_FATAL(apr_atomic_read32(&a.started), 1);
    apr_pool_destroy(f.r.pool); /* the loop ended its requests */
    CU_ASSERT_EQUAL_FATAL(
        apr_thread_create(&opener, NULL, open_gate_later, (void *)&gate, kz_test_pool),
        APR_SUCCESS);
    /* Waits for a (running); b never runs; a's answer goes to a loop that runs no more. */
    kz_workpool_destroy(f.server.workpool);
    f.server.workpool = NULL;
    CU_ASSERT_EQUAL(apr_atomic_read32(&a.ran), 1);
    CU_ASSERT_EQUAL(apr_atomic_read32(&b.ran), 0);
    CU_ASSERT_EQUAL(done_calls, 0);
    CU_ASSERT_EQUAL(release_calls, 2);
    apr_thread_join(&rv, opener);
    fixture_end(&f); /* drops the posts without running them */
}

/* ---- the nonStandardCodes stage suspends and runs again -------------------------------- */

#define SALT "a2FycGFjei1zYWx0LTE2Yg"

static kz_request_t *auth_request(fixture_t *f, const char *head)
{
    static const char yaml[] = "global:\n"
                               "  users:\n"
                               "    - name: alice\n"
                               "      pass: '$pbkdf2-sha256$i=1000,l=32$" SALT
                               "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8'\n"
                               "  nonStandardCodes:\n"
                               "    - {scode: 401, url: /p}\n"
                               "    - {scode: 410, url: /p}\n";
    kz_config_t *cfg = NULL;
    kz_diag_t *diag = NULL;
    kz_request_t *r = &f->r;

    fixture_init(f, 1, 8);
    CU_ASSERT_EQUAL_FATAL(kz_config_load_string(&cfg, &diag, "t.yaml", yaml, kz_test_pool),
                          APR_SUCCESS);
    f->rc.config = cfg;
    r->rc = &f->rc;
    r->conf = cfg->global_conf;
    r->headers = apr_array_make(r->pool, 4, sizeof(kz_header_pair_t));
    r->client_ip = "127.0.0.1";
    apr_cpystrn(f->buf, head, sizeof(f->buf));
    CU_ASSERT_EQUAL_FATAL(kz_http_parse_head(&r->head, f->buf, strlen(f->buf), f->fields, 8), 0);
    CU_ASSERT_EQUAL_FATAL(kz_http_analyze(&r->info, &r->head), 0);
    r->method = r->head.method;
    r->target = r->head.target;
    return r;
}

static const struct {
    const char *authorization; /* alice's password is "correct horse" */
    apr_status_t verified;     /* what the (simulated) verification says */
    int resume_rc;             /* what the stage is resumed with */
    int status;
    const char *user;
    const char *why;
} stage_cases[] = {
    {"Basic YWxpY2U6d3Jvbmc=", APR_SUCCESS, KZ_DECLINED, 410, "alice",
     "runs again and takes the stored result (a wrong password, said to match)"},
    {"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", APR_ENOMEM, KZ_DECLINED, 500, NULL,
     "a verification that could not run"},
    {"Basic YWxpY2U6d3Jvbmc=", APR_SUCCESS, 503, 503, NULL, "resumed with a status"},
};

static void test_stage_suspends(void)
{
    for (size_t i = 0; i < sizeof(stage_cases) / sizeof(*stage_cases); i++) {
        fixture_t f;
        kz_request_t *r =
            auth_request(&f, apr_psprintf(kz_test_pool,
                                          "GET /p HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n",
                                          stage_cases[i].authorization));

        reset_counts();
        CU_ASSERT_EQUAL(kz_request_handle(r), KZ_SUSPENDED);
        CU_ASSERT_EQUAL(r->suspended, 1);
        CU_ASSERT_EQUAL(r->in_stage, 1);
        CU_ASSERT_EQUAL(r->stage_next, 4); /* clientip, redirect, blocklist, rewrite, ncodes */
        CU_ASSERT_PTR_NOT_NULL_FATAL(r->auth_state);
        CU_ASSERT_PTR_NULL(r->user);
        /* What the job's answer does on the loop, with a result of the test's choice. */
        kz_auth_known_add(r->auth_state, 0, stage_cases[i].verified);
        CU_ASSERT_EQUAL(kz_request_continue(r, stage_cases[i].resume_rc), KZ_DONE);
        CU_ASSERT_EQUAL(r->suspended, 0);
        CU_ASSERT_EQUAL(r->status, stage_cases[i].status);
        if (stage_cases[i].user) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(r->user);
            CU_ASSERT_STRING_EQUAL(r->user, stage_cases[i].user);
        } else {
            CU_ASSERT_PTR_NULL(r->user);
        }
        if (r->status != stage_cases[i].status) {
            fprintf(stderr, "\n  %s: got %d\n", stage_cases[i].why, r->status);
        }
        /* The real job ends after the request: released, never delivered. */
        apr_pool_destroy(r->pool);
        CU_ASSERT_EQUAL_FATAL(wait_post(&f), 1);
        kz_loop_run_posted(&f.loop);
        fixture_end(&f);
    }
}

static const kz_test_case_t cases[] = {
    {"result reaches the request", test_result_reaches_request},
    {"request ends first", test_request_ends_first},
    {"bounds", test_bounds},
    {"stop releases all", test_stop_releases_all},
    {"stage suspends", test_stage_suspends},
    {NULL, NULL},
};

KZ_TEST_SUITE(work, cases)
