/*
 * Tests of server/upstream_http.c: the response head scanner and its limits (fed whole, one byte
 * at a time and at random splits), the in-place status-line and field parser (RFC 9112 §4, §5),
 * the framing decision for every status/method combination (RFC 9112 §6.3) and the hop-by-hop
 * field set (RFC 9110 §7.6.1). Every 502 cause has its own named row.
 */
#include "kz_test.h"
#include "kz_test_http.h"
#include "upstream_http.h"

#include <apr_strings.h>
#include <string.h>

#define LIT(s) s, sizeof(s) - 1

#define MAX_HEAD   65536
#define MAX_FIELDS 100

/* ---- Pipeline helper -------------------------------------------------------------------- */

/* Where a response stopped and with what: 'S' scan, 'P' parse, 'A' analyze, '-' accepted. */
typedef struct outcome {
    char stage;
    int status;
    apr_size_t head_len;
    char *buf; /* a pool copy of the response, parsed in place */
    kz_resp_head_t head;
    kz_resp_info_t info;
} outcome_t;

typedef struct opts {
    apr_size_t max_head; /* 0: MAX_HEAD */
    int max_fields;      /* 0: MAX_FIELDS */
    int head, connect;   /* the request's method */
} opts_t;

static void run(outcome_t *o, const char *resp, apr_size_t len, const opts_t *op)
{
    kz_http_scan_t scan = {0};
    apr_size_t max_head = op->max_head ? op->max_head : MAX_HEAD;
    int max_fields = op->max_fields ? op->max_fields : MAX_FIELDS;
    kz_http_field_t *fields = apr_pcalloc(kz_test_pool, sizeof(*fields) * max_fields);

    memset(o, 0, sizeof(*o));
    o->buf = apr_pmemdup(kz_test_pool, resp, len + 1);
    o->stage = 'S';
    o->status = kz_resp_scan(&scan, o->buf, len, max_head, max_fields, &o->head_len);
    if (o->status != KZ_PARSE_OK) {
        return;
    }
    o->stage = 'P';
    o->status = kz_resp_parse(&o->head, o->buf, o->head_len, fields, max_fields);
    if (o->status != KZ_PARSE_OK) {
        return;
    }
    o->stage = 'A';
    o->status = kz_resp_analyze(&o->info, &o->head, op->head, op->connect);
    if (o->status == KZ_PARSE_OK) {
        o->stage = '-';
    }
}

/* Scans resp one byte at a time; returns the first status that is not KZ_PARSE_AGAIN. */
static int scan_bytewise(const char *resp, apr_size_t len, apr_size_t max_head, int max_fields,
                         apr_size_t *head_len)
{
    kz_http_scan_t scan = {0};
    int rc = KZ_PARSE_AGAIN;

    *head_len = 0;
    for (apr_size_t i = 1; i <= len && rc == KZ_PARSE_AGAIN; i++) {
        rc = kz_resp_scan(&scan, resp, i, max_head, max_fields, head_len);
    }
    return rc;
}

/* ---- Rejected responses ----------------------------------------------------------------- */

typedef struct error_case {
    const char *name;
    const char *resp;
    apr_size_t len;
    char stage;
    opts_t op;
} error_case_t;

#define ERR(name, resp, stage)                                                                     \
    {                                                                                              \
        name, LIT(resp), stage,                                                                    \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }
#define ERR_OP(name, resp, stage, ...)                                                             \
    {                                                                                              \
        name, LIT(resp), stage,                                                                    \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
#define R200(lines) "HTTP/1.1 200 OK\r\n" lines "\r\n"

static const error_case_t error_cases[] = {
    /* scanner: line endings, RFC 9112 §2.2 */
    ERR("bare CR in the status line", "HTTP/1.1 200\rOK\r\n\r\n", 'S'),
    ERR("bare CR in a value", R200("X-A: o\rne\r\n"), 'S'),
    ERR("bare CR ending a field", R200("X-A: one\r\rX-B: two\r\n"), 'S'),
    ERR("CR CR LF ending the head", "HTTP/1.1 200 OK\r\n\r\r\n", 'S'),
    ERR("bare LF ending the status line", "HTTP/1.1 200 OK\nX-A: 1\r\n\r\n", 'S'),
    ERR("bare LF ending a field", R200("X-A: 1\nX-B: 2\r\n"), 'S'),
    ERR("bare LF ending the head", "HTTP/1.1 200 OK\r\nX-A: 1\r\n\n", 'S'),
    ERR("LF-only line endings", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 'S'),
    ERR("bare LF in a value", R200("X-A: o\nne\r\n"), 'S'),
    ERR("LF CR instead of CR LF", "HTTP/1.1 200 OK\n\r\n\r", 'S'),
    /* scanner: not a response */
    ERR("raw body (HTTP/0.9 style)", "<html>hello</html>\r\n\r\n", 'S'),
    ERR("lowercase http/", "http/1.1 200 OK\r\n\r\n", 'S'),
    ERR("space before HTTP/", " HTTP/1.1 200 OK\r\n\r\n", 'S'),
    ERR("empty line before the status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 'S'),
    ERR("ICY protocol", "ICY 200 OK\r\n\r\n", 'S'),
    ERR("HTTP without slash", "HTTP 200 OK\r\n\r\n", 'S'),
    ERR("NUL first", "\0HTTP/1.1 200 OK\r\n\r\n", 'S'),
    /* scanner: limits */
    ERR_OP("head one byte over max_head", "HTTP/1.1 200 OK\r\nX: 1\r\n\r\n", 'S', .max_head = 24),
    ERR_OP("one field over max_fields", R200("A: 1\r\nB: 2\r\nC: 3\r\n"), 'S', .max_fields = 2),
    /* status line, RFC 9112 §4 */
    ERR("HTTP/2 without minor", "HTTP/2 200 OK\r\n\r\n", 'P'),
    ERR("major version 2", "HTTP/2.0 200 OK\r\n\r\n", 'P'),
    ERR("major version 0", "HTTP/0.9 200 OK\r\n\r\n", 'P'),
    ERR("version without minor", "HTTP/1 200 OK\r\n\r\n", 'P'),
    ERR("two-digit minor", "HTTP/1.10 200 OK\r\n\r\n", 'P'),
    ERR("two-digit major", "HTTP/11.1 200 OK\r\n\r\n", 'P'),
    ERR("letter as minor", "HTTP/1.x 200 OK\r\n\r\n", 'P'),
    ERR("two spaces after the version", "HTTP/1.1  200 OK\r\n\r\n", 'P'),
    ERR("tab after the version", "HTTP/1.1\t200 OK\r\n\r\n", 'P'),
    ERR("no status", "HTTP/1.1\r\n\r\n", 'P'),
    ERR("no status after the space", "HTTP/1.1 \r\n\r\n", 'P'),
    ERR("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 'P'),
    ERR("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 'P'),
    ERR("negative status", "HTTP/1.1 -20 OK\r\n\r\n", 'P'),
    ERR("status with a letter", "HTTP/1.1 2x0 OK\r\n\r\n", 'P'),
    ERR("reason without its space", "HTTP/1.1 200OK\r\n\r\n", 'P'),
    ERR("tab before the reason", "HTTP/1.1 200\tOK\r\n\r\n", 'P'),
    ERR("status 099", "HTTP/1.1 099 Low\r\n\r\n", 'P'),
    ERR("status 000", "HTTP/1.1 000\r\n\r\n", 'P'),
    ERR("status 600", "HTTP/1.1 600 High\r\n\r\n", 'P'),
    ERR("status 999", "HTTP/1.1 999\r\n\r\n", 'P'),
    ERR("control byte in the reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 'P'),
    ERR("escape byte in the reason", "HTTP/1.1 200 OK\x1b[31m\r\n\r\n", 'P'),
    ERR("NUL in the reason", "HTTP/1.1 200 O\0K\r\n\r\n", 'P'),
    ERR("DEL in the reason", "HTTP/1.1 200 O\x7fK\r\n\r\n", 'P'),
    ERR("NUL in the version", "HTTP/1\0001 200 OK\r\n\r\n", 'P'),
    /* field lines, RFC 9112 §5 */
    ERR("parenthesis in a name", R200("F(o): x\r\n"), 'P'),
    ERR("quote in a name", R200("F\"o: x\r\n"), 'P'),
    ERR("slash in a name", R200("A/B: x\r\n"), 'P'),
    ERR("non-ASCII in a name", R200("Caf\xc3\xa9: x\r\n"), 'P'),
    ERR("NUL in a name", R200("X\0A: one\r\n"), 'P'),
    ERR("empty field name", R200(": x\r\n"), 'P'),
    ERR("space before the colon", R200("Content-Length : 0\r\n"), 'P'),
    ERR("tab before the colon", R200("Content-Length\t: 0\r\n"), 'P'),
    ERR("obs-fold with a space", R200("X-A: one\r\n two\r\n"), 'P'),
    ERR("obs-fold with a tab", R200("X-A: one\r\n\ttwo\r\n"), 'P'),
    ERR("whitespace before the first field", "HTTP/1.1 200 OK\r\n X-A: 1\r\n\r\n", 'P'),
    ERR("line without a colon", R200("Foo\r\n"), 'P'),
    ERR("line of spaces", R200("   \r\n"), 'P'),
    ERR("NUL in a value", R200("X-A: o\0ne\r\n"), 'P'),
    ERR("control byte in a value", R200("X-A: o\x01ne\r\n"), 'P'),
    ERR("escape byte in a value", R200("X-A: o\x1bne\r\n"), 'P'),
    ERR("vertical tab in a value", R200("X-A: o\x0bne\r\n"), 'P'),
    ERR("DEL in a value", R200("X-A: o\x7fne\r\n"), 'P'),
    ERR("NUL as a whole value", R200("X-A: \0\r\n"), 'P'),
    /* framing, RFC 9112 §6.3 */
    ERR("Content-Length with chunked", R200("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        'A'),
    ERR("chunked with Content-Length", R200("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        'A'),
    ERR("two different Content-Lengths", R200("Content-Length: 1\r\nContent-Length: 0\r\n"), 'A'),
    ERR("two equal Content-Lengths", R200("Content-Length: 5\r\nContent-Length: 5\r\n"), 'A'),
    ERR("Content-Length list of equal values", R200("Content-Length: 5, 5\r\n"), 'A'),
    ERR("Content-Length list of different values", R200("Content-Length: 5, 6\r\n"), 'A'),
    ERR("Content-Length empty", R200("Content-Length:\r\n"), 'A'),
    ERR("Content-Length +5", R200("Content-Length: +5\r\n"), 'A'),
    ERR("Content-Length -1", R200("Content-Length: -1\r\n"), 'A'),
    ERR("Content-Length 0x10", R200("Content-Length: 0x10\r\n"), 'A'),
    ERR("Content-Length 1Z", R200("Content-Length: 1Z\r\n"), 'A'),
    ERR("Content-Length 1 5", R200("Content-Length: 1 5\r\n"), 'A'),
    ERR("Content-Length 5.0", R200("Content-Length: 5.0\r\n"), 'A'),
    ERR("Content-Length 2^63 overflows", R200("Content-Length: 9223372036854775808\r\n"), 'A'),
    ERR("Content-Length 20 digits overflows", R200("Content-Length: 99999999999999999999\r\n"),
        'A'),
    ERR("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        'A'),
    ERR("Transfer-Encoding chunked, gzip (chunked not last)",
        R200("Transfer-Encoding: chunked, gzip\r\n"), 'A'),
    ERR("Transfer-Encoding gzip (no chunked)", R200("Transfer-Encoding: gzip\r\n"), 'A'),
    ERR("Transfer-Encoding identity", R200("Transfer-Encoding: identity\r\n"), 'A'),
    ERR("Transfer-Encoding chunked twice", R200("Transfer-Encoding: chunked, chunked\r\n"), 'A'),
    ERR("Transfer-Encoding chunked in two fields",
        R200("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 'A'),
    ERR("Transfer-Encoding chunked then gzip fields",
        R200("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"), 'A'),
    ERR("Transfer-Encoding gzip, chunked (a coding not decoded)",
        R200("Transfer-Encoding: gzip, chunked\r\n"), 'A'),
    ERR("Transfer-Encoding empty", R200("Transfer-Encoding:\r\n"), 'A'),
    ERR("Transfer-Encoding only commas", R200("Transfer-Encoding: , ,\r\n"), 'A'),
    ERR("Transfer-Encoding chunked with a parameter", R200("Transfer-Encoding: chunked;x=1\r\n"),
        'A'),
    ERR("101 without Upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n",
        'A'),
    /* bodiless responses still forward their fields: they are judged too */
    ERR_OP("HEAD answer with two Content-Lengths",
           R200("Content-Length: 5\r\nContent-Length: 5\r\n"), 'A', .head = 1),
    ERR("304 with Content-Length and chunked",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        'A'),
    ERR("204 with an invalid Content-Length",
        "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n", 'A'),
    ERR("100 with a Transfer-Encoding in HTTP/1.0",
        "HTTP/1.0 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n", 'A'),
    ERR_OP("407 to CONNECT with Content-Length and chunked",
           "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n",
           'A', .connect = 1),
};

static apr_size_t opt_max_head(const opts_t *op)
{
    return op->max_head ? op->max_head : MAX_HEAD;
}

static int opt_max_fields(const opts_t *op)
{
    return op->max_fields ? op->max_fields : MAX_FIELDS;
}

static void test_error_rows(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *c = &error_cases[i];
        outcome_t o;
        run(&o, c->resp, c->len, &c->op);
        if (o.stage != c->stage || o.status != 502) {
            fprintf(stderr, "\n  %s: got %c %d, want %c 502", c->name, o.stage, o.status, c->stage);
        }
        CU_ASSERT_EQUAL(o.stage, c->stage);
        CU_ASSERT_EQUAL(o.status, 502);
        if (o.stage == 'A') {
            CU_ASSERT_EQUAL(o.info.keep_alive, 0);
            CU_ASSERT_EQUAL(o.info.body, KZ_RESP_BODY_CLOSE);
        }
    }
}

/* The scanner decides the same whether the bytes arrive at once or one by one. */
static void test_error_rows_bytewise(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *c = &error_cases[i];
        apr_size_t whole_len = 0, byte_len = 0;
        apr_size_t max_head = opt_max_head(&c->op);
        int max_fields = opt_max_fields(&c->op);
        kz_http_scan_t scan = {0};
        int whole = kz_resp_scan(&scan, c->resp, c->len, max_head, max_fields, &whole_len);
        int bytes = scan_bytewise(c->resp, c->len, max_head, max_fields, &byte_len);
        if (bytes != whole) {
            fprintf(stderr, "\n  %s: bytewise %d, whole %d", c->name, bytes, whole);
        }
        CU_ASSERT_EQUAL(bytes, whole);
        CU_ASSERT_EQUAL(byte_len, whole_len);
        CU_ASSERT_EQUAL(whole, c->stage == 'S' ? 502 : KZ_PARSE_OK);
    }
}

/* Defence in depth: heads the scanner refuses are refused by the parser on its own too. */
static void test_parser_alone_refuses_scanner_errors(void)
{
    static const struct {
        const char *resp;
        apr_size_t len;
    } rows[] = {
        {LIT("HTTP/1.1 200\rOK\r\n\r\n")},
        {LIT("HTTP/1.1 200 OK\r\nX-A: o\rne\r\n\r\n")},
        {LIT("HTTP/1.1 200 OK\r\nX-A: o\nne\r\n\r\n")},
        {LIT("HTTP/1.1 200 OK\nX-A: 1\r\n\r\n")},
        {LIT("HTTP/1.1 200 OK\r\nX-A: 1\n\n")},
        {LIT("HTTP/1.1 200 OK\n\n")},
        {LIT("\r\nHTTP/1.1 200 OK\r\n\r\n")},
        {LIT("http/1.1 200 OK\r\n\r\n")},
        {LIT("<html>\r\n\r\n")},
        {LIT("HTTP/1.1 200 OK\r\n\r\nX-A: 1\r\n\r\n")}, /* an empty line inside the head */
        {LIT("HTTP/1.1 200 OK\r\n\r\n\r\n")},
        {LIT("HTTP/1.1 200\r\n\r")},
        {LIT("HTTP/1.1 20\r\n\r\n")},
        {LIT("\r\n\r\n")},
        {LIT("")},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_resp_head_t head;
        kz_http_field_t fields[4];
        char *buf = apr_pmemdup(kz_test_pool, rows[i].resp, rows[i].len + 1);
        CU_ASSERT_EQUAL(kz_resp_parse(&head, buf, rows[i].len, fields, 4), 502);
    }
}

/* ---- Accepted responses ----------------------------------------------------------------- */

typedef struct valid_case {
    const char *name;
    const char *resp;
    apr_size_t len;
    apr_size_t head_len; /* 0: the whole response */
    int version;
    int status;
    const char *reason;
    int nfields;
    kz_test_field_exp_t fields[6];
} valid_case_t;

static const valid_case_t valid_cases[] = {
    {.name = "200 OK with a length",
     LIT("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "OK",
     .nfields = 2,
     .fields = {{"Content-Type", "text/html"}, {"Content-Length", "5"}}},
    {.name = "empty reason after its space",
     LIT("HTTP/1.1 204 \r\nX-A: 1\r\n\r\n"),
     .version = 11,
     .status = 204,
     .reason = "",
     .nfields = 1,
     .fields = {{"X-A", "1"}}},
    {.name = "empty reason without its space",
     LIT("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "",
     .nfields = 1,
     .fields = {{"Content-Length", "0"}}},
    {.name = "no fields at all",
     LIT("HTTP/1.1 404 Not Found\r\n\r\n"),
     .version = 11,
     .status = 404,
     .reason = "Not Found"},
    {.name = "HTTP/1.0",
     LIT("HTTP/1.0 200 OK\r\nServer: old\r\n\r\n"),
     .version = 10,
     .status = 200,
     .reason = "OK",
     .nfields = 1,
     .fields = {{"Server", "old"}}},
    {.name = "HTTP/1.2 is read as HTTP/1.1 (RFC 9110 2.5)",
     LIT("HTTP/1.2 200 OK\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "OK"},
    {.name = "HTTP/1.9",
     LIT("HTTP/1.9 500 Oops\r\n\r\n"),
     .version = 11,
     .status = 500,
     .reason = "Oops"},
    {.name = "reason with spaces, a tab and obs-text, kept as sent",
     LIT("HTTP/1.1 418 I'm a \tteapot \xc3\xa9\xff \r\n\r\n"),
     .version = 11,
     .status = 418,
     .reason = "I'm a \tteapot \xc3\xa9\xff "},
    {.name = "lowest status 100",
     LIT("HTTP/1.1 100 Continue\r\n\r\n"),
     .version = 11,
     .status = 100,
     .reason = "Continue"},
    {.name = "highest status 599",
     LIT("HTTP/1.1 599 Whatever\r\n\r\n"),
     .version = 11,
     .status = 599,
     .reason = "Whatever"},
    {.name = "unregistered status 299",
     LIT("HTTP/1.1 299 X\r\n\r\n"),
     .version = 11,
     .status = 299,
     .reason = "X"},
    {.name = "OWS trimmed around values",
     LIT("HTTP/1.1 200 OK\r\nX-A:   a b \t\r\nX-B:\tv\r\nX-Empty: \t \r\nX-Tight:v\r\n"
         "X-Nothing:\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "OK",
     .nfields = 5,
     .fields =
         {{"X-A", "a b"}, {"X-B", "v"}, {"X-Empty", ""}, {"X-Tight", "v"}, {"X-Nothing", ""}}},
    {.name = "HTAB and obs-text inside values",
     LIT("HTTP/1.1 200 OK\r\nX-Tab: a\tb\r\nX-Name: caf\xc3\xa9 \xff\x80\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "OK",
     .nfields = 2,
     .fields = {{"X-Tab", "a\tb"}, {"X-Name", "caf\xc3\xa9 \xff\x80"}}},
    {.name = "every tchar in a name, quotes and commas in a value",
     LIT("HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: \"a, b\"; q=1\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "OK",
     .nfields = 1,
     .fields = {{"!#$%&'*+-.^_`|~09azAZ", "\"a, b\"; q=1"}}},
    {.name = "repeated fields kept in order",
     LIT("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\n\r\n"),
     .version = 11,
     .status = 200,
     .reason = "OK",
     .nfields = 3,
     .fields = {{"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}, {"SET-COOKIE", "c=3"}}},
    {.name = "body bytes after the head are left alone",
     LIT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n"),
     .head_len = 38,
     .version = 11,
     .status = 200,
     .reason = "OK",
     .nfields = 1,
     .fields = {{"Content-Length", "5"}}},
};

static void check_valid(const valid_case_t *c, const outcome_t *o)
{
    apr_size_t head_len = c->head_len ? c->head_len : c->len;

    if (o->stage != '-') {
        fprintf(stderr, "\n  %s: got %c %d", c->name, o->stage, o->status);
    }
    CU_ASSERT_EQUAL_FATAL(o->stage, '-');
    CU_ASSERT_EQUAL(o->head_len, head_len);
    CU_ASSERT_EQUAL(o->head.version, c->version);
    CU_ASSERT_EQUAL(o->head.status, c->status);
    CU_ASSERT_STRING_EQUAL(o->head.reason, c->reason); /* NUL-terminated in place */
    kz_test_check_fields(o->head.fields, o->head.nfields, c->fields, c->nfields, o->buf, head_len);
    CU_ASSERT(memcmp(o->buf + head_len, c->resp + head_len, c->len - head_len) == 0);
}

static void test_valid_rows(void)
{
    const opts_t op = {0};

    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case_t *c = &valid_cases[i];
        outcome_t o;
        apr_size_t byte_len;
        run(&o, c->resp, c->len, &op);
        check_valid(c, &o);
        CU_ASSERT_EQUAL(scan_bytewise(c->resp, c->len, MAX_HEAD, MAX_FIELDS, &byte_len),
                        KZ_PARSE_OK);
        CU_ASSERT_EQUAL(byte_len, o.head_len);
    }
}

static void test_many_fields(void)
{
    char *resp =
        apr_pstrcat(kz_test_pool, "HTTP/1.1 200 OK\r\n", kz_test_many_fields(100), "\r\n", NULL);
    const opts_t op = {0};
    outcome_t o;

    run(&o, resp, strlen(resp), &op);
    CU_ASSERT_EQUAL_FATAL(o.stage, '-');
    CU_ASSERT_EQUAL_FATAL(o.head.nfields, 100);
    CU_ASSERT_STRING_EQUAL(o.head.fields[0].name, "X-F0");
    CU_ASSERT_STRING_EQUAL(o.head.fields[57].name, "X-F57");
    CU_ASSERT_STRING_EQUAL(o.head.fields[57].value, "57");
    CU_ASSERT_STRING_EQUAL(o.head.fields[99].value, "99");
    CU_ASSERT_EQUAL(o.info.body, KZ_RESP_BODY_CLOSE);
}

/* ---- Limits ----------------------------------------------------------------------------- */

/* "HTTP/1.1 200 OK" CRLF "X: vvv…" CRLF CRLF of exactly total bytes (total >= 25). */
static char *head_of(apr_size_t total)
{
    apr_size_t n = total - strlen("HTTP/1.1 200 OK\r\nX: \r\n\r\n");
    char *v = apr_palloc(kz_test_pool, n + 1);
    memset(v, 'v', n);
    v[n] = '\0';
    return apr_pstrcat(kz_test_pool, "HTTP/1.1 200 OK\r\nX: ", v, "\r\n\r\n", NULL);
}

static void test_max_head_boundary(void)
{
    static const apr_size_t sizes[] = {25, 100, 4096, 65536};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        apr_size_t n = sizes[i], head_len = 0;
        char *resp = head_of(n);
        kz_http_scan_t scan = {0};
        CU_ASSERT_EQUAL_FATAL(strlen(resp), n);
        /* exactly max_head: accepted, whole and byte by byte */
        CU_ASSERT_EQUAL(kz_resp_scan(&scan, resp, n, n, 10, &head_len), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(head_len, n);
        CU_ASSERT_EQUAL(scan_bytewise(resp, n, n, 10, &head_len), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(head_len, n);
        /* max_head + 1: refused, whole and byte by byte */
        memset(&scan, 0, sizeof(scan));
        CU_ASSERT_EQUAL(kz_resp_scan(&scan, resp, n, n - 1, 10, &head_len), 502);
        CU_ASSERT_EQUAL(scan_bytewise(resp, n, n - 1, 10, &head_len), 502);
    }
}

/* A head that never ends is refused once it passes max_head, not before, and without its LF. */
static void test_endless_head(void)
{
    apr_size_t len = 10000, head_len = 0;
    char *buf = apr_palloc(kz_test_pool, len);
    kz_http_scan_t scan = {0};

    memcpy(buf, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(buf + 20, 'v', len - 20);
    for (apr_size_t have = 500; have <= len; have += 500) {
        int rc = kz_resp_scan(&scan, buf, have, 4096, 10, &head_len);
        CU_ASSERT_EQUAL(rc, have <= 4096 ? KZ_PARSE_AGAIN : 502);
        if (rc != KZ_PARSE_AGAIN) {
            break;
        }
        CU_ASSERT_EQUAL(scan.pos, have); /* resumes where it stopped */
    }
    memset(&scan, 0, sizeof(scan));
    CU_ASSERT_EQUAL(kz_resp_scan(&scan, buf, 4096, 4096, 10, &head_len), KZ_PARSE_AGAIN);
    CU_ASSERT_EQUAL(kz_resp_scan(&scan, buf, 4097, 4096, 10, &head_len), 502);
}

/* The last CR of a head of exactly max_head bytes arrives alone: not over yet. */
static void test_pending_cr_at_limit(void)
{
    char *resp = head_of(64);
    apr_size_t head_len = 0;
    kz_http_scan_t scan = {0};

    CU_ASSERT_EQUAL(kz_resp_scan(&scan, resp, 63, 64, 10, &head_len), KZ_PARSE_AGAIN);
    CU_ASSERT_EQUAL(scan.pos, 62); /* the CR is looked at again */
    CU_ASSERT_EQUAL(kz_resp_scan(&scan, resp, 64, 64, 10, &head_len), KZ_PARSE_OK);
    CU_ASSERT_EQUAL(head_len, 64);
}

static void test_max_fields_boundary(void)
{
    for (int n = 0; n <= 40; n += 8) {
        char *resp =
            apr_pstrcat(kz_test_pool, "HTTP/1.1 200 OK\r\n", kz_test_many_fields(n), "\r\n", NULL);
        apr_size_t len = strlen(resp), head_len = 0;
        kz_http_field_t fields[41];
        kz_resp_head_t head;
        kz_http_scan_t scan = {0};
        int max = n > 0 ? n : 1;

        /* exactly max_fields: scanner and parser accept */
        CU_ASSERT_EQUAL(kz_resp_scan(&scan, resp, len, MAX_HEAD, max, &head_len), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(scan_bytewise(resp, len, MAX_HEAD, max, &head_len), KZ_PARSE_OK);
        char *buf = apr_pstrdup(kz_test_pool, resp);
        CU_ASSERT_EQUAL(kz_resp_parse(&head, buf, len, fields, max), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(head.nfields, n);
        if (n == 0) {
            continue;
        }
        /* max_fields + 1 fields: both refuse, each on its own */
        memset(&scan, 0, sizeof(scan));
        CU_ASSERT_EQUAL(kz_resp_scan(&scan, resp, len, MAX_HEAD, n - 1, &head_len), 502);
        CU_ASSERT_EQUAL(scan_bytewise(resp, len, MAX_HEAD, n - 1, &head_len), 502);
        buf = apr_pstrdup(kz_test_pool, resp);
        CU_ASSERT_EQUAL(kz_resp_parse(&head, buf, len, fields, n - 1), 502);
    }
}

/* ---- Scanner behaviour ------------------------------------------------------------------ */

/* A backend that does not speak HTTP/1.x is refused on its first wrong byte. */
static void test_not_http_refused_early(void)
{
    static const struct {
        const char *bytes;
        int rc;
    } rows[] = {
        {"", KZ_PARSE_AGAIN},
        {"H", KZ_PARSE_AGAIN},
        {"HTTP", KZ_PARSE_AGAIN},
        {"HTTP/", KZ_PARSE_AGAIN},
        {"X", 502},
        {"HTTX", 502},
        {"<", 502},
        {"\r", 502},
        {"h", 502},
        {"HTTP/1.1 200 OK", KZ_PARSE_AGAIN},
    };
    apr_size_t head_len = 0;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_http_scan_t scan = {0};
        CU_ASSERT_EQUAL(kz_resp_scan(&scan, rows[i].bytes, strlen(rows[i].bytes), MAX_HEAD,
                                     MAX_FIELDS, &head_len),
                        rows[i].rc);
    }
}

/* A scan state that claims more bytes than the buffer holds is refused, not trusted. */
static void test_scan_state_checked(void)
{
    const char resp[] = "HTTP/1.1 200 OK\r\n\r\n";
    apr_size_t head_len = 0;
    kz_http_scan_t ahead = {.pos = 30};
    kz_http_scan_t crossed = {.pos = 2, .line_start = 5};

    CU_ASSERT_EQUAL(kz_resp_scan(&ahead, resp, sizeof(resp) - 1, MAX_HEAD, 10, &head_len), 502);
    CU_ASSERT_EQUAL(kz_resp_scan(&crossed, resp, sizeof(resp) - 1, MAX_HEAD, 10, &head_len), 502);
}

/* Fed at random splits, the scanner finds the same end; the body after it is not read. */
static void test_scan_random_splits(void)
{
    const char resp[] = "HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 9\r\n\r\n\r\n\nbody\r\r\n";
    apr_size_t len = sizeof(resp) - 1;
    unsigned seed = 4242;

    for (int round = 0; round < 500; round++) {
        kz_http_scan_t scan = {0};
        apr_size_t have = 0, head_len = 0;
        int rc = KZ_PARSE_AGAIN;
        while (rc == KZ_PARSE_AGAIN && have < len) {
            seed = seed * 1103515245u + 12345u;
            have += 1 + (seed >> 16) % 7;
            have = have > len ? len : have;
            rc = kz_resp_scan(&scan, resp, have, MAX_HEAD, 10, &head_len);
        }
        CU_ASSERT_EQUAL(rc, KZ_PARSE_OK);
        CU_ASSERT_EQUAL(head_len, 46);
    }
}

/* After an interim response the next head is scanned with a fresh state from its first byte. */
static void test_interim_then_final(void)
{
    const char stream[] =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char *buf = apr_pmemdup(kz_test_pool, stream, sizeof(stream));
    apr_size_t at = 0, len = sizeof(stream) - 1;
    static const int statuses[] = {100, 103, 200};

    for (int i = 0; i < 3; i++) {
        kz_http_scan_t scan = {0};
        kz_http_field_t fields[4];
        kz_resp_head_t head;
        kz_resp_info_t info;
        apr_size_t head_len = 0;
        CU_ASSERT_EQUAL_FATAL(kz_resp_scan(&scan, buf + at, len - at, MAX_HEAD, 4, &head_len),
                              KZ_PARSE_OK);
        CU_ASSERT_EQUAL_FATAL(kz_resp_parse(&head, buf + at, head_len, fields, 4), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(kz_resp_analyze(&info, &head, 0, 0), KZ_PARSE_OK);
        CU_ASSERT_EQUAL(head.status, statuses[i]);
        CU_ASSERT_EQUAL(info.interim, i < 2);
        at += head_len;
    }
    CU_ASSERT_EQUAL(len - at, 2);
    CU_ASSERT(memcmp(buf + at, "ok", 2) == 0);
}

/* ---- Framing ---------------------------------------------------------------------------- */

typedef struct framing_case {
    const char *name;
    const char *resp;
    int head, connect;
    kz_resp_body_e body;
    apr_off_t length;
    int keep_alive, upgrade, interim;
} framing_case_t;

#define NONE    KZ_RESP_BODY_NONE
#define LENGTH  KZ_RESP_BODY_LENGTH
#define CHUNKED KZ_RESP_BODY_CHUNKED
#define CLOSE   KZ_RESP_BODY_CLOSE

static const framing_case_t framing_cases[] = {
    /* name, response, HEAD, CONNECT, body, length, keep_alive, upgrade, interim */
    {"200 with Content-Length", R200("Content-Length: 5\r\n"), 0, 0, LENGTH, 5, 1, 0, 0},
    {"200 with Content-Length 0", R200("Content-Length: 0\r\n"), 0, 0, LENGTH, 0, 1, 0, 0},
    {"200 with a trimmed Content-Length", R200("Content-Length:  42 \r\n"), 0, 0, LENGTH, 42, 1, 0,
     0},
    {"200 with leading zeros", R200("Content-Length: 007\r\n"), 0, 0, LENGTH, 7, 1, 0, 0},
    {"200 with the largest Content-Length", R200("Content-Length: 9223372036854775807\r\n"), 0, 0,
     LENGTH, APR_INT64_MAX, 1, 0, 0},
    {"200 chunked", R200("Transfer-Encoding: chunked\r\n"), 0, 0, CHUNKED, -1, 1, 0, 0},
    {"200 Chunked in capitals", R200("transfer-encoding: CHUNKED\r\n"), 0, 0, CHUNKED, -1, 1, 0, 0},
    {"200 chunked with empty list elements", R200("Transfer-Encoding: , chunked ,\r\n"), 0, 0,
     CHUNKED, -1, 1, 0, 0},
    {"200 without length: until close", R200("X-A: 1\r\n"), 0, 0, CLOSE, -1, 0, 0, 0},
    {"200 with Connection: close", R200("Connection: close\r\nContent-Length: 3\r\n"), 0, 0, LENGTH,
     3, 0, 0, 0},
    {"200 with close among other options",
     R200("Connection: keep-alive, , Close\r\nTransfer-Encoding: chunked\r\n"), 0, 0, CHUNKED, -1,
     0, 0, 0},
    {"HTTP/1.0 200 with length", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", 0, 0, LENGTH, 3, 0,
     0, 0},
    {"HTTP/1.0 200 with keep-alive",
     "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\n", 0, 0, LENGTH, 3, 1,
     0, 0},
    {"HTTP/1.0 keep-alive without length: until close",
     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, 0, CLOSE, -1, 0, 0, 0},
    {"500 chunked", "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, CHUNKED, -1, 1,
     0, 0},
    {"205 keeps its framing", "HTTP/1.1 205 Reset\r\nContent-Length: 0\r\n\r\n", 0, 0, LENGTH, 0, 1,
     0, 0},
    /* RFC 9112 §6.3 item 1 */
    {"HEAD answer with Content-Length", R200("Content-Length: 100\r\n"), 1, 0, NONE, -1, 1, 0, 0},
    {"HEAD answer chunked", R200("Transfer-Encoding: chunked\r\n"), 1, 0, NONE, -1, 1, 0, 0},
    {"HEAD answer without length", R200(""), 1, 0, NONE, -1, 1, 0, 0},
    {"HEAD answer, HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\n", 1, 0, NONE, -1, 0, 0,
     0},
    {"HEAD answer with close", R200("Connection: close\r\n"), 1, 0, NONE, -1, 0, 0, 0},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, NONE, -1, 1, 0, 0},
    {"204 with Content-Length 0", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 0, 0,
     NONE, -1, 1, 0, 0},
    {"304 with the length of the full body",
     "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", 0, 0, NONE, -1, 1, 0, 0},
    {"304 with chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
     NONE, -1, 1, 0, 0},
    {"100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", 0, 0, NONE, -1, 0, 0, 1},
    {"102 Processing", "HTTP/1.1 102 Processing\r\n\r\n", 0, 0, NONE, -1, 0, 0, 1},
    {"103 Early Hints with Link", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
     0, 0, NONE, -1, 0, 0, 1},
    {"199 is interim too", "HTTP/1.1 199 X\r\nContent-Length: 5\r\n\r\n", 0, 0, NONE, -1, 0, 0, 1},
    {"100 to HEAD", "HTTP/1.1 100 Continue\r\n\r\n", 1, 0, NONE, -1, 0, 0, 1},
    /* 101, RFC 9110 §15.2.2 */
    {"101 to websocket",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, 0,
     NONE, -1, 0, 1, 0},
    {"101 with a lowercase upgrade field", "HTTP/1.1 101 \r\nupgrade: h2c\r\n\r\n", 0, 0, NONE, -1,
     0, 1, 0},
    /* RFC 9112 §6.3 item 2 */
    {"CONNECT 200: tunnel", "HTTP/1.1 200 Connection Established\r\n\r\n", 0, 1, NONE, -1, 0, 0, 0},
    {"CONNECT 200 ignores Content-Length and chunked",
     R200("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 0, 1, NONE, -1, 0, 0, 0},
    {"CONNECT 204 is a tunnel too", "HTTP/1.1 204 OK\r\n\r\n", 0, 1, NONE, -1, 0, 0, 0},
    {"CONNECT 407 has a body", "HTTP/1.1 407 Auth\r\nContent-Length: 10\r\n\r\n", 0, 1, LENGTH, 10,
     1, 0, 0},
    {"CONNECT 502 until close", "HTTP/1.1 502 Bad\r\n\r\n", 0, 1, CLOSE, -1, 0, 0, 0},
    {"CONNECT 100 is interim", "HTTP/1.1 100 Continue\r\n\r\n", 0, 1, NONE, -1, 0, 0, 1},
};

static void test_framing_rows(void)
{
    for (size_t i = 0; i < sizeof(framing_cases) / sizeof(framing_cases[0]); i++) {
        const framing_case_t *c = &framing_cases[i];
        const opts_t op = {.head = c->head, .connect = c->connect};
        outcome_t o;
        run(&o, c->resp, strlen(c->resp), &op);
        if (o.stage != '-' || o.info.body != c->body || o.info.keep_alive != c->keep_alive) {
            fprintf(stderr, "\n  %s: got %c %d body %d keep-alive %d", c->name, o.stage, o.status,
                    o.info.body, o.info.keep_alive);
        }
        CU_ASSERT_EQUAL_FATAL(o.stage, '-');
        CU_ASSERT_EQUAL(o.info.body, c->body);
        CU_ASSERT_EQUAL(o.info.length, c->length);
        CU_ASSERT_EQUAL(o.info.keep_alive, c->keep_alive);
        CU_ASSERT_EQUAL(o.info.upgrade, c->upgrade);
        CU_ASSERT_EQUAL(o.info.interim, c->interim);
    }
}

/*
 * Every status class against every method, with "Content-Length: 7" (and Upgrade for 101):
 * body[m] and keep[m] give the expected framing for GET, HEAD, CONNECT ('N'one, 'L'ength).
 */
static void test_framing_matrix(void)
{
    static const struct {
        int status;
        const char *body;
        const char *keep;
    } rows[] = {
        {100, "NNN", "000"}, {101, "NNN", "000"}, {103, "NNN", "000"}, {200, "LNN", "110"},
        {201, "LNN", "110"}, {204, "NNN", "110"}, {206, "LNN", "110"}, {301, "LNL", "111"},
        {304, "NNN", "111"}, {404, "LNL", "111"}, {503, "LNL", "111"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int m = 0; m < 3; m++) {
            const opts_t op = {.head = m == 1, .connect = m == 2};
            char *resp = apr_psprintf(kz_test_pool,
                                      "HTTP/1.1 %d X\r\nContent-Length: 7\r\nUpgrade: y\r\n\r\n",
                                      rows[i].status);
            outcome_t o;
            run(&o, resp, strlen(resp), &op);
            CU_ASSERT_EQUAL_FATAL(o.stage, '-');
            CU_ASSERT_EQUAL(o.info.body, rows[i].body[m] == 'L' ? LENGTH : NONE);
            CU_ASSERT_EQUAL(o.info.length, rows[i].body[m] == 'L' ? 7 : -1);
            CU_ASSERT_EQUAL(o.info.keep_alive, rows[i].keep[m] == '1');
            CU_ASSERT_EQUAL(o.info.upgrade, rows[i].status == 101);
            CU_ASSERT_EQUAL(o.info.interim, rows[i].status < 200 && rows[i].status != 101);
        }
    }
}

/* ---- Hop-by-hop fields ------------------------------------------------------------------ */

/* Parses "HTTP/1.1 200 OK" CRLF fields CRLF and builds its hop-by-hop set. */
static int hop_of(kz_hop_t *hop, kz_resp_head_t *head, kz_http_field_t *fields, int max,
                  const char *lines)
{
    char *buf = apr_pstrcat(kz_test_pool, "HTTP/1.1 200 OK\r\n", lines, "\r\n", NULL);

    CU_ASSERT_EQUAL_FATAL(kz_resp_parse(head, buf, strlen(buf), fields, max), KZ_PARSE_OK);
    return kz_hop_init(hop, head->fields, head->nfields);
}

#define IS_HOP(hop, s) kz_hop_is(hop, s, strlen(s))

static void test_hop_fixed(void)
{
    kz_hop_t hop;
    static const char *yes[] = {
        "Connection",        "connection",       "CONNECTION", "Keep-Alive", "keep-alive",
        "Proxy-Connection",  "PROXY-connection", "TE",         "te",         "Transfer-Encoding",
        "transfer-ENCODING", "Upgrade",          "upgrade"};
    static const char *no[] = {
        "Content-Length", "Host",        "Trailer",  "Trailers", "t",          "tee",
        "keepalive",      "Connections", "Upgrade-", "",         "Set-Cookie", "X-Forwarded-For"};

    CU_ASSERT_EQUAL(kz_hop_init(&hop, NULL, 0), 0);
    CU_ASSERT_EQUAL(hop.n, 0);
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        CU_ASSERT_EQUAL(IS_HOP(&hop, yes[i]), 1);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        CU_ASSERT_EQUAL(IS_HOP(&hop, no[i]), 0);
    }
    /* the length decides, not a NUL: a prefix of a fixed name is not one */
    CU_ASSERT_EQUAL(kz_hop_is(&hop, "Upgrade", 3), 0);
    CU_ASSERT_EQUAL(kz_hop_is(&hop, "TE-x", 2), 1);
}

static void test_hop_connection_lists(void)
{
    kz_http_field_t fields[8];
    kz_resp_head_t head;
    kz_hop_t hop;

    CU_ASSERT_EQUAL(hop_of(&hop, &head, fields, 8,
                           "Connection: X-Foo, , x-bar ,,\t X-Baz\t\r\nX-Foo: 1\r\n"
                           "connection: close\r\n"),
                    0);
    CU_ASSERT_EQUAL(hop.n, 4);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "x-FOO"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-Bar"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-BAZ"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "Close"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "x-ba"), 0);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "x-bazz"), 0);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-Qux"), 0);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "Keep-Alive"), 1);
    /* names point into the Connection value, without its OWS */
    CU_ASSERT_PTR_EQUAL(hop.names[0], fields[0].value);
    CU_ASSERT_EQUAL(hop.lens[0], 5);
    CU_ASSERT_EQUAL(hop.lens[1], 5);
    CU_ASSERT(memcmp(hop.names[2], "X-Baz", 5) == 0);

    /* fixed names and repeats are not stored again; non-tokens are skipped */
    CU_ASSERT_EQUAL(hop_of(&hop, &head, fields, 8,
                           "Connection: keep-alive, Upgrade, X-A, x-a, X-A, TE\r\n"
                           "Connection: a b, c;d, \"q\", e\r\n"),
                    0);
    CU_ASSERT_EQUAL(hop.n, 2);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "x-A"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "E"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "a"), 0);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "c"), 0);

    /* empty and whitespace-only Connection values; a field not named Connection */
    CU_ASSERT_EQUAL(hop_of(&hop, &head, fields, 8,
                           "Connection:\r\nConnection: , ,\t\r\nConnections: X-Z\r\nX-Y: X-Z\r\n"),
                    0);
    CU_ASSERT_EQUAL(hop.n, 0);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-Z"), 0);
}

/* "t0, t1, …" naming n distinct fields from first on. */
static char *token_list(int first, int n)
{
    char *s = "";
    for (int i = first; i < first + n; i++) {
        s = apr_psprintf(kz_test_pool, "%s%sX-T%d", s, i > first ? ", " : "", i);
    }
    return s;
}

static void test_hop_limit(void)
{
    kz_http_field_t fields[4];
    kz_resp_head_t head;
    kz_hop_t hop;
    char *lines;

    lines = apr_pstrcat(kz_test_pool, "Connection: ", token_list(0, 32), "\r\n", NULL);
    CU_ASSERT_EQUAL(hop_of(&hop, &head, fields, 4, lines), 0);
    CU_ASSERT_EQUAL(hop.n, 32);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "x-t0"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-T31"), 1);

    lines = apr_pstrcat(kz_test_pool, "Connection: ", token_list(0, 33), "\r\n", NULL);
    CU_ASSERT_NOT_EQUAL(hop_of(&hop, &head, fields, 4, lines), 0);
    CU_ASSERT_EQUAL(hop.n, 32);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-T31"), 1);
    CU_ASSERT_EQUAL(IS_HOP(&hop, "X-T32"), 0);

    /* 32 distinct plus repeats and fixed names: within the limit */
    lines = apr_pstrcat(kz_test_pool, "Connection: ", token_list(0, 32),
                        ", X-T0, x-t31, TE, keep-alive, upgrade\r\n", NULL);
    CU_ASSERT_EQUAL(hop_of(&hop, &head, fields, 4, lines), 0);
    CU_ASSERT_EQUAL(hop.n, 32);

    /* "close" is a name like any other (RFC 9110 reserves the field name Close): the 33rd */
    lines = apr_pstrcat(kz_test_pool, "Connection: ", token_list(0, 32), ", close\r\n", NULL);
    CU_ASSERT_NOT_EQUAL(hop_of(&hop, &head, fields, 4, lines), 0);

    /* the limit counts over all Connection fields together */
    lines = apr_pstrcat(kz_test_pool, "Connection: ", token_list(0, 20),
                        "\r\nConnection: ", token_list(20, 20), "\r\n", NULL);
    CU_ASSERT_NOT_EQUAL(hop_of(&hop, &head, fields, 4, lines), 0);
    CU_ASSERT_EQUAL(hop.n, 32);
}

/* What a proxy forwards: the fields that are not hop-by-hop, in order. */
static void test_hop_filter_response(void)
{
    const char *resp = "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\n"
                       "Keep-Alive: timeout=5\r\nX-Secret: 1\r\nContent-Length: 2\r\n"
                       "Transfer-Encoding: chunked\r\nx-secret: 2\r\nX-Public: 3\r\n\r\n";
    const opts_t op = {0};
    const char *kept[8];
    int nkept = 0;
    kz_hop_t hop;
    outcome_t o;

    run(&o, resp, strlen(resp), &op);
    CU_ASSERT_EQUAL(o.stage, 'A'); /* CL + TE: refused, but its fields parsed */
    CU_ASSERT_EQUAL(kz_hop_init(&hop, o.head.fields, o.head.nfields), 0);
    for (int i = 0; i < o.head.nfields; i++) {
        if (!kz_hop_is(&hop, o.head.fields[i].name, o.head.fields[i].name_len)) {
            kept[nkept++] = o.head.fields[i].name;
        }
    }
    CU_ASSERT_EQUAL_FATAL(nkept, 2);
    CU_ASSERT_STRING_EQUAL(kept[0], "Content-Length");
    CU_ASSERT_STRING_EQUAL(kept[1], "X-Public");
}

static const kz_test_case_t cases[] = {
    {"rejected responses (502)", test_error_rows},
    {"rejected responses, scanned byte by byte", test_error_rows_bytewise},
    {"parser alone refuses what the scanner refuses", test_parser_alone_refuses_scanner_errors},
    {"accepted responses, exact fields", test_valid_rows},
    {"100 fields", test_many_fields},
    {"max_head at max and max+1", test_max_head_boundary},
    {"endless head refused past max_head", test_endless_head},
    {"pending CR at max_head", test_pending_cr_at_limit},
    {"max_fields at max and max+1", test_max_fields_boundary},
    {"not HTTP refused on the first bytes", test_not_http_refused_early},
    {"scan state checked", test_scan_state_checked},
    {"scanner over random splits", test_scan_random_splits},
    {"interim responses then the final one", test_interim_then_final},
    {"framing rows", test_framing_rows},
    {"framing matrix: status x method", test_framing_matrix},
    {"hop-by-hop: fixed names", test_hop_fixed},
    {"hop-by-hop: Connection lists", test_hop_connection_lists},
    {"hop-by-hop: 32 names", test_hop_limit},
    {"hop-by-hop: filtering a response", test_hop_filter_response},
    {NULL, NULL},
};

KZ_TEST_SUITE(upstream_http, cases)
