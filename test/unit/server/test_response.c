/*
 * Tests of server/response.c: the response head assembled for each framing case (RFC 9112 §6.3,
 * §9.3; RFC 9110 §6.4.1), customHeaders only when absent, the Server field, error pages.
 */
#include "core.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <string.h>

typedef struct fixture {
    kz_loop_t loop;
    kz_conn_t conn;
    kz_config_t config;
    kz_runconf_t rc;
    kz_conf_t conf;
    kz_request_t r;
} fixture_t;

static kz_request_t *make_request(fixture_t *f, const char *server, int version)
{
    memset(f, 0, sizeof(*f));
    strcpy(f->loop.date, "Thu, 26 Nov 2026 04:00:00 GMT");
    f->conn.loop = &f->loop;
    f->config.global.server_header = server;
    f->rc.config = &f->config;
    f->conf.custom_headers = apr_array_make(kz_test_pool, 2, sizeof(kz_header_pair_t));
    f->r.pool = kz_test_pool;
    f->r.conn = &f->conn;
    f->r.rc = &f->rc;
    f->r.conf = &f->conf;
    f->r.head.version = version;
    f->r.headers = apr_array_make(kz_test_pool, 4, sizeof(kz_header_pair_t));
    return &f->r;
}

static const char *head_of(const kz_request_t *r)
{
    return apr_pstrmemdup(kz_test_pool, r->out[0].data, (apr_size_t)r->out[0].len);
}

static void set_body(kz_request_t *r, const char *body)
{
    r->status = 200;
    kz_response_body_mem(r, body, strlen(body));
    kz_response_header(r, "Content-Type", "text/plain");
}

static void test_framing(void)
{
    static const struct {
        const char *name;
        int version, close, head_only, status;
        const char *want;
        int niov;
    } rows[] = {
        {"1.1 keep-alive", 11, 0, 0, 200,
         "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\nServer: Karpacz\r\n"
         "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
         2},
        {"1.0 keep-alive", 10, 0, 0, 200,
         "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\nServer: Karpacz\r\n"
         "Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
         2},
        {"close", 11, 1, 0, 200,
         "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\nServer: Karpacz\r\n"
         "Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
         2},
        {"HEAD keeps Content-Length, sends no body", 11, 0, 1, 200,
         "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\nServer: Karpacz\r\n"
         "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
         1},
        {"204 has no Content-Length", 11, 0, 0, 204,
         "HTTP/1.1 204 No Content\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\nServer: Karpacz\r\n"
         "Content-Type: text/plain\r\n\r\n",
         1},
        {"304 has no Content-Length", 11, 0, 0, 304,
         "HTTP/1.1 304 Not Modified\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\n"
         "Server: Karpacz\r\nContent-Type: text/plain\r\n\r\n",
         1},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture_t f;
        kz_request_t *r = make_request(&f, "Karpacz", rows[i].version);

        set_body(r, "hello");
        r->status = rows[i].status;
        r->close = rows[i].close;
        r->head_only = rows[i].head_only;
        kz_response_prepare(r);
        CU_ASSERT_STRING_EQUAL(head_of(r), rows[i].want);
        CU_ASSERT_EQUAL(r->nout, rows[i].niov);
        if (rows[i].niov == 2) {
            CU_ASSERT_EQUAL(r->out[1].len, 5);
            CU_ASSERT_EQUAL(r->out[1].framing, 0);
        }
    }
}

static void test_custom_headers_and_server(void)
{
    fixture_t f;
    kz_request_t *r = make_request(&f, "", 11);
    kz_header_pair_t *h;

    h = apr_array_push(f.conf.custom_headers);
    h->name = "X-Frame-Options";
    h->value = "DENY";
    h = apr_array_push(f.conf.custom_headers);
    h->name = "content-type"; /* present already, in another case: not added */
    h->value = "text/evil";
    set_body(r, "hello");
    kz_response_prepare(r);
    CU_ASSERT_STRING_EQUAL(head_of(r), "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 04:00:00 GMT\r\n"
                                       "Content-Type: text/plain\r\nX-Frame-Options: DENY\r\n"
                                       "Content-Length: 5\r\n\r\n");
}

static void test_error_pages(void)
{
    fixture_t f;
    kz_request_t *r = make_request(&f, "Karpacz", 11);

    f.conf.admin_email = "admin@example.test";
    set_body(r, "will be replaced");
    kz_response_error(r, 404);
    CU_ASSERT_EQUAL(r->status, 404);
    CU_ASSERT_EQUAL(r->headers->nelts, 1); /* the handler's fields are dropped */
    CU_ASSERT_STRING_EQUAL(kz_response_header_get(r, "content-type"), "text/html; charset=utf-8");
    CU_ASSERT_PTR_NOT_NULL(strstr(r->segs[0].data, "404 Not Found"));
    CU_ASSERT_PTR_NULL(strstr(r->segs[0].data, "admin@example.test"));

    r = make_request(&f, "Karpacz", 11);
    f.conf.admin_email = "admin@example.test";
    kz_response_error(r, 500);
    CU_ASSERT_PTR_NOT_NULL(strstr(r->segs[0].data, "admin@example.test"));
    kz_response_prepare(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(head_of(r), "HTTP/1.1 500 Internal Server Error\r\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(head_of(r),
               apr_psprintf(kz_test_pool, "Content-Length: %" APR_OFF_T_FMT "\r\n", r->body_len)));
}

static apr_status_t no_pull(kz_request_t *r, void *baton, const char **data, apr_size_t *len)
{
    return APR_EOF;
}

/* A streamed body of unknown length: chunked for HTTP/1.1, close-delimited for HTTP/1.0; a
 * known length keeps Content-Length; segments keep their order and add up. */
static void test_body_framing(void)
{
    static const struct {
        int version;
        apr_off_t stream_len;
        const char *want_field;
        int chunked, close;
    } rows[] = {
        {11, -1, "Transfer-Encoding: chunked\r\n", 1, 0},
        {10, -1, "Connection: close\r\n", 0, 1},
        {11, 7, "Content-Length: 12\r\n", 0, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture_t f;
        kz_request_t *r = make_request(&f, "Karpacz", rows[i].version);

        r->status = 200;
        kz_response_body_add_mem(r, "ab", 2);
        kz_response_body_add_mem(r, "", 0); /* ignored: an empty segment never advances */
        kz_response_body_add_mem(r, "cde", 3);
        CU_ASSERT_EQUAL(r->nsegs, 2);
        kz_response_body_stream(r, no_pull, NULL, rows[i].stream_len);
        kz_response_prepare(r);
        CU_ASSERT_PTR_NOT_NULL(strstr(head_of(r), rows[i].want_field));
        CU_ASSERT_EQUAL(r->chunked_out, rows[i].chunked);
        CU_ASSERT_EQUAL(r->close, rows[i].close);
        CU_ASSERT_EQUAL(r->nout, 3);
        CU_ASSERT_STRING_EQUAL(apr_pstrmemdup(kz_test_pool, r->out[2].data, 3), "cde");
        CU_ASSERT_EQUAL(r->pull_done, 0);
    }
}

/* Segments beyond the inline ones grow the array in the request pool, order kept. */
static void test_many_segments(void)
{
    fixture_t f;
    kz_request_t *r = make_request(&f, "Karpacz", 11);
    static const char digits[] = "0123456789";

    for (int i = 0; i < 10; i++) {
        kz_response_body_add_mem(r, digits + i, 1);
    }
    CU_ASSERT_EQUAL(r->nsegs, 10);
    CU_ASSERT_EQUAL(r->body_len, 10);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(r->segs[i].data[0], '0' + i);
    }
    r->head_only = 1;
    kz_response_prepare(r);
    CU_ASSERT_EQUAL(r->nout, 1); /* HEAD: the head only, Content-Length kept */
    CU_ASSERT_PTR_NOT_NULL(strstr(head_of(r), "Content-Length: 10\r\n"));
}

static const kz_test_case_t cases[] = {
    {"body framing", test_body_framing},
    {"many segments", test_many_segments},
    {"framing", test_framing},
    {"customHeaders and Server", test_custom_headers_and_server},
    {"error pages", test_error_pages},
    {NULL, NULL},
};

KZ_TEST_SUITE(response, cases)
