/*
 * Tests of server/range.c: Range fields parsed, clamped, sorted and merged (RFC 9110 §14.1.1,
 * §14.2), what is ignored, refused or unsatisfiable, and the 206 bodies built from segments
 * (one part with Content-Range, or multipart/byteranges, §14.6).
 */
#include "kz_test.h"
#include "range.h"

#include <apr_strings.h>
#include <string.h>

/* The ranges as "a-b,c-d" for comparing. */
static const char *ranges_text(const kz_range_t *r, int n)
{
    const char *s = "";

    for (int i = 0; i < n; i++) {
        s = apr_psprintf(kz_test_pool, "%s%s%" APR_OFF_T_FMT "-%" APR_OFF_T_FMT, s, i ? "," : "",
                         r[i].first, r[i].last);
    }
    return s;
}

static void test_parse(void)
{
    static const struct {
        const char *name, *value;
        apr_off_t size;
        int max;
        kz_range_result_e want;
        const char *ranges;
    } rows[] = {
        {"one range", "bytes=0-4", 100, 16, KZ_RANGE_OK, "0-4"},
        {"open end", "bytes=90-", 100, 16, KZ_RANGE_OK, "90-99"},
        {"suffix", "bytes=-10", 100, 16, KZ_RANGE_OK, "90-99"},
        {"suffix longer than file", "bytes=-500", 100, 16, KZ_RANGE_OK, "0-99"},
        {"last clamped", "bytes=50-1000", 100, 16, KZ_RANGE_OK, "50-99"},
        {"unit case-insensitive", "Bytes=1-2", 100, 16, KZ_RANGE_OK, "1-2"},
        {"two ranges", "bytes=0-4,10-14", 100, 16, KZ_RANGE_OK, "0-4,10-14"},
        {"spaces and empty members", "bytes= 0-4 , ,10-14,", 100, 16, KZ_RANGE_OK, "0-4,10-14"},
        {"sorted", "bytes=10-14,0-4", 100, 16, KZ_RANGE_OK, "0-4,10-14"},
        {"overlap merged", "bytes=0-10,5-20", 100, 16, KZ_RANGE_OK, "0-20"},
        {"adjacent merged", "bytes=0-4,5-9", 100, 16, KZ_RANGE_OK, "0-9"},
        {"contained merged", "bytes=0-50,10-20", 100, 16, KZ_RANGE_OK, "0-50"},
        {"suffix merged with start", "bytes=0-,-10", 100, 16, KZ_RANGE_OK, "0-99"},
        {"many overlapping whole ranges", "bytes=0-,0-,0-,0-,0-,0-,0-,0-", 100, 16, KZ_RANGE_OK,
         "0-99"},
        {"one of two unsatisfiable", "bytes=0-1,200-300", 100, 16, KZ_RANGE_OK, "0-1"},
        {"huge numbers saturate", "bytes=5-99999999999999999999999", 100, 16, KZ_RANGE_OK, "5-99"},
        {"at the limit", "bytes=0-0,2-2,4-4", 100, 3, KZ_RANGE_OK, "0-0,2-2,4-4"},
        {"start past end", "bytes=100-200", 100, 16, KZ_RANGE_UNSATISFIABLE, NULL},
        {"suffix of zero", "bytes=-0", 100, 16, KZ_RANGE_UNSATISFIABLE, NULL},
        {"empty file", "bytes=0-", 0, 16, KZ_RANGE_UNSATISFIABLE, NULL},
        {"empty file suffix", "bytes=-5", 0, 16, KZ_RANGE_UNSATISFIABLE, NULL},
        {"huge start", "bytes=99999999999999999999999-", 100, 16, KZ_RANGE_UNSATISFIABLE, NULL},
        {"too many", "bytes=0-0,2-2,4-4,6-6", 100, 3, KZ_RANGE_TOO_MANY, NULL},
        {"too many counts unsatisfiable ones", "bytes=0-0,500-,600-,700-", 100, 3,
         KZ_RANGE_TOO_MANY, NULL},
        {"other unit", "items=0-4", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"no equals", "bytes 0-4", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"nothing", "bytes=", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"last before first", "bytes=5-4", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"one bad member spoils all", "bytes=0-4,x-5", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"no dash", "bytes=5", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"dash alone", "bytes=-", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"negative", "bytes=--5", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"trailing junk", "bytes=0-4x", 100, 16, KZ_RANGE_IGNORE, NULL},
        {"sign", "bytes=+1-2", 100, 16, KZ_RANGE_IGNORE, NULL},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_range_t *r = NULL;
        int n = 0;
        kz_range_result_e got =
            kz_range_parse(&r, &n, rows[i].value, rows[i].size, rows[i].max, kz_test_pool);

        if (got != rows[i].want) {
            fprintf(stderr, "\n  %s: result %d, want %d\n", rows[i].name, got, rows[i].want);
        }
        CU_ASSERT_EQUAL(got, rows[i].want);
        if (rows[i].ranges && got == KZ_RANGE_OK) {
            const char *text = ranges_text(r, n);
            if (strcmp(text, rows[i].ranges) != 0) {
                fprintf(stderr, "\n  %s: %s, want %s\n", rows[i].name, text, rows[i].ranges);
            }
            CU_ASSERT_STRING_EQUAL(text, rows[i].ranges);
        }
    }
}

static void test_bounded_work(void)
{
    /* A field of 5,000 tiny ranges is refused at the limit, not parsed and sorted. */
    char *value = apr_pstrdup(kz_test_pool, "bytes=");
    kz_range_t *r;
    int n;

    for (int i = 0; i < 5000; i++) {
        value = apr_psprintf(kz_test_pool, "%s%d-%d,", value, 2 * i, 2 * i);
    }
    CU_ASSERT_EQUAL(kz_range_parse(&r, &n, value, 100000, 16, kz_test_pool), KZ_RANGE_TOO_MANY);
    CU_ASSERT_EQUAL(kz_range_parse(&r, &n, NULL, 100, 16, kz_test_pool), KZ_RANGE_IGNORE);
}

/* A request just complete enough for the response helpers (as test_response.c builds one). */
typedef struct fixture {
    kz_loop_t loop;
    kz_conn_t conn;
    kz_config_t config;
    kz_runconf_t rc;
    kz_conf_t conf;
    kz_request_t r;
} fixture_t;

static kz_request_t *make_request(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->conn.loop = &f->loop;
    f->config.global.server_header = "Karpacz";
    f->rc.config = &f->config;
    f->r.pool = kz_test_pool;
    f->r.conn = &f->conn;
    f->r.rc = &f->rc;
    f->r.conf = &f->conf;
    f->r.head.version = 11;
    f->r.headers = apr_array_make(kz_test_pool, 4, sizeof(kz_header_pair_t));
    return &f->r;
}

/* The body's bytes, segments of memory only. */
static const char *body_text(const kz_request_t *r)
{
    const char *s = "";

    for (int i = 0; i < r->nsegs; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(r->segs[i].data);
        s = apr_pstrcat(kz_test_pool, s,
                        apr_pstrmemdup(kz_test_pool, r->segs[i].data, (apr_size_t)r->segs[i].len),
                        NULL);
    }
    return s;
}

static void test_single_part(void)
{
    fixture_t f;
    kz_request_t *r = make_request(&f);
    kz_range_t one = {2, 5};

    kz_range_respond(r, &one, 1, 10, "text/plain", "0123456789", NULL);
    CU_ASSERT_EQUAL(r->status, 206);
    CU_ASSERT_STRING_EQUAL(kz_response_header_get(r, "Content-Range"), "bytes 2-5/10");
    CU_ASSERT_STRING_EQUAL(kz_response_header_get(r, "Content-Type"), "text/plain");
    CU_ASSERT_EQUAL(r->body_len, 4);
    CU_ASSERT_STRING_EQUAL(body_text(r), "2345");
}

static void test_multipart(void)
{
    fixture_t f;
    kz_request_t *r = make_request(&f);
    kz_range_t two[] = {{0, 1}, {8, 9}};
    const char *type, *b, *want;

    kz_range_respond(r, two, 2, 10, "text/plain; charset=utf-8", "0123456789", NULL);
    CU_ASSERT_EQUAL(r->status, 206);
    CU_ASSERT_PTR_NULL(kz_response_header_get(r, "Content-Range"));
    type = kz_response_header_get(r, "Content-Type");
    CU_ASSERT_NSTRING_EQUAL(type, "multipart/byteranges; boundary=", 31);
    b = type + 31;
    CU_ASSERT_EQUAL(strlen(b), 18);
    want = apr_pstrcat(kz_test_pool, "--", b,
                       "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes "
                       "0-1/10\r\n\r\n01\r\n--",
                       b,
                       "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes "
                       "8-9/10\r\n\r\n89\r\n--",
                       b, "--\r\n", NULL);
    CU_ASSERT_STRING_EQUAL(body_text(r), want);
    CU_ASSERT_EQUAL(r->body_len, (apr_off_t)strlen(want));
}

static void test_multipart_file_segments(void)
{
    /* Parts of a file are file segments (sent with sendfile), never copies. */
    fixture_t f, g;
    kz_request_t *r = make_request(&f), *r2;
    kz_range_t three[] = {{0, 9}, {100, 199}, {1000, 1000}};
    apr_file_t *file = (apr_file_t *)&f; /* never dereferenced */
    const char *b1, *b2;

    kz_range_respond(r, three, 3, 5000, "application/pdf", NULL, file);
    CU_ASSERT_EQUAL(r->nsegs, 7);
    for (int i = 0; i < 3; i++) {
        kz_body_seg_t *s = &r->segs[2 * i + 1];
        CU_ASSERT_PTR_NULL(s->data);
        CU_ASSERT_PTR_EQUAL(s->file, file);
        CU_ASSERT_EQUAL(s->offset, three[i].first);
        CU_ASSERT_EQUAL(s->len, three[i].last - three[i].first + 1);
    }
    /* Two responses get different boundaries. */
    r2 = make_request(&g);
    kz_range_respond(r2, three, 3, 5000, "application/pdf", NULL, file);
    b1 = kz_response_header_get(r, "Content-Type");
    b2 = kz_response_header_get(r2, "Content-Type");
    CU_ASSERT_STRING_NOT_EQUAL(b1, b2);
}

static void test_refuse(void)
{
    fixture_t f;
    kz_request_t *r = make_request(&f);

    kz_response_header(r, "ETag", "\"x\"");
    kz_range_refuse(r, 1234);
    CU_ASSERT_EQUAL(r->status, 416);
    CU_ASSERT_STRING_EQUAL(kz_response_header_get(r, "Content-Range"), "bytes */1234");
    CU_ASSERT_PTR_NULL(kz_response_header_get(r, "ETag"));
    CU_ASSERT(r->body_len > 0); /* the error page */
}

static const kz_test_case_t cases[] = {
    {"parse, clamp, sort, merge", test_parse},
    {"bounded work", test_bounded_work},
    {"single part", test_single_part},
    {"multipart/byteranges", test_multipart},
    {"multipart parts are file segments", test_multipart_file_segments},
    {"416 with Content-Range", test_refuse},
    {NULL, NULL},
};

KZ_TEST_SUITE(range, cases)
