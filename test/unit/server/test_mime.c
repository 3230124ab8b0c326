/*
 * Tests for server/mime.c: the compiled-in table of conf/mime.types, lookups by extension,
 * mime.types parsing and its errors, and loading a file.
 */
#include "kz_test.h"
#include "mime.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <string.h>

#ifndef KZ_SOURCE_DIR
#define KZ_SOURCE_DIR "."
#endif

typedef struct {
    const char *path;
    const char *type; /* NULL: no type */
} lookup_row_t;

static void check_lookups(const kz_mime_t *mime, const lookup_row_t *rows)
{
    for (const lookup_row_t *r = rows; r->path; r++) {
        const char *type = kz_mime_lookup(mime, r->path);
        if (r->type == NULL) {
            CU_ASSERT_PTR_NULL(type);
        } else {
            CU_ASSERT_PTR_NOT_NULL(type);
            CU_ASSERT_STRING_EQUAL(type ? type : "(none)", r->type);
        }
        if (type != r->type && (!type || !r->type || strcmp(type, r->type) != 0)) {
            fprintf(stderr, "\n  %s: got %s, expected %s\n", r->path, type ? type : "NULL",
                    r->type ? r->type : "NULL");
        }
    }
}

static const lookup_row_t builtin_rows[] = {
    {"/index.html", "text/html"},
    {"/index.htm", "text/html"},
    {"/index.xhtml", "application/xhtml+xml"},
    {"/s.css", "text/css"},
    {"/app.js", "text/javascript"},
    {"/mod.mjs", "text/javascript"},
    {"/d.json", "application/json"},
    {"/d.xml", "application/xml"},
    {"/r.txt", "text/plain"},
    {"/t.csv", "text/csv"},
    {"/README.md", "text/markdown"},
    {"/i.png", "image/png"},
    {"/i.jpg", "image/jpeg"},
    {"/i.jpeg", "image/jpeg"},
    {"/i.gif", "image/gif"},
    {"/i.webp", "image/webp"},
    {"/i.avif", "image/avif"},
    {"/i.svg", "image/svg+xml"},
    {"/favicon.ico", "image/vnd.microsoft.icon"},
    {"/i.bmp", "image/bmp"},
    {"/i.tiff", "image/tiff"},
    {"/i.tif", "image/tiff"},
    {"/f.woff", "font/woff"},
    {"/f.woff2", "font/woff2"},
    {"/f.ttf", "font/ttf"},
    {"/f.otf", "font/otf"},
    {"/f.eot", "application/vnd.ms-fontobject"},
    {"/a.mp3", "audio/mpeg"},
    {"/a.ogg", "audio/ogg"},
    {"/a.oga", "audio/ogg"},
    {"/a.opus", "audio/ogg"},
    {"/a.wav", "audio/wav"},
    {"/a.flac", "audio/flac"},
    {"/a.m4a", "audio/mp4"},
    {"/a.aac", "audio/aac"},
    {"/v.mp4", "video/mp4"},
    {"/v.m4v", "video/mp4"},
    {"/v.webm", "video/webm"},
    {"/v.mkv", "video/matroska"},
    {"/v.mov", "video/quicktime"},
    {"/v.avi", "video/vnd.avi"},
    {"/z.zip", "application/zip"},
    {"/z.gz", "application/gzip"},
    {"/z.tgz", "application/gzip"},
    {"/z.tar.gz", "application/gzip"},
    {"/z.bz2", "application/x-bzip2"},
    {"/z.xz", "application/x-xz"},
    {"/z.zst", "application/zstd"},
    {"/z.br", "application/x-brotli"},
    {"/z.7z", "application/x-7z-compressed"},
    {"/z.rar", "application/vnd.rar"},
    {"/z.tar", "application/x-tar"},
    {"/d.pdf", "application/pdf"},
    {"/d.doc", "application/msword"},
    {"/d.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"/d.xls", "application/vnd.ms-excel"},
    {"/d.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"/d.ppt", "application/vnd.ms-powerpoint"},
    {"/d.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"/d.odt", "application/vnd.oasis.opendocument.text"},
    {"/d.ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"/d.odp", "application/vnd.oasis.opendocument.presentation"},
    {"/d.rtf", "application/rtf"},
    {"/d.epub", "application/epub+zip"},
    {"/m.wasm", "application/wasm"},
    {"/site.webmanifest", "application/manifest+json"},
    {"/c.ics", "text/calendar"},
    {"/c.vcf", "text/vcard"},
    {"/s.sh", "application/x-sh"},
    {"/p.bin", "application/octet-stream"},
    {"/index.php", NULL},
    {"/x.unknownext", NULL},
    {NULL, NULL},
};

static const lookup_row_t edge_rows[] = {
    {"/INDEX.HTML", "text/html"},
    {"/Photo.JpG", "image/jpeg"},
    {"/a/b/c.WOFF2", "font/woff2"},
    {"index.html", "text/html"},
    {"/README", NULL},
    {"README", NULL},
    {"/", NULL},
    {"", NULL},
    {"/dir/", NULL},
    {"/.htaccess", NULL},
    {".htaccess", NULL},
    {"/a/.css", NULL},
    {"/a/.config.json", "application/json"},
    {"/a.b/c", NULL},
    {"/a.html/", NULL},
    {"/file.", NULL},
    {"/file.html.", NULL},
    {"/archive.tar.gz", "application/gzip"},
    {"/x.html.bak", NULL},
    {"/x.aVeryLongExtensionThatIsNotKnownAnywhere", NULL},
    {NULL, NULL},
};

static void test_builtin_common_types(void)
{
    kz_mime_t *mime = kz_mime_builtin(kz_test_pool);

    CU_ASSERT_PTR_NOT_NULL_FATAL(mime);
    check_lookups(mime, builtin_rows);
}

static void test_lookup_edges(void)
{
    check_lookups(kz_mime_builtin(kz_test_pool), edge_rows);
    CU_ASSERT_PTR_NULL(kz_mime_lookup(NULL, "/a.html"));
    CU_ASSERT_PTR_NULL(kz_mime_lookup(kz_mime_builtin(kz_test_pool), NULL));
}

/* The cache lives as long as the pool of the first call; a new pool after that parses again. */
static void test_builtin_cache(void)
{
    apr_pool_t *sub;
    kz_mime_t *first, *again, *later;

    apr_pool_create(&sub, kz_test_pool);
    first = kz_mime_builtin(sub);
    again = kz_mime_builtin(sub);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_EQUAL(first, again);
    apr_pool_destroy(sub);
    later = kz_mime_builtin(kz_test_pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(later);
    /* A stale pointer into the destroyed pool would still "work" (APR recycles, not frees). */
    CU_ASSERT_PTR_NOT_EQUAL(later, first);
    CU_ASSERT_STRING_EQUAL(kz_mime_lookup(later, "/a.css"), "text/css");
}

static void test_parse(void)
{
    static const char text[] = "# a comment\n"
                               "\n"
                               "text/html html htm   # trailing comment\n"
                               "  image/png\tpng\r\n"
                               "application/x-empty\n"
                               "Text/X-Mixed MiXeD\n"
                               "text/plain txt dup\n"
                               "text/x-later dup\n"
                               "text/x-long abcdefghijklmnopqrstuvwxyz01234 "
                               "abcdefghijklmnopqrstuvwxyz012345\n"
                               "text/x-dotted tar.gz gz\n"
                               "text/x-last last";
    static const lookup_row_t rows[] = {
        {"/a.html", "text/html"},
        {"/a.HTM", "text/html"},
        {"/a.png", "image/png"},
        {"/a.mixed", "Text/X-Mixed"},
        {"/a.txt", "text/plain"},
        {"/a.dup", "text/x-later"},
        {"/a.abcdefghijklmnopqrstuvwxyz01234", "text/x-long"},
        {"/a.abcdefghijklmnopqrstuvwxyz012345", NULL},
        {"/a.last", "text/x-last"},
        {"/a.tar.gz", "text/x-dotted"},
        {"/a.tar", NULL},
        {"/a.comment", NULL},
        {"/a.css", NULL},
        {NULL, NULL},
    };
    const char *error = "unset";
    kz_mime_t *mime = kz_mime_parse(text, &error, kz_test_pool);

    CU_ASSERT_PTR_NOT_NULL_FATAL(mime);
    CU_ASSERT_PTR_NULL(error);
    check_lookups(mime, rows);

    mime = kz_mime_parse("", &error, kz_test_pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mime);
    CU_ASSERT_PTR_NULL(kz_mime_lookup(mime, "/a.html"));
}

static void test_parse_errors(void)
{
    static const struct {
        const char *text, *error;
    } rows[] = {
        {"text/html html\nbogus foo\n", "line 2: media type \"bogus\" has no '/'"},
        {"# c\n\n\n/html html\n", "line 4: media type \"/html\" has an empty type or subtype"},
        {"text/ html\n", "line 1: media type \"text/\" has an empty type or subtype"},
        {"text/h\"tml html\n", "line 1: media type \"text/h\"tml\" has an invalid character"},
        {"text/ht\x01ml x\n", "line 1: media type \"text/ht\x01ml\" has an invalid character"},
        {"text/a/b x\n", "line 1: media type \"text/a/b\" has an invalid character"},
        {"text/plain a\x7f\n", "line 1: extension \"a\x7f\" has an invalid character"},
        {"text/plain a/b\n", "line 1: extension \"a/b\" has an invalid character"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *error = NULL;
        CU_ASSERT_PTR_NULL(kz_mime_parse(rows[i].text, &error, kz_test_pool));
        CU_ASSERT_PTR_NOT_NULL_FATAL(error);
        CU_ASSERT_STRING_EQUAL(error, rows[i].error);
    }
}

static const char *write_temp(const char *content, apr_size_t len)
{
    const char *dir = NULL;
    apr_file_t *fd;
    char *name;

    CU_ASSERT_EQUAL_FATAL(apr_temp_dir_get(&dir, kz_test_pool), APR_SUCCESS);
    name = apr_pstrcat(kz_test_pool, dir, "/kz_mime_XXXXXX", NULL);
    CU_ASSERT_EQUAL_FATAL(apr_file_mktemp(&fd, name,
                                          APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE |
                                              APR_FOPEN_EXCL | APR_FOPEN_DELONCLOSE,
                                          kz_test_pool),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_file_write_full(fd, content, len, NULL), APR_SUCCESS);
    return name; /* removed when kz_test_pool closes fd */
}

static void test_load(void)
{
    const char *error = "unset";
    const char *conf = KZ_SOURCE_DIR "/conf/mime.types";
    kz_mime_t *mime = kz_mime_load(conf, &error, kz_test_pool);

    CU_ASSERT_PTR_NOT_NULL_FATAL(mime);
    CU_ASSERT_PTR_NULL(error);
    /* The file and the compiled-in copy agree. */
    check_lookups(mime, builtin_rows);

    const char *file = write_temp("text/x-a a\r\n# x\nfont/x-b B\n", 27);
    mime = kz_mime_load(file, &error, kz_test_pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mime);
    CU_ASSERT_STRING_EQUAL(kz_mime_lookup(mime, "/f.a"), "text/x-a");
    CU_ASSERT_STRING_EQUAL(kz_mime_lookup(mime, "/f.b"), "font/x-b");
}

static void test_load_errors(void)
{
    const char *error = NULL;
    const char *file = write_temp("text/html html\n\nnot-a-type x\n", 29);

    CU_ASSERT_PTR_NULL(kz_mime_load(file, &error, kz_test_pool));
    CU_ASSERT_PTR_NOT_NULL_FATAL(error);
    CU_ASSERT_STRING_EQUAL(
        error,
        apr_pstrcat(kz_test_pool, file, ": line 3: media type \"not-a-type\" has no '/'", NULL));

    error = NULL;
    CU_ASSERT_PTR_NULL(kz_mime_load("/nonexistent/kz/mime.types", &error, kz_test_pool));
    CU_ASSERT_PTR_NOT_NULL_FATAL(error);
    CU_ASSERT_NSTRING_EQUAL(error, "/nonexistent/kz/mime.types: ", 28);
    CU_ASSERT(strlen(error) > 28);

    error = NULL;
    CU_ASSERT_PTR_NULL(kz_mime_load(KZ_SOURCE_DIR "/conf", &error, kz_test_pool));
    CU_ASSERT_PTR_NOT_NULL_FATAL(error);
    CU_ASSERT_PTR_NOT_NULL(strstr(error, KZ_SOURCE_DIR "/conf: "));

    /* A NUL byte would silently cut the table short. */
    error = NULL;
    file = write_temp("text/html html\n\0text/css css\n", 29);
    CU_ASSERT_PTR_NULL(kz_mime_load(file, &error, kz_test_pool));
    CU_ASSERT_PTR_NOT_NULL_FATAL(error);
    CU_ASSERT_PTR_NOT_NULL(strstr(error, file));
}

static const kz_test_case_t cases[] = {
    {"builtin common types", test_builtin_common_types},
    {"lookup edge cases", test_lookup_edges},
    {"builtin cache follows its pool", test_builtin_cache},
    {"parse", test_parse},
    {"parse errors name the line", test_parse_errors},
    {"load a file", test_load},
    {"load errors name the file", test_load_errors},
    {NULL, NULL},
};

KZ_TEST_SUITE(mime, cases)
