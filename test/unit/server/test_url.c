/*
 * Tests for server/url.c: the URL sanitizer (decode once, reject bad bytes, normalise and clamp
 * at the root), kz_url_encode_path and kz_html_escape.
 */
#include "kz_test.h"
#include "url.h"

#include <string.h>

typedef struct {
    const char *what;
    const char *in;
    const char *out; /* NULL: 400 expected */
} sanitize_row_t;

static void check_rows(const sanitize_row_t *rows, int allow_double_slashes)
{
    for (const sanitize_row_t *r = rows; r->what; r++) {
        const char *out = "unset";
        int rc = kz_url_sanitize(&out, r->in, strlen(r->in), allow_double_slashes, kz_test_pool);
        if (r->out == NULL) {
            CU_ASSERT_EQUAL(rc, 400);
            CU_ASSERT_PTR_NULL(out);
            if (rc != 400) {
                fprintf(stderr, "\n  %s: %s gave %s, expected 400\n", r->what, r->in, out);
            }
            continue;
        }
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        CU_ASSERT_STRING_EQUAL(out, r->out);
        if (rc != 0 || strcmp(out, r->out) != 0) {
            fprintf(stderr, "\n  %s: %s gave %d \"%s\", expected \"%s\"\n", r->what, r->in, rc, out,
                    r->out);
        }
    }
}

static const sanitize_row_t rejected[] = {
    {"encoded NUL", "/index.html%00", NULL},
    {"truncated escape at end", "/foo%", NULL},
    {"escape with one digit", "/foo%4", NULL},
    {"non-hex escape", "/foo%zz", NULL},
    {"half-hex escape", "/foo%4g", NULL},
    {"overlong UTF-8 dot %c0%ae", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", NULL},
    {"overlong lead %C1", "/a%C1%81", NULL},
    {"invalid lead %F5", "/a%F5", NULL},
    {"invalid lead %FE", "/a%fe", NULL},
    {"invalid lead %FF", "/a%FF", NULL},
    {"double decoding", "/.%%32%65/.%%32%65/.%%32%65/etc/passwd", NULL},
    {"CVE-2021-42013 double-encoded dot-dot", "/icons/.%%32%65/.%%32%65/etc/passwd", NULL},
    {"CVE-2021-42013 fully double-encoded", "/cgi-bin/%%32%65%%32%65/%%32%65%%32%65/bin/sh", NULL},
    {"encoded control byte", "/a%0d%0aSet-Cookie:x", NULL},
    {"encoded tab", "/a%09b", NULL},
    {"encoded DEL", "/a%7f", NULL},
    {"raw control byte", "/a\x01", NULL},
    {"raw DEL", "/a\x7f", NULL},
    {"raw overlong lead", "/a\xc0\xae", NULL},
    {"raw invalid lead", "/a\xff", NULL},
    {"relative path", "index.html", NULL},
    {"asterisk form", "*", NULL},
    {"leading backslash", "\\etc\\passwd", NULL},
    {"leading escaped slash", "%2fetc/passwd", NULL},
    {"empty", "", NULL},
    {NULL, NULL, NULL},
};

static const sanitize_row_t accepted[] = {
    {"root", "/", "/"},
    {"plain", "/index.html", "/index.html"},
    {"dot-dot clamped at root", "/../../../../etc/passwd", "/etc/passwd"},
    {"encoded dot-dot", "/.%2e/.%2e/.%2e/.%2e/etc/passwd", "/etc/passwd"},
    {"fully encoded dot-dot", "/%2e%2e/%2E%2E/etc/passwd", "/etc/passwd"},
    {"encoded slash", "/..%2f..%2f..%2fetc/passwd", "/etc/passwd"},
    {"CVE-2021-41773 encoded dot-dot", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", "/etc/passwd"},
    {"CVE-2021-41773 icons", "/icons/.%2e/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"},
    {"CVE-2021-41773 cgi shell", "/cgi-bin/.%2e/%2e%2e/%2e%2e/bin/sh", "/bin/sh"},
    {"double slash collapsed", "/a//b", "/a/b"},
    {"many slashes collapsed", "///a////b///", "/a/b/"},
    {"dot and dot-dot", "/a/./b/../c/", "/a/c/"},
    {"backslashes", "/a\\..\\..\\b", "/b"},
    {"encoded backslash", "/a%5c..%5C..%5cb", "/b"},
    {"trailing dot trimmed", "/dir/file.txt.", "/dir/file.txt"},
    {"trailing dots and spaces trimmed", "/dir. ./file.txt . ", "/dir/file.txt"},
    {"encoded trailing dot", "/file.txt%2e", "/file.txt"},
    {"encoded trailing space", "/file.txt%20", "/file.txt"},
    {"segment of dots dropped", "/a/.../b", "/a/b"},
    {"escapes decoded", "/%7Euser/x%20y", "/~user/x y"},
    {"escaped percent decoded once", "/100%25", "/100%"},
    {"escaped percent then digits", "/%2532%2565", "/%32%65"},
    {"escaped query and hash", "/a%3Fb%23c", "/a?b#c"},
    {"trailing slash kept", "/dir/", "/dir/"},
    {"final dot leaves slash", "/a/b/.", "/a/b/"},
    {"final dot-dot leaves slash", "/a/b/..", "/a/"},
    {"dot-dot to root", "/a/..", "/"},
    {"only dot-dots", "/../..", "/"},
    {"dot-dot after trimmed segment", "/a/b./../c", "/a/c"},
    {"dotfile kept", "/.htaccess", "/.htaccess"},
    {"dots inside a name kept", "/a..b/..c", "/a..b/..c"},
    {"raw UTF-8", "/\xc5\xbc\xc3\xb3\xc5\x82w.html", "/\xc5\xbc\xc3\xb3\xc5\x82w.html"},
    {"encoded UTF-8", "/%C5%BC%C3%B3%C5%82w", "/\xc5\xbc\xc3\xb3\xc5\x82w"},
    {"UTF-8 four-byte lead F4", "/%F4%8F%BF%BF", "/\xf4\x8f\xbf\xbf"},
    {"sub-delims kept", "/a;b=c,d&e", "/a;b=c,d&e"},
    {NULL, NULL, NULL},
};

static const sanitize_row_t double_slashes[] = {
    {"double slash kept", "/a//b", "/a//b"},
    {"leading double slash kept", "//a", "//a"},
    {"dot-dot removes an empty segment", "/a//../b", "/a/b"},
    {"dot-dot clamped", "//../../b", "/b"},
    {"trimmed segment dropped, not kept empty", "/a/.../b", "/a/b"},
    {"dot segments still resolved", "/a/./b/../c/", "/a/c/"},
    {NULL, NULL, NULL},
};

static void test_sanitize_rejects(void)
{
    check_rows(rejected, 0);
    check_rows(rejected, 1);
}

static void test_sanitize_accepts(void)
{
    check_rows(accepted, 0);
}

static void test_sanitize_double_slashes(void)
{
    check_rows(double_slashes, 1);
}

/* The length argument bounds the input: bytes past it (here "/../x") are never read. */
static void test_sanitize_uses_length(void)
{
    const char *out = NULL;
    const char *target = "/a/b?q=/../x";

    CU_ASSERT_EQUAL(kz_url_sanitize(&out, target, 4, 0, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(out, "/a/b");
    /* An escape cut by the length is incomplete, even if the bytes after it would complete it. */
    CU_ASSERT_EQUAL(kz_url_sanitize(&out, "/a%41", 4, 0, kz_test_pool), 400);
    /* A raw NUL inside the length is rejected. */
    CU_ASSERT_EQUAL(kz_url_sanitize(&out, "/a\0b", 4, 0, kz_test_pool), 400);
}

/* The output never grows; every output is already canonical (sanitizing it again is identity). */
static void test_sanitize_idempotent(void)
{
    for (const sanitize_row_t *r = accepted; r->what; r++) {
        const char *once = NULL, *twice = NULL;
        if (strchr(r->out, '%')) {
            continue; /* a decoded '%' is not an escape any more */
        }
        CU_ASSERT_EQUAL_FATAL(kz_url_sanitize(&once, r->in, strlen(r->in), 0, kz_test_pool), 0);
        CU_ASSERT(strlen(once) <= strlen(r->in));
        CU_ASSERT_EQUAL(kz_url_sanitize(&twice, once, strlen(once), 0, kz_test_pool), 0);
        CU_ASSERT_STRING_EQUAL(twice, once);
    }
}

static void test_encode_path(void)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"/index.html", "/index.html"},
        {"/a b", "/a%20b"},
        {"/100%", "/100%25"},
        {"/a?b#c", "/a%3Fb%23c"},
        {"/~user/-._", "/~user/-._"},
        {"/!$&'()*+,;=:@", "/!$&'()*+,;=:@"},
        {"/<>\"`^{|}\\", "/%3C%3E%22%60%5E%7B%7C%7D%5C"},
        {"/\xc5\xbc\xc3\xb3\xc5\x82w", "/%C5%BC%C3%B3%C5%82w"},
        {"/a\r\nb", "/a%0D%0Ab"},
        {"//evil.example/", "/%2Fevil.example/"},
        {"/a//b", "/a//b"},
        {"", ""},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CU_ASSERT_STRING_EQUAL(kz_url_encode_path(rows[i].in, kz_test_pool), rows[i].out);
    }
}

/* sanitize(encode(x)) == x for canonical decoded paths. */
static void test_encode_round_trip(void)
{
    static const char *const paths[] = {
        "/",
        "/index.html",
        "/a b/c  d.txt",
        "/100% sure",
        "/what?/is#this",
        "/%2e%2e/literal escapes",
        "/\xc5\xbc\xc3\xb3\xc5\x82w/\xe2\x82\xac/\xf0\x9f\x98\x80.png",
        "/quotes\"'<>&",
        "/semi;colon=equals,comma+plus",
        "/dir/",
        "/.well-known/x",
    };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const char *enc = kz_url_encode_path(paths[i], kz_test_pool);
        const char *dec = NULL;
        CU_ASSERT_EQUAL_FATAL(kz_url_sanitize(&dec, enc, strlen(enc), 0, kz_test_pool), 0);
        CU_ASSERT_STRING_EQUAL(dec, paths[i]);
    }
    /* A leading "//" survives the round trip where double slashes are allowed. */
    const char *enc = kz_url_encode_path("//a//b", kz_test_pool);
    const char *dec = NULL;
    CU_ASSERT_EQUAL_FATAL(kz_url_sanitize(&dec, enc, strlen(enc), 1, kz_test_pool), 0);
    CU_ASSERT_STRING_EQUAL(dec, "//a//b");
}

static void test_html_escape(void)
{
    CU_ASSERT_STRING_EQUAL(kz_html_escape("plain text", kz_test_pool), "plain text");
    CU_ASSERT_STRING_EQUAL(kz_html_escape("", kz_test_pool), "");
    CU_ASSERT_STRING_EQUAL(kz_html_escape("<a href=\"x\">&'</a>", kz_test_pool),
                           "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    CU_ASSERT_STRING_EQUAL(kz_html_escape("&amp;", kz_test_pool), "&amp;amp;");
    CU_ASSERT_STRING_EQUAL(kz_html_escape("\xc5\xbc<", kz_test_pool), "\xc5\xbc&lt;");
    CU_ASSERT_STRING_EQUAL(kz_html_escape(NULL, kz_test_pool), "");
}

static const kz_test_case_t cases[] = {
    {"sanitize rejects", test_sanitize_rejects},
    {"sanitize accepts and normalises", test_sanitize_accepts},
    {"sanitize allow_double_slashes", test_sanitize_double_slashes},
    {"sanitize reads only len bytes", test_sanitize_uses_length},
    {"sanitize is idempotent", test_sanitize_idempotent},
    {"encode path", test_encode_path},
    {"encode/sanitize round trip", test_encode_round_trip},
    {"html escape", test_html_escape},
    {NULL, NULL},
};

KZ_TEST_SUITE(url, cases)
