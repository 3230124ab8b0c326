/*
 * Tests of server/errpage.c: reason phrases (RFC 9110 §15, RFC 6585), the built-in pages (title,
 * heading, description, static and shared for known codes) and the administrator's address on
 * the 500 page only, escaped for both the text and the mailto: link.
 */
#include "errpage.h"
#include "kz_test.h"

#include <string.h>

#define NROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_reasons(void)
{
    static const struct {
        int status;
        const char *reason;
    } rows[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {413, "Content Too Large"}, /* RFC 9110 name, formerly Payload Too Large */
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {511, "Network Authentication Required"},
        {599, "Unknown"},
        {299, "Unknown"},
        {419, "Unknown"},
        {0, "Unknown"},
        {-404, "Unknown"},
        {1000, "Unknown"},
    };

    for (int i = 0; i < NROWS(rows); i++) {
        CU_ASSERT_STRING_EQUAL(kz_status_reason(rows[i].status), rows[i].reason);
    }
}

/* Every known code has a page with its title and heading, shared, and ignoring the address. */
static void test_known_pages(void)
{
    int known = 0;

    for (int s = 0; s < 1000; s++) {
        const char *reason = kz_status_reason(s), *page = NULL, *again = NULL;
        char title[128], h1[128];
        apr_size_t len;

        if (strcmp(reason, "Unknown") == 0) {
            continue;
        }
        known++;
        len = kz_errpage_render(&page, s, NULL, kz_test_pool);
        CU_ASSERT_PTR_NOT_NULL_FATAL(page);
        CU_ASSERT_EQUAL(len, strlen(page));
        CU_ASSERT_EQUAL(strncmp(page, "<!DOCTYPE html>\n<html lang=\"en\">", 32), 0);
        CU_ASSERT(len > 8 && strcmp(page + len - 8, "</html>\n") == 0);
        snprintf(title, sizeof(title), "<title>%d %s</title>", s, reason);
        snprintf(h1, sizeof(h1), "<h1>%d %s</h1>\n<p>", s, reason);
        CU_ASSERT_PTR_NOT_NULL(strstr(page, title));
        CU_ASSERT_PTR_NOT_NULL(strstr(page, h1));
        CU_ASSERT_PTR_NOT_NULL(strstr(page, "<meta charset=\"utf-8\">"));
        if (s != 500) {
            /* The same constant, whatever the address: nothing rendered, nothing allocated. */
            CU_ASSERT_EQUAL(kz_errpage_render(&again, s, "admin@example.com", NULL), len);
            CU_ASSERT_PTR_EQUAL(again, page);
            CU_ASSERT_PTR_NULL(strstr(again, "mailto:"));
        }
    }
    /* RFC 9110 §15 has 46 codes; plus 103, 428, 429, 431, 451, 511. */
    CU_ASSERT_EQUAL(known, 52);
}

static void test_descriptions(void)
{
    static const struct {
        int status;
        const char *sentence;
    } rows[] = {
        {400, "<p>The server could not understand the request: it is malformed.</p>"},
        {403, "<p>You are not allowed to access this resource.</p>"},
        {404, "<p>Nothing was found at this address. If you typed it by hand, check it for "
              "mistakes.</p>"},
        {413, "<p>The request body is larger than the server accepts.</p>"},
        {500, "<p>The server ran into an unexpected problem and could not complete the "
              "request.</p>"},
        {599, "<p>The server ran into a problem and could not complete the request.</p>"},
        {499, "<p>The server could not complete the request.</p>"},
        {299, "<p>The server answered the request with this status.</p>"},
    };

    for (int i = 0; i < NROWS(rows); i++) {
        const char *page = NULL;

        kz_errpage_render(&page, rows[i].status, NULL, kz_test_pool);
        CU_ASSERT_PTR_NOT_NULL_FATAL(page);
        CU_ASSERT_PTR_NOT_NULL(strstr(page, rows[i].sentence));
    }
}

static void test_unknown_status(void)
{
    const char *page = NULL;
    apr_size_t len = kz_errpage_render(&page, 599, "root@example.com", kz_test_pool);

    CU_ASSERT_PTR_NOT_NULL_FATAL(page);
    CU_ASSERT_EQUAL(len, strlen(page));
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "<title>599 Unknown</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "<h1>599 Unknown</h1>"));
    CU_ASSERT_PTR_NULL(strstr(page, "root@example.com"));
    CU_ASSERT(len > 8 && strcmp(page + len - 8, "</html>\n") == 0);
}

/* The value of the mailto: link, which must hold no quote, angle bracket or space. */
static void assert_safe_href(const char *page)
{
    const char *href = strstr(page, "<a href=\"mailto:");
    const char *end;

    CU_ASSERT_PTR_NOT_NULL_FATAL(href);
    href += strlen("<a href=\"");
    end = strchr(href, '"');
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    CU_ASSERT_EQUAL(strncmp(end, "\">", 2), 0);
    for (const char *c = href; c < end; c++) {
        CU_ASSERT(*c != '<' && *c != '>' && *c != ' ' && *c != '\'');
    }
}

static void test_admin_email(void)
{
    static const struct {
        const char *name;
        const char *email;
        const char *text; /* as shown */
        const char *href;
    } rows[] = {
        {"plain", "admin@example.com", ">admin@example.com</a>.", "\"mailto:admin@example.com\""},
        {"angle brackets", "a<b>@x", ">a&lt;b&gt;@x</a>.", "\"mailto:a%3cb%3e@x\""},
        {"attribute break-out", "x\" onclick=\"alert(1)@y", ">x&quot; onclick=&quot;alert(1)@y</a>",
         "\"mailto:x%22%20onclick=%22alert(1)@y\""},
        {"ampersand", "a&b@x", ">a&amp;b@x</a>", "\"mailto:a&amp;b@x\""},
    };

    for (int i = 0; i < NROWS(rows); i++) {
        const char *page = NULL;
        apr_size_t len = kz_errpage_render(&page, 500, rows[i].email, kz_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(page);
        CU_ASSERT_EQUAL(len, strlen(page));
        CU_ASSERT_PTR_NOT_NULL(strstr(page, "<title>500 Internal Server Error</title>"));
        CU_ASSERT_PTR_NOT_NULL(strstr(page, "contact the administrator at <a href="));
        CU_ASSERT_PTR_NOT_NULL(strstr(page, rows[i].text));
        CU_ASSERT_PTR_NOT_NULL(strstr(page, rows[i].href));
        CU_ASSERT_PTR_NULL(strstr(page, "<b>"));
        CU_ASSERT_PTR_NULL(strstr(page, "\" onclick"));
        assert_safe_href(page);
        CU_ASSERT(len > 8 && strcmp(page + len - 8, "</html>\n") == 0);
    }
}

/* An empty or absent address: the shared 500 page, with no link. */
static void test_500_without_email(void)
{
    const char *a = NULL, *b = NULL;

    kz_errpage_render(&a, 500, NULL, kz_test_pool);
    kz_errpage_render(&b, 500, "", kz_test_pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_EQUAL(a, b);
    CU_ASSERT_PTR_NULL(strstr(a, "mailto:"));
    CU_ASSERT_PTR_NULL(strstr(a, "administrator"));
}

static const kz_test_case_t cases[] = {
    {"reason phrases", test_reasons},
    {"a page for every known code", test_known_pages},
    {"descriptions", test_descriptions},
    {"unknown status", test_unknown_status},
    {"admin email on 500, escaped", test_admin_email},
    {"500 without email", test_500_without_email},
    {NULL, NULL},
};

KZ_TEST_SUITE(errpage, cases)
