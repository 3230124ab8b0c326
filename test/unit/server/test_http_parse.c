/*
 * Tests of server/http_parse.c: the head scanner and its limits (fed whole and one byte at a
 * time), the in-place head parser, the framing/routing checks (RFC 9112 §6, §9.3; RFC 9110 §7.2)
 * and the chunked decoder (RFC 9112 §7.1) fed at every split position.
 */
#include "http_parse.h"
#include "kz_test.h"
#include "kz_test_http.h"

#include <apr_strings.h>
#include <string.h>

#define LIT(s) s, sizeof(s) - 1

static const kz_http_limits_t limits = {8192, 8192, 65536, 100};

/* ---- Pipeline helper -------------------------------------------------------------------- */

/* Where a request stopped and with what: 'S' scan, 'P' parse, 'A' analyze, '-' accepted. */
typedef struct outcome {
    char stage;
    int status;
    apr_size_t head_len;
    char *buf; /* a pool copy of the request, parsed in place */
    kz_http_head_t head;
    kz_http_info_t info;
} outcome_t;

static void run(outcome_t *o, const char *req, apr_size_t len, const kz_http_limits_t *lim)
{
    kz_http_scan_t scan = {0};
    kz_http_field_t *fields = apr_pcalloc(kz_test_pool, sizeof(*fields) * lim->max_headers);

    memset(o, 0, sizeof(*o));
    o->buf = apr_pmemdup(kz_test_pool, req, len + 1);
    o->stage = 'S';
    o->status = kz_http_scan_head(&scan, o->buf, len, lim, &o->head_len);
    if (o->status != KZ_PARSE_OK) {
        return;
    }
    o->stage = 'P';
    o->status = kz_http_parse_head(&o->head, o->buf, o->head_len, fields, lim->max_headers);
    if (o->status != KZ_PARSE_OK) {
        return;
    }
    o->stage = 'A';
    o->status = kz_http_analyze(&o->info, &o->head);
    if (o->status == KZ_PARSE_OK) {
        o->stage = '-';
    }
}

/* Scans req one byte at a time; returns the first status that is not KZ_PARSE_AGAIN. */
static int scan_bytewise(const char *req, apr_size_t len, const kz_http_limits_t *lim,
                         apr_size_t *head_len)
{
    kz_http_scan_t scan = {0};
    int rc = KZ_PARSE_AGAIN;

    *head_len = 0;
    for (apr_size_t i = 1; i <= len && rc == KZ_PARSE_AGAIN; i++) {
        rc = kz_http_scan_head(&scan, req, i, lim, head_len);
    }
    return rc;
}

/* ---- Rejected requests ------------------------------------------------------------------ */

typedef struct error_case {
    const char *name;
    const char *req;
    apr_size_t len;
    char stage;
    int status;
} error_case_t;

#define ERR(name, req, stage, status)                                                              \
    {                                                                                              \
        name, LIT(req), stage, status                                                              \
    }
#define H11(line) "GET / HTTP/1.1\r\nHost: a\r\n" line "\r\n"

static const error_case_t error_cases[] = {
    /* Host, RFC 9110 §7.2 */
    ERR("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 'A', 400),
    ERR("two Host fields", H11("Host: a\r\n"), 'A', 400),
    ERR("two Host fields, other case", H11("HOST: b\r\n"), 'A', 400),
    ERR("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 'A', 400),
    ERR("Host with a backslash", "GET / HTTP/1.1\r\nHost: abc\\foo\r\n\r\n", 'A', 400),
    ERR("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 'A', 400),
    ERR("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 'A', 400),
    /* request line, RFC 9112 §3 */
    ERR("version HTTP/1.11", "GET / HTTP/1.11\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("version HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 'P', 505),
    ERR("version HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n\r\n", 'P', 505),
    ERR("version HTTP/3.5", "GET / HTTP/3.5\r\n\r\n", 'P', 505),
    ERR("HTTP/0.9 request (no version)", "GET /\r\n\r\n", 'S', 400),
    ERR("version lowercase", "GET / http/1.1\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("version two-digit major", "GET / HTTP/10.1\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("version followed by a space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 'S', 400),
    ERR("tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("tab before version", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("space before method", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("method with a slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("CR as separator", "GET\r/ HTTP/1.1\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 'S', 400),
    ERR("bare LF ending the head only", "GET / HTTP/1.1\r\nHost: a\r\n\n", 'S', 400),
    ERR("bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 'S', 400),
    ERR("target with a space", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("target with a control byte", "GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("target with DEL", "GET /a\x7fz HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("target with a fragment", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("target with a raw NUL", "GET /a\0z HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("NUL in the method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 'P', 400),
    ERR("NUL in the version", "GET / HTTP/1\0001\r\nHost: a\r\n\r\n", 'S', 400),
    ERR("five leading empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 'S',
        400),
    ERR("only empty lines", "\r\n\r\n\r\n\r\n\r\n", 'S', 400),
    /* field lines, RFC 9112 §5 */
    ERR("space before the colon", H11("Content-Length : 0\r\n"), 'P', 400),
    ERR("tab before the colon", H11("Content-Length\t: 0\r\n"), 'P', 400),
    ERR("obs-fold", H11("X-A: one\r\n two\r\n"), 'P', 400),
    ERR("obs-fold with a tab", H11("X-A: one\r\n\ttwo\r\n"), 'P', 400),
    ERR("whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 'P', 400),
    ERR("NUL in a value", H11("X-A: o\0ne\r\n"), 'P', 400),
    ERR("NUL in a name", H11("X\0A: one\r\n"), 'P', 400),
    ERR("bare CR in a value", H11("X-A: o\rne\r\n"), 'S', 400),
    ERR("bare LF in a value", H11("X-A: o\nne\r\n"), 'S', 400),
    ERR("control byte in a value", H11("X-A: o\x1bne\r\n"), 'P', 400),
    ERR("DEL in a value", H11("X-A: o\x7fne\r\n"), 'P', 400),
    ERR("empty field name", H11(": x\r\n"), 'P', 400),
    ERR("parenthesis in a name", H11("F(o): x\r\n"), 'P', 400),
    ERR("line without a colon", H11("Foo\r\n"), 'P', 400),
    ERR("line of spaces", H11("   \r\n"), 'P', 400),
    /* framing, RFC 9112 §6 */
    ERR("Content-Length with chunked", H11("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        'A', 400),
    ERR("chunked with Content-Length", H11("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        'A', 400),
    ERR("two different Content-Lengths", H11("Content-Length: 1\r\nContent-Length: 0\r\n"), 'A',
        400),
    ERR("two equal Content-Lengths", H11("Content-Length: 5\r\nContent-Length: 5\r\n"), 'A', 400),
    ERR("Content-Length +5", H11("Content-Length: +5\r\n"), 'A', 400),
    ERR("Content-Length -1", H11("Content-Length: -1\r\n"), 'A', 400),
    ERR("Content-Length 0x10", H11("Content-Length: 0x10\r\n"), 'A', 400),
    ERR("Content-Length 1Z", H11("Content-Length: 1Z\r\n"), 'A', 400),
    ERR("Content-Length list", H11("Content-Length: 1, 1\r\n"), 'A', 400),
    ERR("Content-Length empty", H11("Content-Length:\r\n"), 'A', 400),
    ERR("Content-Length 1 5", H11("Content-Length: 1 5\r\n"), 'A', 400),
    ERR("Content-Length 2^63", H11("Content-Length: 9223372036854775808\r\n"), 'A', 400),
    ERR("Content-Length 20 digits", H11("Content-Length: 99999999999999999999\r\n"), 'A', 400),
    ERR("Transfer-Encoding gzip, chunked", H11("Transfer-Encoding: gzip, chunked\r\n"), 'A', 501),
    ERR("Transfer-Encoding chunked, gzip", H11("Transfer-Encoding: chunked, gzip\r\n"), 'A', 400),
    ERR("Transfer-Encoding identity", H11("Transfer-Encoding: identity\r\n"), 'A', 501),
    ERR("Transfer-Encoding gzip", H11("Transfer-Encoding: gzip\r\n"), 'A', 501),
    ERR("Transfer-Encoding chunked twice", H11("Transfer-Encoding: chunked, chunked\r\n"), 'A',
        400),
    ERR("Transfer-Encoding chunked in two fields",
        H11("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 'A', 400),
    ERR("Transfer-Encoding gzip then chunked fields",
        H11("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 'A', 501),
    ERR("Transfer-Encoding empty", H11("Transfer-Encoding:\r\n"), 'A', 400),
    ERR("Transfer-Encoding chunked with a parameter", H11("Transfer-Encoding: chunked;x=1\r\n"),
        'A', 501),
    ERR("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        'A', 400),
    ERR("Expect other than 100-continue", H11("Expect: something\r\n"), 'A', 417),
    ERR("Expect list with an unknown", H11("Expect: 100-continue, x\r\n"), 'A', 417),
};

static void test_error_rows(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *c = &error_cases[i];
        outcome_t o;
        run(&o, c->req, c->len, &limits);
        if (o.stage != c->stage || o.status != c->status) {
            fprintf(stderr, "\n  %s: got %c %d, want %c %d", c->name, o.stage, o.status, c->stage,
                    c->status);
        }
        CU_ASSERT_EQUAL(o.stage, c->stage);
        CU_ASSERT_EQUAL(o.status, c->status);
    }
}

/* The scanner decides the same whether the bytes arrive at once or one by one. */
static void test_error_rows_bytewise(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *c = &error_cases[i];
        apr_size_t whole_len = 0, byte_len = 0;
        kz_http_scan_t scan = {0};
        int whole = kz_http_scan_head(&scan, c->req, c->len, &limits, &whole_len);
        int bytes = scan_bytewise(c->req, c->len, &limits, &byte_len);
        CU_ASSERT_EQUAL(bytes, whole);
        CU_ASSERT_EQUAL(byte_len, whole_len);
        CU_ASSERT_EQUAL(whole, c->stage == 'S' ? c->status : KZ_PARSE_OK);
    }
}

/* Defence in depth: heads the scanner refuses are refused by the parser on its own too. */
static void test_parser_alone_refuses_scanner_errors(void)
{
    static const struct {
        const char *req;
        apr_size_t len;
    } rows[] = {
        {LIT("GET\r/ HTTP/1.1\r\nHost: a\r\n\r\n")},
        {LIT("GET / HTTP/1.1\r\nX-A: o\rne\r\n\r\n")},
        {LIT("GET / HTTP/1.1\r\nX-A: o\nne\r\n\r\n")},
        {LIT("GET / HTTP/1.1\nHost: a\r\n\r\n")},
        {LIT("GET / HTTP/1.1\r\nHost: a\n\n")},
        {LIT("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")},
        {LIT("\r\n\r\n")},
        {LIT("GET /\r\n\r\n")},
        {LIT("GET / HTTP/1.11\r\nHost: a\r\n\r\n")},
        {LIT("GET / http/1.1\r\nHost: a\r\n\r\n")},
        {LIT("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n")},
        {LIT("GET / HTTP/1.1 \r\nHost: a\r\n\r\n")},
        {LIT("GET / HTTP/1\0001\r\nHost: a\r\n\r\n")},
        {LIT("HTTP/1.1\r\n\r\n")},
        {LIT(" HTTP/1.1\r\n\r\n")},
        {LIT("\r\n\r\n\r\n")},
        {LIT("GET / HTTP/1.1\r\n\r\n\r\n")},
        {LIT("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")},
        {LIT("")},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_http_head_t head;
        kz_http_field_t fields[4];
        char *buf = apr_pmemdup(kz_test_pool, rows[i].req, rows[i].len + 1);
        CU_ASSERT_EQUAL(kz_http_parse_head(&head, buf, rows[i].len, fields, 4), 400);
    }
}

/* ---- Accepted requests ------------------------------------------------------------------ */

typedef struct valid_case {
    const char *name;
    const char *req;
    apr_size_t len;
    apr_size_t head_len; /* 0: the whole request */
    const char *method;
    const char *target;
    int version;
    int nfields;
    kz_test_field_exp_t fields[6];
    const char *host;
    apr_off_t content_length;
    int chunked, expect_continue, keep_alive, upgrade;
} valid_case_t;

static const valid_case_t valid_cases[] = {
    {.name = "GET with a query",
     LIT("GET /search?q=a+b&x=%20&y HTTP/1.1\r\nHost: example.com\r\n\r\n"),
     .method = "GET",
     .target = "/search?q=a+b&x=%20&y",
     .version = 11,
     .nfields = 1,
     .fields = {{"Host", "example.com"}},
     .host = "example.com",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "absolute path with encoded characters",
     LIT("GET /a%2Fb/%C3%A9t%C3%A9.html;p=1 HTTP/1.1\r\nHost: ex.org:8080\r\n\r\n"),
     .method = "GET",
     .target = "/a%2Fb/%C3%A9t%C3%A9.html;p=1",
     .version = 11,
     .nfields = 1,
     .fields = {{"Host", "ex.org:8080"}},
     .host = "ex.org:8080",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "lowercase method is a token",
     LIT("get / HTTP/1.1\r\nhost: a\r\n\r\n"),
     .method = "get",
     .target = "/",
     .version = 11,
     .nfields = 1,
     .fields = {{"host", "a"}},
     .host = "a",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "HTTP/1.0 without Host nor keep-alive",
     LIT("GET /x HTTP/1.0\r\n\r\n"),
     .method = "GET",
     .target = "/x",
     .version = 10,
     .content_length = -1},
    {.name = "HTTP/1.0 with keep-alive",
     LIT("GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n"),
     .method = "GET",
     .target = "/x",
     .version = 10,
     .nfields = 2,
     .fields = {{"Connection", "Keep-Alive"}, {"Host", "h"}},
     .host = "h",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "HTTP/1.2 is processed as HTTP/1.1 (RFC 9110 2.5)",
     LIT("GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
     .method = "GET",
     .target = "/",
     .version = 11,
     .nfields = 1,
     .fields = {{"Host", "a"}},
     .host = "a",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "OWS trimmed around values",
     LIT("GET / HTTP/1.1\r\nHost:   example.com \t\r\nX-A:\ttwo  words\t \r\nX-Empty: \t "
         "\r\nX-Tight:v\r\nX-Nothing:\r\n\r\n"),
     .method = "GET",
     .target = "/",
     .version = 11,
     .nfields = 5,
     .fields = {{"Host", "example.com"},
                {"X-A", "two  words"},
                {"X-Empty", ""},
                {"X-Tight", "v"},
                {"X-Nothing", ""}},
     .host = "example.com",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "obs-text and HTAB inside values",
     LIT("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \xff\x80\r\nX-Tab: a\tb\r\n\r\n"),
     .method = "GET",
     .target = "/",
     .version = 11,
     .nfields = 3,
     .fields = {{"Host", "a"}, {"X-Name", "caf\xc3\xa9 \xff\x80"}, {"X-Tab", "a\tb"}},
     .host = "a",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "pipelined request after the head",
     LIT("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n"
         "Host: b\r\n\r\n"),
     .head_len = 48,
     .method = "POST",
     .target = "/f",
     .version = 11,
     .nfields = 2,
     .fields = {{"Host", "a"}, {"Content-Length", "3"}},
     .host = "a",
     .content_length = 3,
     .keep_alive = 1},
    {.name = "four leading empty lines are skipped",
     LIT("\r\n\r\n\r\n\r\nDELETE /r HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = "DELETE",
     .target = "/r",
     .version = 11,
     .nfields = 1,
     .fields = {{"Host", "a"}},
     .host = "a",
     .content_length = -1,
     .keep_alive = 1},
    {.name = "chunked upload with 100-continue",
     LIT("PUT /u HTTP/1.1\r\nHost: [::1]:8443\r\nTransfer-Encoding: Chunked\r\n"
         "Expect: 100-Continue\r\n\r\n"),
     .method = "PUT",
     .target = "/u",
     .version = 11,
     .nfields = 3,
     .fields = {{"Host", "[::1]:8443"},
                {"Transfer-Encoding", "Chunked"},
                {"Expect", "100-Continue"}},
     .host = "[::1]:8443",
     .content_length = -1,
     .chunked = 1,
     .expect_continue = 1,
     .keep_alive = 1},
    {.name = "WebSocket upgrade, asterisk and absolute forms",
     LIT("OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
         "Upgrade: websocket\r\n\r\n"),
     .method = "OPTIONS",
     .target = "*",
     .version = 11,
     .nfields = 3,
     .fields = {{"Host", "a"}, {"Connection", "keep-alive, Upgrade"}, {"Upgrade", "websocket"}},
     .host = "a",
     .content_length = -1,
     .keep_alive = 1,
     .upgrade = 1},
    {.name = "absolute-form target, Connection close",
     LIT("GET http://x.org/p?q HTTP/1.1\r\nHost: x.org\r\nConnection: close\r\n\r\n"),
     .method = "GET",
     .target = "http://x.org/p?q",
     .version = 11,
     .nfields = 2,
     .fields = {{"Host", "x.org"}, {"Connection", "close"}},
     .host = "x.org",
     .content_length = -1},
    {.name = "target with raw UTF-8 (left to the URL sanitizer)",
     LIT("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = "GET",
     .target = "/caf\xc3\xa9",
     .version = 11,
     .nfields = 1,
     .fields = {{"Host", "a"}},
     .host = "a",
     .content_length = -1,
     .keep_alive = 1},
};

static void check_valid(const valid_case_t *c, const outcome_t *o)
{
    apr_size_t head_len = c->head_len ? c->head_len : c->len;

    if (o->stage != '-') {
        fprintf(stderr, "\n  %s: got %c %d", c->name, o->stage, o->status);
    }
    CU_ASSERT_EQUAL_FATAL(o->stage, '-');
    CU_ASSERT_EQUAL(o->head_len, head_len);
    CU_ASSERT_EQUAL(o->head.method_len, strlen(c->method));
    CU_ASSERT_STRING_EQUAL(o->head.method, c->method);
    CU_ASSERT_EQUAL(o->head.target_len, strlen(c->target));
    CU_ASSERT_STRING_EQUAL(o->head.target, c->target);
    CU_ASSERT_EQUAL(o->head.version, c->version);
    kz_test_check_fields(o->head.fields, o->head.nfields, c->fields, c->nfields, o->buf, head_len);
    if (c->host) {
        CU_ASSERT_EQUAL(o->info.host_len, strlen(c->host));
        CU_ASSERT_STRING_EQUAL(o->info.host, c->host);
    } else {
        CU_ASSERT_PTR_NULL(o->info.host);
    }
    CU_ASSERT_EQUAL(o->info.content_length, c->content_length);
    CU_ASSERT_EQUAL(o->info.chunked, c->chunked);
    CU_ASSERT_EQUAL(o->info.expect_continue, c->expect_continue);
    CU_ASSERT_EQUAL(o->info.keep_alive, c->keep_alive);
    CU_ASSERT_EQUAL(o->info.upgrade, c->upgrade);
    /* Bytes after the head are the next request's: untouched. */
    CU_ASSERT(memcmp(o->buf + head_len, c->req + head_len, c->len - head_len) == 0);
}

static void test_valid_rows(void)
{
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case_t *c = &valid_cases[i];
        outcome_t o;
        apr_size_t byte_len;
        run(&o, c->req, c->len, &limits);
        check_valid(c, &o);
        CU_ASSERT_EQUAL(scan_bytewise(c->req, c->len, &limits, &byte_len), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(byte_len, o.head_len);
    }
}

/* ---- Limits ----------------------------------------------------------------------------- */

/* "GET /aaa… HTTP/1.1\r\n" whose request line (without CRLF) is line_len bytes. */
static char *request_line(apr_size_t line_len)
{
    apr_size_t target = line_len - strlen("GET  HTTP/1.1");
    char *t = apr_palloc(kz_test_pool, target + 1);
    memset(t, 'a', target);
    t[0] = '/';
    t[target] = '\0';
    return apr_pstrcat(kz_test_pool, "GET ", t, " HTTP/1.1\r\n", NULL);
}

/* A field line "X-Big: vvv…" of line_len bytes without its CRLF. */
static char *field_line(const char *name, apr_size_t line_len)
{
    apr_size_t n = line_len - strlen(name) - 2;
    char *v = apr_palloc(kz_test_pool, n + 1);
    memset(v, 'v', n);
    v[n] = '\0';
    return apr_pstrcat(kz_test_pool, name, ": ", v, "\r\n", NULL);
}

typedef struct limit_case {
    const char *name;
    const char *req;
    char stage;
    int status;
} limit_case_t;

static void check_limit_rows(const limit_case_t *rows, size_t n, const kz_http_limits_t *lim)
{
    for (size_t i = 0; i < n; i++) {
        outcome_t o;
        apr_size_t len = strlen(rows[i].req), byte_len;
        run(&o, rows[i].req, len, lim);
        if (o.stage != rows[i].stage || o.status != rows[i].status) {
            fprintf(stderr, "\n  %s: got %c %d", rows[i].name, o.stage, o.status);
        }
        CU_ASSERT_EQUAL(o.stage, rows[i].stage);
        CU_ASSERT_EQUAL(o.status, rows[i].status);
        int bytes = scan_bytewise(rows[i].req, len, lim, &byte_len);
        CU_ASSERT_EQUAL(bytes, rows[i].stage == 'S' ? rows[i].status : KZ_PARSE_OK);
    }
}

static void test_brief_limits(void)
{
    const char *host = "Host: a\r\n";
    const limit_case_t rows[] = {
        {"9000-byte target", apr_pstrcat(kz_test_pool, request_line(9000), host, "\r\n", NULL), 'S',
         414},
        {"10 KB field",
         apr_pstrcat(kz_test_pool, request_line(20), host, field_line("X-Big", 10240), "\r\n",
                     NULL),
         'S', 431},
        {"64 KB Cookie",
         apr_pstrcat(kz_test_pool, request_line(20), host, field_line("Cookie", 65536), "\r\n",
                     NULL),
         'S', 431},
        {"150 fields",
         apr_pstrcat(kz_test_pool, request_line(20), host, kz_test_many_fields(149), "\r\n", NULL),
         'S', 431},
        {"100 fields",
         apr_pstrcat(kz_test_pool, request_line(20), host, kz_test_many_fields(99), "\r\n", NULL),
         '-', KZ_PARSE_OK},
        {"request line of 8192", apr_pstrcat(kz_test_pool, request_line(8192), host, "\r\n", NULL),
         '-', KZ_PARSE_OK},
        {"field of 8192",
         apr_pstrcat(kz_test_pool, request_line(20), host, field_line("X-Big", 8192), "\r\n", NULL),
         '-', KZ_PARSE_OK},
    };
    check_limit_rows(rows, sizeof(rows) / sizeof(rows[0]), &limits);
}

/* Each limit at its exact boundary, with small limits. */
static void test_limit_boundaries(void)
{
    const kz_http_limits_t small = {32, 16, 80, 3};
    const char *rl = request_line(32);     /* 34 bytes */
    const char *host = "Host: a\r\n";      /* 9 bytes */
    const char *f16 = field_line("X", 16); /* 18 bytes */
    const limit_case_t rows[] = {
        {"request line at the limit", apr_pstrcat(kz_test_pool, rl, host, "\r\n", NULL), '-', 0},
        {"request line one over", apr_pstrcat(kz_test_pool, request_line(33), host, "\r\n", NULL),
         'S', 414},
        {"field at the limit", apr_pstrcat(kz_test_pool, rl, host, f16, "\r\n", NULL), '-', 0},
        {"field one over", apr_pstrcat(kz_test_pool, rl, host, field_line("X", 17), "\r\n", NULL),
         'S', 431},
        {"fields at the limit",
         apr_pstrcat(kz_test_pool, rl, host, "A: 1\r\nB: 2\r\n", "\r\n", NULL), '-', 0},
        {"fields one over",
         apr_pstrcat(kz_test_pool, rl, host, "A: 1\r\nB: 2\r\nC: 3\r\n", "\r\n", NULL), 'S', 431},
        /* 34 + 9 + 18 + (15 + 2) + 2 = 80 */
        {"head at the limit",
         apr_pstrcat(kz_test_pool, rl, host, f16, field_line("Y", 15), "\r\n", NULL), '-', 0},
        {"head one over",
         apr_pstrcat(kz_test_pool, rl, host, f16, field_line("Y", 16), "\r\n", NULL), 'S', 431},
    };
    CU_ASSERT_EQUAL(strlen(rows[6].req), 80);
    CU_ASSERT_EQUAL(strlen(rows[7].req), 81);
    check_limit_rows(rows, sizeof(rows) / sizeof(rows[0]), &small);
}

/* 414 comes as soon as the request line passes its limit, long before any LF. */
static void test_request_line_refused_early(void)
{
    apr_size_t len = 20000, head_len = 0;
    char *buf = apr_palloc(kz_test_pool, len);
    kz_http_scan_t scan = {0};

    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', len - 5);
    for (apr_size_t have = 1000; have <= len; have += 1000) {
        int rc = kz_http_scan_head(&scan, buf, have, &limits, &head_len);
        CU_ASSERT_EQUAL(rc, have <= 8192 ? KZ_PARSE_AGAIN : 414);
        if (rc != KZ_PARSE_AGAIN) {
            break;
        }
        CU_ASSERT_EQUAL(scan.pos, have); /* resumes where it stopped */
    }
}

/* A request line of exactly the limit whose CR has arrived but not its LF is not over. */
static void test_request_line_pending_cr(void)
{
    const kz_http_limits_t small = {32, 16, 80, 3};
    const char *rl = request_line(32);
    apr_size_t head_len = 0;
    kz_http_scan_t scan = {0};

    CU_ASSERT_EQUAL(kz_http_scan_head(&scan, rl, 33, &small, &head_len), KZ_PARSE_AGAIN);
    CU_ASSERT_EQUAL(scan.pos, 32); /* the CR is looked at again */
    CU_ASSERT_EQUAL(kz_http_scan_head(&scan, rl, 34, &small, &head_len), KZ_PARSE_AGAIN);
    CU_ASSERT_EQUAL(scan.lines, 1);
    CU_ASSERT_EQUAL(scan.line_start, 34);
}

/* An HTTP/0.9 client never sends an empty line: it is answered when its line ends. */
static void test_http09_refused_at_once(void)
{
    static const char *lines[] = {"GET /\r\n", "GET / HTTP/1\r\n", " HTTP/1.1\r\n", "\r\nGET\r\n"};
    apr_size_t head_len = 0;

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        kz_http_scan_t scan = {0};
        CU_ASSERT_EQUAL(kz_http_scan_head(&scan, lines[i], strlen(lines[i]), &limits, &head_len),
                        400);
    }
}

/* The scanner state stays consistent through random splits of a pipelined stream. */
static void test_scan_random_splits(void)
{
    const char req[] = "\r\nGET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\nGET /2 HTTP/1.1\r\n";
    apr_size_t len = sizeof(req) - 1;
    unsigned seed = 12345;

    for (int round = 0; round < 500; round++) {
        kz_http_scan_t scan = {0};
        apr_size_t have = 0, head_len = 0;
        int rc = KZ_PARSE_AGAIN;
        while (rc == KZ_PARSE_AGAIN && have < len) {
            seed = seed * 1103515245u + 12345u;
            have += 1 + (seed >> 16) % 7;
            have = have > len ? len : have;
            rc = kz_http_scan_head(&scan, req, have, &limits, &head_len);
        }
        CU_ASSERT_EQUAL(rc, KZ_PARSE_OK);
        CU_ASSERT_EQUAL(head_len, 37);
    }
}

/* The parser's own field limit. */
static void test_parse_max_fields(void)
{
    const char req[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    kz_http_field_t fields[3];
    kz_http_head_t head;
    char *buf = apr_pmemdup(kz_test_pool, req, sizeof(req));

    CU_ASSERT_EQUAL(kz_http_parse_head(&head, buf, sizeof(req) - 1, fields, 2), 431);
    buf = apr_pmemdup(kz_test_pool, req, sizeof(req));
    CU_ASSERT_EQUAL(kz_http_parse_head(&head, buf, sizeof(req) - 1, fields, 3), KZ_PARSE_OK);
    CU_ASSERT_EQUAL(head.nfields, 3);
    CU_ASSERT_STRING_EQUAL(head.fields[2].name, "C");
    CU_ASSERT_STRING_EQUAL(head.fields[2].value, "3");
}

/* ---- Host, Connection, framing ------------------------------------------------------------ */

static void test_host_values(void)
{
    static const struct {
        const char *host;
        int status;
    } rows[] = {
        {"example.com", 0},
        {"EXAMPLE.com:8080", 0},
        {"127.0.0.1", 0},
        {"127.0.0.1:80", 0},
        {"host:", 0}, /* empty port: RFC 3986 port = *DIGIT */
        {"a.b-c_d~e", 0},
        {"%41bc", 0},
        {"a!$&'()*+,;=b", 0},
        {"[::1]", 0},
        {"[::1]:8080", 0},
        {"[::]", 0},
        {"[2001:db8::7]", 0},
        {"[1:2:3:4:5:6:7:8]", 0},
        {"[1:2:3:4:5:6:7::]", 0},
        {"[::2:3:4:5:6:7:8]", 0},
        {"[::ffff:192.0.2.1]", 0},
        {"[1:2:3:4:5:6:1.2.3.4]", 0},
        {"[ABCD:ef01::]", 0},
        {"[v1.fe80::a+en1]", 0},
        {"a b", 400},
        {"abc\\foo", 400},
        {":80", 400},
        {"host:80a", 400},
        {"host:80:90", 400},
        {"a/b", 400},
        {"user@host", 400},
        {"a?b", 400},
        {"a#b", 400},
        {"caf\xc3\xa9", 400},
        {"%4", 400},
        {"%zz", 400},
        {"[::1", 400},
        {"::1", 400},
        {"[::1]x", 400},
        {"[::1]]", 400},
        {"[]", 400},
        {"[1:2:3:4:5:6:7:8:9]", 400},
        {"[1:2:3:4:5:6:7]", 400},
        {"[1:2:3:4:5:6:7:8::]", 400},
        {"[1::2::3]", 400},
        {"[:::]", 400},
        {"[:1::]", 400},
        {"[1:]", 400},
        {"[12345::]", 400},
        {"[g::1]", 400},
        {"[::1.2.3]", 400},
        {"[::256.1.1.1]", 400},
        {"[::01.1.1.1]", 400},
        {"[::1.2.3.4:5]", 400},
        {"[1.2.3.4]", 400},
        {"[fe80::1%25eth0]", 400},
        {"[v.x]", 400},
        {"[v1.]", 400},
        {"[v1x]", 400},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *req = apr_psprintf(kz_test_pool, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", rows[i].host);
        outcome_t o;
        run(&o, req, strlen(req), &limits);
        if (o.status != rows[i].status) {
            fprintf(stderr, "\n  Host %s: got %d", rows[i].host, o.status);
        }
        CU_ASSERT_EQUAL(o.stage, rows[i].status ? 'A' : '-');
        CU_ASSERT_EQUAL(o.status, rows[i].status);
    }
}

static void test_connection(void)
{
    static const struct {
        const char *version;
        const char *fields;
        int keep_alive;
        int upgrade;
    } rows[] = {
        {"1.1", "", 1, 0},
        {"1.1", "Connection: close\r\n", 0, 0},
        {"1.1", "connection: CLOSE\r\n", 0, 0},
        {"1.1", "Connection: keep-alive, Close\r\n", 0, 0},
        {"1.1", "Connection: foo ,\t close \r\n", 0, 0},
        {"1.1", "Connection: ,,close,,\r\n", 0, 0},
        {"1.1", "Connection: foo\r\nConnection: close\r\n", 0, 0},
        {"1.1", "Connection: closed\r\n", 1, 0},
        {"1.1", "Connection: x-close\r\n", 1, 0},
        {"1.1", "Connection: \"close\"\r\n", 1, 0},
        {"1.0", "", 0, 0},
        {"1.0", "Connection: keep-alive\r\n", 1, 0},
        {"1.0", "Connection: KEEP-ALIVE\r\n", 1, 0},
        {"1.0", "Connection: foo\r\nConnection: keep-alive\r\n", 1, 0},
        {"1.0", "Connection: keep-alive, close\r\n", 0, 0},
        {"1.0", "Connection: keep-alives\r\n", 0, 0},
        {"1.1", "Connection: Upgrade\r\nUpgrade: websocket\r\n", 1, 1},
        {"1.1", "Upgrade: h2c\r\nConnection: HTTP2-Settings, upgrade\r\n", 1, 1},
        {"1.1", "Connection: upgrade\r\n", 1, 0},
        {"1.1", "Upgrade: websocket\r\n", 1, 0},
        {"1.1", "Connection: upgrade, close\r\nUpgrade: websocket\r\n", 0, 1},
        {"1.0", "Connection: upgrade\r\nUpgrade: websocket\r\n", 0, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *req = apr_psprintf(kz_test_pool, "GET / HTTP/%s\r\nHost: a\r\n%s\r\n",
                                 rows[i].version, rows[i].fields);
        outcome_t o;
        run(&o, req, strlen(req), &limits);
        CU_ASSERT_EQUAL_FATAL(o.status, KZ_PARSE_OK);
        if (o.info.keep_alive != rows[i].keep_alive || o.info.upgrade != rows[i].upgrade) {
            fprintf(stderr, "\n  row %zu: keep_alive %d upgrade %d", i, o.info.keep_alive,
                    o.info.upgrade);
        }
        CU_ASSERT_EQUAL(o.info.keep_alive, rows[i].keep_alive);
        CU_ASSERT_EQUAL(o.info.upgrade, rows[i].upgrade);
    }
}

static void test_framing(void)
{
    static const struct {
        const char *version;
        const char *fields;
        int status;
        apr_off_t content_length;
        int chunked;
        int expect_continue;
    } rows[] = {
        {"1.1", "", 0, -1, 0, 0},
        {"1.1", "Content-Length: 0\r\n", 0, 0, 0, 0},
        {"1.1", "Content-Length: 42\r\n", 0, 42, 0, 0},
        {"1.1", "content-length:  0042 \r\n", 0, 42, 0, 0},
        {"1.1", "Content-Length: 9223372036854775807\r\n", 0, APR_INT64_MAX, 0, 0},
        {"1.0", "Content-Length: 7\r\n", 0, 7, 0, 0},
        {"1.1", "Transfer-Encoding: chunked\r\n", 0, -1, 1, 0},
        {"1.1", "Transfer-Encoding: CHUNKED\r\n", 0, -1, 1, 0},
        {"1.1", "Transfer-Encoding: , chunked ,\r\n", 0, -1, 1, 0},
        {"1.1", "Expect: 100-continue\r\n", 0, -1, 0, 1},
        {"1.1", "Expect: 100-CONTINUE\r\nContent-Length: 10\r\n", 0, 10, 0, 1},
        {"1.0", "Expect: 100-continue\r\n", 0, -1, 0, 0}, /* RFC 9110 10.1.1: ignored */
        {"1.1", "Expect: \r\n", 0, -1, 0, 0},
        {"1.1", "Expect: 100-continue;x=1\r\n", 417, -1, 0, 0},
        {"1.0", "Transfer-Encoding: gzip\r\n", 400, -1, 0, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *req = apr_psprintf(kz_test_pool, "POST / HTTP/%s\r\nHost: a\r\n%s\r\n",
                                 rows[i].version, rows[i].fields);
        outcome_t o;
        run(&o, req, strlen(req), &limits);
        CU_ASSERT_EQUAL(o.status, rows[i].status);
        if (rows[i].status != KZ_PARSE_OK) {
            CU_ASSERT_EQUAL(o.info.keep_alive, 0);
            continue;
        }
        CU_ASSERT_EQUAL(o.info.content_length, rows[i].content_length);
        CU_ASSERT_EQUAL(o.info.chunked, rows[i].chunked);
        CU_ASSERT_EQUAL(o.info.expect_continue, rows[i].expect_continue);
    }
}

static void test_field_lookup(void)
{
    const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-^: caret\r\nAccept: one\r\n"
                       "ACCEPT: two\r\n\r\n";
    outcome_t o;

    run(&o, req, sizeof(req) - 1, &limits);
    CU_ASSERT_EQUAL_FATAL(o.status, KZ_PARSE_OK);
    const kz_http_field_t *f = kz_http_field(&o.head, "accept");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_STRING_EQUAL(f->value, "one");           /* the first */
    CU_ASSERT_PTR_NULL(kz_http_field(&o.head, "X-~")); /* '^' and '~' differ by 0x20 */
    CU_ASSERT_PTR_NOT_NULL(kz_http_field(&o.head, "x-^"));
    CU_ASSERT_PTR_NULL(kz_http_field(&o.head, "Accep"));
    CU_ASSERT_PTR_NULL(kz_http_field(&o.head, "Accepts"));
    CU_ASSERT_PTR_NULL(kz_http_field(&o.head, ""));
}

static void test_tchar(void)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~09AZaz";
    static const char others[] = "\"(),/:;<=>?@[\\]{} \t\x7f";
    int count = 0;

    for (const char *p = tchars; *p; p++) {
        CU_ASSERT_TRUE(kz_http_is_tchar((unsigned char)*p));
    }
    for (const char *p = others; *p; p++) {
        CU_ASSERT_FALSE(kz_http_is_tchar((unsigned char)*p));
    }
    for (int c = 0; c < 256; c++) {
        count += kz_http_is_tchar((unsigned char)c) != 0;
    }
    CU_ASSERT_EQUAL(count, 15 + 10 + 26 + 26); /* RFC 9110 5.6.2 */
}

/* ---- Chunked decoder -------------------------------------------------------------------- */

/*
 * Feeds in[0..len) in pieces ending at cuts[], each copied into its own buffer as a read would
 * deliver it; appends the decoded bytes to out. Returns the last status.
 */
static int feed_chunked(const char *in, apr_size_t len, const apr_size_t *cuts, int ncuts,
                        char *out, apr_size_t *out_len, apr_size_t *consumed)
{
    kz_chunked_t st = {0};
    apr_size_t from = 0;
    char piece[20000];
    int rc = KZ_PARSE_AGAIN;

    *out_len = *consumed = 0;
    for (int k = 0; k <= ncuts && rc == KZ_PARSE_AGAIN; k++) {
        apr_size_t to = k < ncuts ? cuts[k] : len, used, n;
        memcpy(piece, in + from, to - from);
        rc = kz_chunked_decode(&st, piece, to - from, &used, &n);
        memcpy(out + *out_len, piece, n);
        *out_len += n;
        *consumed += used;
        if (rc == KZ_PARSE_AGAIN) {
            CU_ASSERT_EQUAL(used, to - from); /* all input is taken while more is needed */
        }
        from = to;
    }
    return rc;
}

typedef struct chunk_case {
    const char *name;
    const char *in;
    apr_size_t len;
    const char *out; /* NULL: 400 */
    apr_size_t rest; /* bytes after the final CRLF, left for the next request */
} chunk_case_t;

#define CHUNK_OK(name, in, out, rest)                                                              \
    {                                                                                              \
        name, LIT(in), out, rest                                                                   \
    }
#define CHUNK_BAD(name, in)                                                                        \
    {                                                                                              \
        name, LIT(in), NULL, 0                                                                     \
    }

static const chunk_case_t chunk_cases[] = {
    CHUNK_OK("one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 0),
    CHUNK_OK("empty body", "0\r\n\r\n", "", 0),
    CHUNK_OK("extensions, trailers and a pipelined request",
             "5\r\nhello\r\n6;name=val;x\r\n world\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n"
             "GET / HTTP/1.1\r\n",
             "hello world", 16),
    CHUNK_OK("upper and lower hex", "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
             "0123456789abcdefghij", 0),
    CHUNK_OK("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 0),
    CHUNK_OK("BWS before extensions", "5 ;a=b\r\nhello\r\n0 \t; last\r\n\r\n", "hello", 0),
    CHUNK_OK("quoted extension value", "1;a=\"x y\"\r\nZ\r\n0\r\n\r\n", "Z", 0),
    CHUNK_OK("CRLF inside data is data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0),
    CHUNK_OK("leftover after an empty body", "0\r\n\r\n0\r\n\r\n", "", 5),
    CHUNK_BAD("size of 16 digits overflows", "1000000000000000\r\n"),
    CHUNK_BAD("no size", "\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("size with +", "+5\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("size with -", "-5\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("size with 0x", "0x5\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("garbage after the size", "5x\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("whitespace then CRLF", "5 \r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("whitespace then a digit", "5 5\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("bare LF after the size", "5\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("bare CR after the size", "5\rhello\r\n0\r\n\r\n"),
    CHUNK_BAD("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"),
    CHUNK_BAD("LF without CR after data", "5\r\nhello\n0\r\n\r\n"),
    CHUNK_BAD("CR without LF after data", "5\r\nhello\rX0\r\n\r\n"),
    CHUNK_BAD("data longer than the size", "3\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("missing last chunk", "5\r\nhello\r\n\r\n"),
    CHUNK_BAD("control byte in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("bare LF in an extension", "5;a\nb\r\nhello\r\n0\r\n\r\n"),
    CHUNK_BAD("bare LF in a trailer", "0\r\nX: y\n\r\n"),
    CHUNK_BAD("bare CR in a trailer", "0\r\nX: y\rz\r\n\r\n"),
    CHUNK_BAD("NUL in a trailer", "0\r\nX: \0\r\n\r\n"),
    CHUNK_BAD("obs-fold in trailers", "0\r\nX: y\r\n z\r\n\r\n"),
    CHUNK_BAD("final CR without LF", "0\r\n\rX"),
    CHUNK_BAD("final bare LF", "0\r\n\n"),
};

static void check_chunk_result(const chunk_case_t *c, int rc, const char *out, apr_size_t out_len,
                               apr_size_t consumed)
{
    if (!c->out) {
        CU_ASSERT_EQUAL(rc, 400);
        return;
    }
    CU_ASSERT_EQUAL(rc, KZ_PARSE_OK);
    CU_ASSERT_EQUAL(out_len, strlen(c->out));
    CU_ASSERT(memcmp(out, c->out, out_len) == 0);
    CU_ASSERT_EQUAL(consumed, c->len - c->rest);
}

static void test_chunked_rows(void)
{
    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        const chunk_case_t *c = &chunk_cases[i];
        char *buf = apr_pmemdup(kz_test_pool, c->in, c->len + 1);
        kz_chunked_t st = {0};
        apr_size_t consumed = 0, out_len = 0;
        int rc = kz_chunked_decode(&st, buf, c->len, &consumed, &out_len);
        if ((c->out && rc != KZ_PARSE_OK) || (!c->out && rc != 400)) {
            fprintf(stderr, "\n  %s: got %d", c->name, rc);
        }
        check_chunk_result(c, rc, buf, out_len, consumed);
        if (c->out) {
            /* The next request's bytes stay where they were. */
            CU_ASSERT(memcmp(buf + consumed, c->in + consumed, c->rest) == 0);
        }
    }
}

/* Every way of cutting the input in two or three pieces decodes the same. */
static void test_chunked_every_split(void)
{
    char out[256];

    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        const chunk_case_t *c = &chunk_cases[i];
        for (apr_size_t a = 0; a <= c->len; a++) {
            for (apr_size_t b = a; b <= c->len; b++) {
                apr_size_t cuts[2] = {a, b}, out_len, consumed;
                int rc = feed_chunked(c->in, c->len, cuts, 2, out, &out_len, &consumed);
                check_chunk_result(c, rc, out, out_len, consumed);
            }
        }
    }
}

static void test_chunked_bytewise_and_random(void)
{
    static apr_size_t cuts[256];
    char out[256];
    unsigned seed = 42;

    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        const chunk_case_t *c = &chunk_cases[i];
        apr_size_t out_len, consumed;
        for (apr_size_t k = 0; k < c->len; k++) {
            cuts[k] = k + 1;
        }
        int rc = feed_chunked(c->in, c->len, cuts, (int)c->len, out, &out_len, &consumed);
        check_chunk_result(c, rc, out, out_len, consumed);
        for (int round = 0; round < 200; round++) {
            int n = 0;
            for (apr_size_t at = 0; at < c->len; n++) {
                seed = seed * 1103515245u + 12345u;
                at += 1 + (seed >> 16) % 9;
                cuts[n] = at < c->len ? at : c->len;
            }
            rc = feed_chunked(c->in, c->len, cuts, n, out, &out_len, &consumed);
            check_chunk_result(c, rc, out, out_len, consumed);
        }
    }
}

/* Strings of generated lengths: limits of the size line and the trailers. */
static void test_chunked_limits(void)
{
    char ext4096[4200], ext4097[4200], big[20000];
    apr_size_t consumed, out_len;

    /* "5;" + 4094 bytes = a size line of 4096 */
    memset(ext4096, 'e', sizeof(ext4096));
    memcpy(ext4096, "5;", 2);
    memcpy(ext4096 + 4096, "\r\nhello\r\n0\r\n\r\n", 14);
    kz_chunked_t st = {0};
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, ext4096, 4110, &consumed, &out_len), KZ_PARSE_OK);
    CU_ASSERT_EQUAL(out_len, 5);
    CU_ASSERT(memcmp(ext4096, "hello", 5) == 0);

    memset(ext4097, 'e', sizeof(ext4097));
    memcpy(ext4097, "5;", 2);
    memcpy(ext4097 + 4097, "\r\n", 2);
    memset(&st, 0, sizeof(st));
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, ext4097, 4099, &consumed, &out_len), 400);

    /* 64 trailers are fine, 65 are not */
    char *t64 = "0\r\n";
    for (int i = 0; i < 64; i++) {
        t64 = apr_pstrcat(kz_test_pool, t64, "T: x\r\n", NULL);
    }
    char *t65 = apr_pstrcat(kz_test_pool, t64, "T: x\r\n\r\n", NULL);
    t64 = apr_pstrcat(kz_test_pool, t64, "\r\n", NULL);
    memset(&st, 0, sizeof(st));
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, t64, strlen(t64), &consumed, &out_len), KZ_PARSE_OK);
    CU_ASSERT_EQUAL(consumed, strlen(t64));
    memset(&st, 0, sizeof(st));
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, t65, strlen(t65), &consumed, &out_len), 400);

    /* a trailer line of 8192 bytes is fine, 8193 is not */
    for (apr_size_t n = 8192; n <= 8193; n++) {
        memcpy(big, "0\r\n", 3);
        memset(big + 3, 't', n);
        memcpy(big + 3 + n, "\r\n\r\n", 4);
        memset(&st, 0, sizeof(st));
        CU_ASSERT_EQUAL(kz_chunked_decode(&st, big, n + 7, &consumed, &out_len),
                        n == 8192 ? KZ_PARSE_OK : 400);
    }
}

static void test_chunked_state(void)
{
    char a[] = "fffffffffffffff\r\nab";
    char b[] = "0\r\n\r\nX";
    char c[] = "5\r\nhelloX";
    kz_chunked_t st = {0};
    apr_size_t consumed, out_len;

    /* 15 digits are accepted; the body then simply needs more input */
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, a, sizeof(a) - 1, &consumed, &out_len), KZ_PARSE_AGAIN);
    CU_ASSERT_EQUAL(consumed, sizeof(a) - 1);
    CU_ASSERT_EQUAL(out_len, 2);
    CU_ASSERT(memcmp(a, "ab", 2) == 0);
    CU_ASSERT_EQUAL(st.remaining, 0xfffffffffffffffULL - 2);

    /* once done, it stays done and consumes nothing */
    memset(&st, 0, sizeof(st));
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, b, sizeof(b) - 1, &consumed, &out_len), KZ_PARSE_OK);
    CU_ASSERT_EQUAL(consumed, 5);
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, b + 5, 1, &consumed, &out_len), KZ_PARSE_OK);
    CU_ASSERT_EQUAL(consumed, 0);
    CU_ASSERT_EQUAL(out_len, 0);

    /* an error is final */
    memset(&st, 0, sizeof(st));
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, c, sizeof(c) - 1, &consumed, &out_len), 400);
    CU_ASSERT_EQUAL(kz_chunked_decode(&st, b, sizeof(b) - 1, &consumed, &out_len), 400);
}

static const kz_test_case_t cases[] = {
    {"rejected requests", test_error_rows},
    {"rejected requests, scanned byte by byte", test_error_rows_bytewise},
    {"parser alone refuses what the scanner refuses", test_parser_alone_refuses_scanner_errors},
    {"accepted requests, exact fields", test_valid_rows},
    {"limits of the brief (414, 431)", test_brief_limits},
    {"limits at their boundaries", test_limit_boundaries},
    {"414 before the line ends", test_request_line_refused_early},
    {"request line at the limit with a pending CR", test_request_line_pending_cr},
    {"HTTP/0.9 refused when its line ends", test_http09_refused_at_once},
    {"scanner over random splits", test_scan_random_splits},
    {"parser max_fields", test_parse_max_fields},
    {"Host values", test_host_values},
    {"Connection and keep-alive", test_connection},
    {"Content-Length, Transfer-Encoding, Expect", test_framing},
    {"field lookup", test_field_lookup},
    {"tchar", test_tchar},
    {"chunked rows", test_chunked_rows},
    {"chunked at every split", test_chunked_every_split},
    {"chunked byte by byte and random splits", test_chunked_bytewise_and_random},
    {"chunked limits", test_chunked_limits},
    {"chunked state after done and error", test_chunked_state},
    {NULL, NULL},
};

KZ_TEST_SUITE(http_parse, cases)
