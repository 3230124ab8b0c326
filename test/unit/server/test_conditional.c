/*
 * Tests of server/conditional.c: entity-tag lists compared strongly and weakly (RFC 9110
 * §8.8.3.2), the order of evaluation of §13.2.2 (If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since) and If-Range (§13.1.5).
 */
#include "conditional.h"
#include "kz_test.h"

#include <stdio.h>

#define ETAG "\"5f1-2a\""
/* Last-Modified of the representation: Sun, 06 Nov 1994 08:49:37 GMT (plus 0.5 s, which an
 * HTTP-date cannot carry). */
#define MTIME   (apr_time_from_sec(784111777) + 500000)
#define SAME    "Sun, 06 Nov 1994 08:49:37 GMT"
#define EARLIER "Sun, 06 Nov 1994 08:49:36 GMT"
#define LATER   "Sun, 06 Nov 1994 08:49:38 GMT"

static void test_etag_match(void)
{
    static const struct {
        const char *list, *etag;
        int weak, want;
    } rows[] = {
        {ETAG, ETAG, 0, 1},
        {ETAG, ETAG, 1, 1},
        {"\"other\"", ETAG, 1, 0},
        {"\"a\", " ETAG ", \"b\"", ETAG, 0, 1},
        {"\"a\",\"b\"", ETAG, 1, 0},
        {"W/" ETAG, ETAG, 1, 1}, /* weak comparison ignores W/ */
        {"W/" ETAG, ETAG, 0, 0}, /* strong comparison refuses weak tags */
        {ETAG, "W/" ETAG, 0, 0}, /* ... on either side */
        {ETAG, "W/" ETAG, 1, 1},
        {"*", ETAG, 0, 1},
        {" * ", ETAG, 1, 1},
        {"*", NULL, 0, 1}, /* any existing representation, even without an ETag */
        {ETAG, NULL, 1, 0},
        {"5f1-2a", ETAG, 1, 0},      /* unquoted: not an entity-tag */
        {"junk, " ETAG, ETAG, 1, 1}, /* a malformed member is skipped */
        {"\"unterminated", ETAG, 1, 0},
        {"\"5F1-2A\"", ETAG, 1, 0}, /* opaque tags are case-sensitive */
        {"", ETAG, 1, 0},
        {",,", ETAG, 1, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = kz_etag_match(rows[i].list, rows[i].etag, rows[i].weak);
        if (got != rows[i].want) {
            fprintf(stderr, "\n  row %zu: [%s] vs [%s] weak=%d: %d\n", i, rows[i].list,
                    rows[i].etag ? rows[i].etag : "(null)", rows[i].weak, got);
        }
        CU_ASSERT_EQUAL(got, rows[i].want);
    }
}

static void test_evaluate(void)
{
    static const struct {
        const char *name;
        kz_cond_t c;
        int get_or_head;
        const char *etag;
        int want;
    } rows[] = {
        {"no condition", {NULL, NULL, NULL, NULL, NULL}, 1, ETAG, 0},
        {"If-Match holds", {ETAG, NULL, NULL, NULL, NULL}, 1, ETAG, 0},
        {"If-Match fails", {"\"x\"", NULL, NULL, NULL, NULL}, 1, ETAG, 412},
        {"If-Match weak tag fails", {"W/" ETAG, NULL, NULL, NULL, NULL}, 1, ETAG, 412},
        {"If-Match * holds", {"*", NULL, NULL, NULL, NULL}, 0, ETAG, 0},
        {"If-Match without ETags", {ETAG, NULL, NULL, NULL, NULL}, 1, NULL, 412},
        {"If-Unmodified-Since same second", {NULL, NULL, NULL, SAME, NULL}, 1, ETAG, 0},
        {"If-Unmodified-Since later", {NULL, NULL, NULL, LATER, NULL}, 1, ETAG, 0},
        {"If-Unmodified-Since earlier", {NULL, NULL, NULL, EARLIER, NULL}, 1, ETAG, 412},
        {"If-Unmodified-Since invalid is ignored",
         {NULL, NULL, NULL, "yesterday", NULL},
         1,
         ETAG,
         0},
        {"If-Match wins over If-Unmodified-Since", {ETAG, NULL, NULL, EARLIER, NULL}, 1, ETAG, 0},
        {"If-None-Match matches: 304", {NULL, ETAG, NULL, NULL, NULL}, 1, ETAG, 304},
        {"If-None-Match weak matches: 304", {NULL, "W/" ETAG, NULL, NULL, NULL}, 1, ETAG, 304},
        {"If-None-Match * : 304", {NULL, "*", NULL, NULL, NULL}, 1, ETAG, 304},
        {"If-None-Match other: 200", {NULL, "\"x\"", NULL, NULL, NULL}, 1, ETAG, 0},
        {"If-None-Match on POST: 412", {NULL, ETAG, NULL, NULL, NULL}, 0, ETAG, 412},
        {"If-Modified-Since same second: 304", {NULL, NULL, SAME, NULL, NULL}, 1, ETAG, 304},
        {"If-Modified-Since later: 304", {NULL, NULL, LATER, NULL, NULL}, 1, ETAG, 304},
        {"If-Modified-Since earlier: 200", {NULL, NULL, EARLIER, NULL, NULL}, 1, ETAG, 0},
        {"If-Modified-Since RFC 850 date",
         {NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", NULL, NULL},
         1,
         ETAG,
         304},
        {"If-Modified-Since asctime date",
         {NULL, NULL, "Sun Nov  6 08:49:37 1994", NULL, NULL},
         1,
         ETAG,
         304},
        {"If-Modified-Since invalid is ignored",
         {NULL, NULL, "Sun, 06 Nov 1994", NULL, NULL},
         1,
         ETAG,
         0},
        {"If-Modified-Since ignored for POST", {NULL, NULL, SAME, NULL, NULL}, 0, ETAG, 0},
        {"If-None-Match wins over If-Modified-Since",
         {NULL, "\"x\"", SAME, NULL, NULL},
         1,
         ETAG,
         0},
        {"If-None-Match without ETags ignores tags", {NULL, ETAG, NULL, NULL, NULL}, 1, NULL, 0},
        {"412 before 304", {"\"x\"", ETAG, NULL, NULL, NULL}, 1, ETAG, 412},
        {"412 from a date before 304", {NULL, ETAG, NULL, EARLIER, NULL}, 1, ETAG, 412},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = kz_cond_evaluate(&rows[i].c, rows[i].get_or_head, rows[i].etag, MTIME);
        if (got != rows[i].want) {
            fprintf(stderr, "\n  %s: %d, want %d\n", rows[i].name, got, rows[i].want);
        }
        CU_ASSERT_EQUAL(got, rows[i].want);
    }
    /* Without a modification time, dates decide nothing. */
    {
        kz_cond_t c = {NULL, NULL, LATER, EARLIER, NULL};
        CU_ASSERT_EQUAL(kz_cond_evaluate(&c, 1, ETAG, 0), 0);
    }
}

static void test_if_range(void)
{
    static const struct {
        const char *if_range, *etag;
        int want;
    } rows[] = {
        {NULL, ETAG, 1},
        {ETAG, ETAG, 1},
        {" " ETAG " ", ETAG, 1},
        {"\"other\"", ETAG, 0},
        {"W/" ETAG, ETAG, 0},      /* strong comparison only */
        {ETAG, NULL, 0},           /* ETags off: a tag never holds */
        {ETAG ", \"b\"", ETAG, 0}, /* one tag, not a list */
        {SAME, ETAG, 1},
        {EARLIER, ETAG, 0},
        {LATER, ETAG, 0}, /* only an exact date holds */
        {"", ETAG, 0},    /* sent twice */
        {"garbage", ETAG, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = kz_cond_if_range(rows[i].if_range, rows[i].etag, MTIME);
        if (got != rows[i].want) {
            fprintf(stderr, "\n  If-Range [%s]: %d\n", rows[i].if_range ? rows[i].if_range : "",
                    got);
        }
        CU_ASSERT_EQUAL(got, rows[i].want);
    }
}

static const kz_test_case_t cases[] = {
    {"entity-tag comparison", test_etag_match},
    {"order of evaluation", test_evaluate},
    {"If-Range", test_if_range},
    {NULL, NULL},
};

KZ_TEST_SUITE(conditional, cases)
