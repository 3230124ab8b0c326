/*
 * A module for the integration tests of the module interface: it suspends requests and resumes
 * them from a timer or from another thread, declines after a wait, returns statuses (valid and
 * not), takes CONNECT and Upgrade requests, and leaves a mark from its response hook.
 */
#include <kz_module.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <stdlib.h>
#include <string.h>

extern const kz_module_t kz_module_kztest;

static const kz_property_t kztest_properties[] = {
    {"kztestDelay", KZ_PT_INT, KZ_SCOPE_ANY, "20", NULL, 0, 10000,
     "Milliseconds the kztest module waits before answering /kztest/sleep", NULL},
};

typedef struct kztest_conf {
    apr_interval_time_t delay;
} kztest_conf_t;

static void *kztest_create_conf(const kz_module_t *self, const kz_conf_t *conf, apr_pool_t *p)
{
    const kz_value_t *v = kz_conf_get(conf, "kztestDelay");
    kztest_conf_t *c = apr_palloc(p, sizeof(*c));

    c->delay = apr_time_from_msec(v ? v->i : 20);
    return c;
}

/* One waiting request: what the timer or thread needs, cancelled with the request's pool. */
typedef struct wait {
    kz_request_t *r;
    kz_timer_t *timer;
    int rc; /* what to resume with */
} wait_t;

static apr_status_t wait_cleanup(void *data)
{
    wait_t *w = data;

    kz_timer_cancel(w->timer); /* the request ended without us (timeout, stop) */
    return APR_SUCCESS;
}

static void answer(kz_request_t *r, const char *text)
{
    kz_response_status(r, 200);
    kz_response_header(r, "Content-Type", "text/plain");
    kz_response_body_mem(r, text, strlen(text));
}

static void on_timer(void *baton)
{
    wait_t *w = baton;
    kz_request_t *r = w->r;

    w->timer = NULL;
    apr_pool_cleanup_kill(kz_request_pool(r), w, wait_cleanup);
    if (w->rc == KZ_DONE) {
        answer(r, apr_psprintf(kz_request_pool(r), "slept for %s?%s", kz_request_path(r),
                               kz_request_query(r) ? kz_request_query(r) : ""));
    }
    kz_request_resume(r, w->rc);
}

static int suspend_for(kz_request_t *r, apr_interval_time_t delay, int rc)
{
    wait_t *w = apr_pcalloc(kz_request_pool(r), sizeof(*w));

    w->r = r;
    w->rc = rc;
    w->timer = kz_timer_add(kz_request_loop(r), delay, on_timer, w);
    apr_pool_cleanup_register(kz_request_pool(r), w, wait_cleanup, apr_pool_cleanup_null);
    return KZ_SUSPENDED;
}

/* Work on another thread: it posts back to the loop, which resumes the request. */
typedef struct job {
    kz_loop_t *loop;
    kz_request_t *r;
} job_t;

static void job_done(void *baton)
{
    job_t *j = baton;

    answer(j->r, "done on another thread");
    kz_request_resume(j->r, KZ_DONE);
    free(j);
}

static void *APR_THREAD_FUNC job_run(apr_thread_t *t, void *baton)
{
    job_t *j = baton;

    apr_sleep(apr_time_from_msec(10));
    kz_loop_post(j->loop, job_done, j);
    return NULL;
}

static int start_job(kz_request_t *r)
{
    job_t *j = malloc(sizeof(*j));
    apr_threadattr_t *attr;
    apr_thread_t *t;

    j->loop = kz_request_loop(r);
    j->r = r;
    apr_threadattr_create(&attr, kz_request_pool(r));
    apr_threadattr_detach_set(attr, 1);
    if (apr_thread_create(&t, attr, job_run, j, kz_request_pool(r)) != APR_SUCCESS) {
        free(j);
        return 503;
    }
    return KZ_SUSPENDED;
}

static int kztest_handle(kz_request_t *r)
{
    const kztest_conf_t *c = kz_request_module_conf(r, &kz_module_kztest);
    const char *path = kz_request_path(r);

    if (!strcmp(path, "/kztest/sleep")) {
        return suspend_for(r, c->delay, KZ_DONE);
    }
    if (!strcmp(path, "/kztest/decline-later")) {
        return suspend_for(r, c->delay, KZ_DECLINED);
    }
    if (!strcmp(path, "/kztest/thread")) {
        return start_job(r);
    }
    if (!strcmp(path, "/kztest/never")) {
        return suspend_for(r, apr_time_from_sec(3600), KZ_DONE);
    }
    if (!strcmp(path, "/kztest/status")) {
        kz_response_header(r, "Retry-After", "7");
        return 503;
    }
    if (!strcmp(path, "/kztest/bad")) {
        return 42;
    }
    if (!strcmp(path, "/hello")) {
        answer(r, "kztest says hello");
        return KZ_DONE;
    }
    return KZ_DECLINED;
}

static int kztest_connect(kz_request_t *r)
{
    const char *up = kz_request_header(r, "Upgrade");

    if (!strcmp(kz_request_method(r), "CONNECT")) {
        kz_request_log(r, KZ_LOG_NOTICE, 1900, "kztest saw CONNECT %s", kz_request_path(r));
        return 403;
    }
    if (up && !strcmp(up, "kztest")) {
        answer(r, "upgrade hook saw kztest");
        return KZ_DONE;
    }
    return KZ_DECLINED;
}

static void kztest_on_response(kz_request_t *r)
{
    kz_response_header(r, "X-Hook", "kztest");
}

KZ_MODULE_EXPORT const kz_module_t kz_module_kztest = {
    KZ_MODULE_HEADER_INIT("kztest", "0.1"),
    .properties = kztest_properties,
    .nproperties = 1,
    .create_conf = kztest_create_conf,
    .handle = kztest_handle,
    .on_response = kztest_on_response,
    .handle_connect = kztest_connect,
};
