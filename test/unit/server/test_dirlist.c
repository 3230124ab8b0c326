/*
 * Tests of server/dirlist.c's pieces (listing order, sizes, dates, HTML text and links of
 * hostile names, the .maindesc text) and of the directory reading it uses from runtime/kz_fs.h
 * (kz_root_open_dir, kz_dir_read, kz_dir_stat: types, sizes and symbolic links kept beneath
 * the root).
 */
#include "dirlist.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- order ----------------------------------------------------------------------------- */

typedef struct {
    const char *a;
    int a_dir;
    const char *b;
    int b_dir;
    int sign; /* expected sign of compare(a, b) */
} cmp_row_t;

static const cmp_row_t cmp_rows[] = {
    {"b", 1, "a", 0, -1},          /* a directory before any file */
    {"a", 0, "b", 1, 1},           /* a file after any directory */
    {"a", 0, "b", 0, -1},          /* then by name */
    {"B", 0, "a", 0, 1},           /* case-insensitively ... */
    {"apple", 0, "Banana", 0, -1}, /* ... not in byte order, where 'B' < 'a' */
    {"A.txt", 0, "a.txt", 0, -1},  /* equal but for case: byte order decides */
    {"a.txt", 0, "a.txt", 0, 0},   /* the same name */
    {"ab", 0, "abc", 0, -1},       /* a prefix first */
    {"10", 0, "9", 0, -1},         /* plain byte order on digits, no natural sort */
    {"_x", 0, "a", 0, -1},         /* '_' (0x5F) before letters folded to lower case */
    {"\xc3\xa9", 0, "z", 0, 1},    /* UTF-8 bytes after ASCII */
    {"Zeta", 1, "alpha", 1, 1},    /* directories among themselves by name too */
};

static void test_compare(void)
{
    for (apr_size_t i = 0; i < sizeof(cmp_rows) / sizeof(cmp_rows[0]); i++) {
        const cmp_row_t *r = &cmp_rows[i];
        int c = kz_dirlist_compare(r->a, r->a_dir, r->b, r->b_dir);
        int back = kz_dirlist_compare(r->b, r->b_dir, r->a, r->a_dir);
        int sign = (c > 0) - (c < 0);

        CU_ASSERT_EQUAL(sign, r->sign);
        CU_ASSERT_EQUAL((back > 0) - (back < 0), -r->sign);
        if (sign != r->sign) {
            fprintf(stderr, "\n  compare(%s, %s) = %d, expected sign %d\n", r->a, r->b, c, r->sign);
        }
    }
}

typedef struct {
    const char *name;
    int is_dir;
} named_t;

static int named_cmp(const void *a, const void *b)
{
    const named_t *x = a, *y = b;
    return kz_dirlist_compare(x->name, x->is_dir, y->name, y->is_dir);
}

static void test_sort(void)
{
    named_t items[] = {{"b.txt", 0}, {"Zeta", 1},  {"a.txt", 0}, {"_x", 0},
                       {"alpha", 1}, {"A.txt", 0}, {"9", 0},     {"10", 0}};
    const char *expect[] = {"alpha", "Zeta", "10", "9", "_x", "A.txt", "a.txt", "b.txt"};

    qsort(items, 8, sizeof(items[0]), named_cmp);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_STRING_EQUAL(items[i].name, expect[i]);
    }
}

/* ---- sizes and dates ------------------------------------------------------------------- */

static const struct {
    apr_off_t size;
    const char *text;
} size_rows[] = {
    {0, "0 B"},
    {1, "1 B"},
    {1023, "1023 B"},
    {1024, "1.0 KiB"},
    {1536, "1.5 KiB"},
    {10188, "9.9 KiB"}, /* 9.949 KiB */
    {10189, "10 KiB"},  /* 9.950 KiB rounds up to two digits, no decimal */
    {102400, "100 KiB"},
    {1048063, "1023 KiB"}, /* 1023.499 KiB */
    {1048064, "1.0 MiB"},  /* 1023.5 KiB would print as 1024 KiB: the next unit instead */
    {1048576, "1.0 MiB"},
    {5368709120LL, "5.0 GiB"},
    {1099511627776LL * 3 / 2, "1.5 TiB"},
    {APR_INT64_MAX, "8.0 EiB"}, /* the largest size: no unit past EiB needed */
    {-1, "0 B"},                /* never printed as a negative size */
};

static void test_size(void)
{
    for (apr_size_t i = 0; i < sizeof(size_rows) / sizeof(size_rows[0]); i++) {
        const char *got = kz_dirlist_size(size_rows[i].size, kz_test_pool);
        CU_ASSERT_STRING_EQUAL(got, size_rows[i].text);
        if (strcmp(got, size_rows[i].text) != 0) {
            fprintf(stderr, "\n  size %" APR_OFF_T_FMT ": \"%s\", expected \"%s\"\n",
                    size_rows[i].size, got, size_rows[i].text);
        }
    }
}

static const struct {
    apr_int64_t sec;
    const char *text;
} date_rows[] = {
    {0, "1970-01-01 00:00"},
    {946684740, "1999-12-31 23:59"},
    {1709251199, "2024-02-29 23:59"}, /* a leap day, seconds dropped not rounded */
    {1772114639, "2026-02-26 14:03"},
};

static void test_date(void)
{
    for (apr_size_t i = 0; i < sizeof(date_rows) / sizeof(date_rows[0]); i++) {
        char out[17];
        memset(out, 'x', sizeof(out));
        kz_dirlist_date(out, apr_time_from_sec(date_rows[i].sec));
        CU_ASSERT_STRING_EQUAL(out, date_rows[i].text);
    }
}

/* ---- text and links -------------------------------------------------------------------- */

#define FFFD "\xEF\xBF\xBD"

typedef struct {
    const char *what;
    const char *in;
    apr_size_t len; /* 0: strlen(in) */
    const char *out;
} text_row_t;

static const text_row_t name_rows[] = {
    {"plain", "plain.txt", 0, "plain.txt"},
    {"empty", "", 0, ""},
    {"hostile name of the brief", "<b>&\"x y#?.txt", 0, "&lt;b&gt;&amp;&quot;x y#?.txt"},
    {"apostrophe (attribute breakout)", "it's", 0, "it&#39;s"},
    {"script tag", "<script>alert(1)</script>", 0, "&lt;script&gt;alert(1)&lt;/script&gt;"},
    {"existing entity is escaped again", "&amp;", 0, "&amp;amp;"},
    {"two-byte UTF-8 kept", "caf\xc3\xa9", 0, "caf\xc3\xa9"},
    {"three-byte UTF-8 kept", "\xe2\x82\xac", 0, "\xe2\x82\xac"},
    {"four-byte UTF-8 kept", "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80"},
    {"no-break space U+00A0 kept",
     "a\xc2\xa0"
     "b",
     0,
     "a\xc2\xa0"
     "b"},
    {"C0 control",
     "a\x01"
     "b",
     0, "a" FFFD "b"},
    {"tab in a name", "tab\tname", 0, "tab" FFFD "name"},
    {"newline in a name", "new\nline", 0, "new" FFFD "line"},
    {"DEL", "del\x7f", 0, "del" FFFD},
    {"C1 control U+0085", "\xc2\x85", 0, FFFD},
    {"stray byte 0xFF",
     "a\xff"
     "b",
     0, "a" FFFD "b"},
    {"lone continuation byte", "\x80", 0, FFFD},
    {"overlong '.' C0 AE", "\xc0\xae", 0, FFFD FFFD},
    {"overlong '/' E0 80 AF", "\xe0\x80\xaf", 0, FFFD FFFD FFFD},
    {"UTF-16 surrogate ED A0 80", "\xed\xa0\x80", 0, FFFD FFFD FFFD},
    {"beyond U+10FFFF", "\xf4\x90\x80\x80", 0, FFFD FFFD FFFD FFFD},
    {"truncated sequence at the end", "x\xe2\x82", 0, "x" FFFD FFFD},
    {"truncated sequence before ASCII",
     "\xe2\x82"
     "a",
     0, FFFD FFFD "a"},
    {"embedded NUL", "a\0b", 3, "a" FFFD "b"},
    {NULL, NULL, 0, NULL},
};

static const text_row_t desc_rows[] = {
    {"LF", "line1\nline2", 0, "line1<br>\nline2"},
    {"CRLF, CR and a final LF", "a\r\nb\rc\n", 0, "a<br>\nb<br>\nc<br>\n"},
    {"blank line", "a\n\nb", 0, "a<br>\n<br>\nb"},
    {"tab kept", "x\ty", 0, "x\ty"},
    {"markup escaped", "<i>hi</i> & \"bye\"", 0, "&lt;i&gt;hi&lt;/i&gt; &amp; &quot;bye&quot;"},
    {"other controls replaced",
     "a\x0b"
     "b\x0c",
     0, "a" FFFD "b" FFFD},
    {"binary bytes", "\x00\xff\n", 3, FFFD FFFD "<br>\n"},
    {NULL, NULL, 0, NULL},
};

static void check_text(const text_row_t *rows, int multiline)
{
    for (const text_row_t *r = rows; r->what; r++) {
        apr_size_t len = r->len ? r->len : strlen(r->in);
        const char *got = kz_dirlist_text(r->in, len, multiline, kz_test_pool);
        CU_ASSERT_STRING_EQUAL(got, r->out);
        if (strcmp(got, r->out) != 0) {
            fprintf(stderr, "\n  %s: \"%s\", expected \"%s\"\n", r->what, got, r->out);
        }
    }
}

static void test_text(void)
{
    check_text(name_rows, 0);
}

static void test_maindesc_text(void)
{
    check_text(desc_rows, 1);
}

static const struct {
    const char *what;
    const char *name;
    int is_dir;
    const char *href;
} href_rows[] = {
    {"plain file", "a.txt", 0, "a.txt"},
    {"directory gets its slash", "sub", 1, "sub/"},
    {"space", "sp ace.txt", 0, "sp%20ace.txt"},
    {"hostile name of the brief", "<b>&\"x y#?.txt", 0, "%3Cb%3E&amp;%22x%20y%23%3F.txt"},
    {"fragment mark", "#frag", 1, "%23frag/"},
    {"query mark", "?q", 0, "%3Fq"},
    {"percent sign", "100%", 0, "100%25"},
    {"apostrophe escaped for the attribute", "it's", 0, "it&#39;s"},
    {"colon would read as a scheme", "javascript:alert(1)", 0, "./javascript:alert(1)"},
    {"colon later in the name", "a:b", 1, "./a:b/"},
    {"UTF-8 percent-encoded", "caf\xc3\xa9", 0, "caf%C3%A9"},
    {"backslash", "a\\b", 0, "a%5Cb"},
    {"control byte", "a\nb", 0, "a%0Ab"},
};

static void test_href(void)
{
    for (apr_size_t i = 0; i < sizeof(href_rows) / sizeof(href_rows[0]); i++) {
        const char *got = kz_dirlist_href(href_rows[i].name, href_rows[i].is_dir, kz_test_pool);
        CU_ASSERT_STRING_EQUAL(got, href_rows[i].href);
        if (strcmp(got, href_rows[i].href) != 0) {
            fprintf(stderr, "\n  %s: \"%s\", expected \"%s\"\n", href_rows[i].what, got,
                    href_rows[i].href);
        }
    }
}

/* ---- reading directories beneath a root ------------------------------------------------ */

static const char *tmp;

static const char *at(const char *name)
{
    return apr_pstrcat(kz_test_pool, tmp, "/", name, NULL);
}

static void make_tree(void)
{
    char *d = apr_pstrdup(kz_test_pool, "/tmp/kz-dirlist-XXXXXX");
    FILE *f;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d));
    tmp = d;
    CU_ASSERT_EQUAL_FATAL(mkdir(at("www"), 0755), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(at("www/sub"), 0755), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(at("www/f.txt"), "w"));
    fputs("hello", f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(at("outside.txt"), "w"));
    fputs("secret!", f);
    fclose(f);
    CU_ASSERT_EQUAL(symlink("f.txt", at("www/in-link")), 0);
    CU_ASSERT_EQUAL(symlink("sub", at("www/dir-link")), 0);
    CU_ASSERT_EQUAL(symlink("../outside.txt", at("www/out-link")), 0);
    CU_ASSERT_EQUAL(symlink("..", at("www/up-dir")), 0);
    CU_ASSERT_EQUAL(symlink("nope", at("www/dangling")), 0);
    CU_ASSERT_EQUAL(symlink("../f.txt", at("www/sub/back")), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(at("www/.hidden"), "w"));
    fclose(f);
}

static void remove_tree(void)
{
    const char *names[] = {"www/sub/back", "www/sub",    "www/in-link",  "www/dir-link",
                           "www/out-link", "www/up-dir", "www/dangling", "www/.hidden",
                           "www/f.txt",    "www",        "outside.txt",  NULL};
    for (const char *const *n = names; *n; n++) {
        remove(at(*n));
    }
    rmdir(tmp);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every entry of rel, sorted, joined with spaces; each type must be known (tmpfs, ext4, xfs
 * record it; only a file system that does not would give APR_UNKFILE, never APR_NOFILE). */
static const char *list_names(kz_root_t *root, const char *rel)
{
    apr_array_header_t *names = apr_array_make(kz_test_pool, 8, sizeof(const char *));
    kz_dir_t *dir;
    const char *name, *out = "";
    apr_filetype_e type;
    apr_status_t rv;

    CU_ASSERT_EQUAL_FATAL(kz_root_open_dir(&dir, root, rel, 0, kz_test_pool), APR_SUCCESS);
    while ((rv = kz_dir_read(&name, &type, dir)) == APR_SUCCESS) {
        CU_ASSERT(type != APR_NOFILE);
        APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(kz_test_pool, name);
    }
    CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
    /* Reading past the end stays at the end. */
    CU_ASSERT(APR_STATUS_IS_ENOENT(kz_dir_read(&name, &type, dir)));
    qsort(names->elts, (apr_size_t)names->nelts, sizeof(const char *), by_str);
    for (int i = 0; i < names->nelts; i++) {
        out = apr_pstrcat(kz_test_pool, out, i ? " " : "", APR_ARRAY_IDX(names, i, const char *),
                          NULL);
    }
    return out;
}

static void test_read_entries(void)
{
    kz_root_t *root;

    make_tree();
    CU_ASSERT_EQUAL_FATAL(kz_root_open(&root, at("www"), kz_test_pool), APR_SUCCESS);
    /* "." and ".." never come back; dotfiles do (hiding them is the listing's business). */
    CU_ASSERT_STRING_EQUAL(list_names(root, ""),
                           ".hidden dangling dir-link f.txt in-link out-link sub up-dir");
    CU_ASSERT_STRING_EQUAL(list_names(root, "sub/"), "back");
    CU_ASSERT_STRING_EQUAL(list_names(root, "sub"), "back");
    CU_ASSERT_STRING_EQUAL(list_names(root, "dir-link/"), "back");
    remove_tree();
}

static const struct {
    const char *what;
    const char *rel;
    int allow_escape;
    apr_status_t rv; /* APR_ENOENT / APR_ENOTDIR stand for their APR_STATUS_IS_ kind */
} open_rows[] = {
    {"the root", "", 0, APR_SUCCESS},
    {"a subdirectory", "sub/", 0, APR_SUCCESS},
    {"a link to a directory inside", "dir-link/", 0, APR_SUCCESS},
    {"a file", "f.txt", 0, APR_ENOTDIR},
    {"missing", "missing/", 0, APR_ENOENT},
    {"a link out of the root", "up-dir/", 0, KZ_STATUS_ESCAPE},
    {"a link out of the root, allowed", "up-dir/", 1, APR_SUCCESS},
};

static void test_open_dir(void)
{
    kz_root_t *root;

    make_tree();
    CU_ASSERT_EQUAL_FATAL(kz_root_open(&root, at("www"), kz_test_pool), APR_SUCCESS);
    for (apr_size_t i = 0; i < sizeof(open_rows) / sizeof(open_rows[0]); i++) {
        kz_dir_t *dir = NULL;
        apr_status_t rv =
            kz_root_open_dir(&dir, root, open_rows[i].rel, open_rows[i].allow_escape, kz_test_pool);
        int ok = open_rows[i].rv == APR_ENOENT    ? APR_STATUS_IS_ENOENT(rv)
                 : open_rows[i].rv == APR_ENOTDIR ? APR_STATUS_IS_ENOTDIR(rv)
                                                  : rv == open_rows[i].rv;
        CU_ASSERT(ok);
        if (!ok) {
            fprintf(stderr, "\n  open %s: %d, expected %d\n", open_rows[i].what, rv,
                    open_rows[i].rv);
        }
        CU_ASSERT(rv != APR_SUCCESS || dir != NULL);
    }
    remove_tree();
}

static const struct {
    const char *what;
    const char *rel;
    const char *name;
    int allow_escape;
    apr_status_t rv; /* APR_ENOENT stands for any APR_STATUS_IS_ENOENT status */
    apr_filetype_e type;
    apr_off_t size; /* checked for regular files */
} stat_rows[] = {
    {"a file", "", "f.txt", 0, APR_SUCCESS, APR_REG, 5},
    {"a directory", "", "sub", 0, APR_SUCCESS, APR_DIR, 0},
    {"a link to a file inside", "", "in-link", 0, APR_SUCCESS, APR_REG, 5},
    {"a link to a directory inside", "", "dir-link", 0, APR_SUCCESS, APR_DIR, 0},
    {"a link up and back inside", "sub/", "back", 0, APR_SUCCESS, APR_REG, 5},
    {"a link to a file outside", "", "out-link", 0, KZ_STATUS_ESCAPE, APR_NOFILE, 0},
    {"a link to the root's parent", "", "up-dir", 0, KZ_STATUS_ESCAPE, APR_NOFILE, 0},
    {"a dangling link", "", "dangling", 0, APR_ENOENT, APR_NOFILE, 0},
    {"a missing entry", "", "missing", 0, APR_ENOENT, APR_NOFILE, 0},
    {"a link outside, allowed", "", "out-link", 1, APR_SUCCESS, APR_REG, 7},
    {"the root's parent, allowed", "", "up-dir", 1, APR_SUCCESS, APR_DIR, 0},
};

static void test_stat(void)
{
    kz_root_t *root;
    struct timeval times[2] = {{1700000000, 0}, {1700000000, 0}};

    make_tree();
    CU_ASSERT_EQUAL_FATAL(utimes(at("www/f.txt"), times), 0);
    CU_ASSERT_EQUAL_FATAL(kz_root_open(&root, at("www"), kz_test_pool), APR_SUCCESS);
    for (apr_size_t i = 0; i < sizeof(stat_rows) / sizeof(stat_rows[0]); i++) {
        kz_dir_t *dir;
        apr_finfo_t fi;
        apr_status_t rv;
        int ok;

        CU_ASSERT_EQUAL_FATAL(
            kz_root_open_dir(&dir, root, stat_rows[i].rel, stat_rows[i].allow_escape, kz_test_pool),
            APR_SUCCESS);
        rv = kz_dir_stat(&fi, dir, stat_rows[i].name);
        ok = stat_rows[i].rv == APR_ENOENT ? APR_STATUS_IS_ENOENT(rv) : rv == stat_rows[i].rv;
        CU_ASSERT(ok);
        if (!ok) {
            fprintf(stderr, "\n  stat %s: %d, expected %d\n", stat_rows[i].what, rv,
                    stat_rows[i].rv);
        }
        if (rv == APR_SUCCESS) {
            CU_ASSERT_EQUAL(fi.filetype, stat_rows[i].type);
            if (fi.filetype == APR_REG) {
                CU_ASSERT_EQUAL(fi.size, stat_rows[i].size);
            }
        }
    }
    /* The time of the file itself, also through a link. */
    {
        kz_dir_t *dir;
        apr_finfo_t fi;

        CU_ASSERT_EQUAL_FATAL(kz_root_open_dir(&dir, root, "", 0, kz_test_pool), APR_SUCCESS);
        CU_ASSERT_EQUAL(kz_dir_stat(&fi, dir, "f.txt"), APR_SUCCESS);
        CU_ASSERT_EQUAL(fi.mtime, apr_time_from_sec(1700000000));
        CU_ASSERT_EQUAL(kz_dir_stat(&fi, dir, "in-link"), APR_SUCCESS);
        CU_ASSERT_EQUAL(fi.mtime, apr_time_from_sec(1700000000));
    }
    remove_tree();
}

static const kz_test_case_t cases[] = {
    {"compare", test_compare},
    {"sort", test_sort},
    {"size", test_size},
    {"date", test_date},
    {"text of names", test_text},
    {"text of .maindesc", test_maindesc_text},
    {"href", test_href},
    {"read entries", test_read_entries},
    {"open directory", test_open_dir},
    {"stat entries", test_stat},
    {NULL, NULL},
};

KZ_TEST_SUITE(dirlist, cases)
