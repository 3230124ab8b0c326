/*
 * Tests of server/filecache.c: hits within a second, revalidation after it, a changed file
 * getting a new entry while a request keeps the old one, content of small files only, and the
 * entry bound; and what static files added: validators made once per entry, absences
 * remembered by kz_filecache_probe for a second (precompressed siblings cost no system call
 * when missing), and kz_filecache_type, which keeps no reference.
 */
#include "filecache.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir;
static kz_root_t *root;

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(apr_pstrcat(kz_test_pool, dir, "/", name, NULL), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    char *d = apr_pstrdup(kz_test_pool, "/tmp/kz-fc-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d));
    dir = d;
    CU_ASSERT_EQUAL_FATAL(kz_root_open(&root, dir, kz_test_pool), APR_SUCCESS);
}

static void cleanup(const char *const *names)
{
    for (; *names; names++) {
        remove(apr_pstrcat(kz_test_pool, dir, "/", *names, NULL));
    }
    rmdir(dir);
}

static void test_hit_and_revalidate(void)
{
    kz_filecache_t *fc;
    kz_fcentry_t *a, *b, *c;
    apr_pool_t *r1, *r2, *r3;
    apr_time_t t0 = apr_time_from_sec(1000);
    const char *names[] = {"small.txt", NULL};

    setup();
    fc = kz_filecache_create(8, 1 << 20, 16, kz_test_pool);
    write_file("small.txt", "hello");
    apr_pool_create(&r1, kz_test_pool);
    CU_ASSERT_EQUAL_FATAL(kz_filecache_open(&a, fc, root, "small.txt", 0, t0, r1), APR_SUCCESS);
    CU_ASSERT_EQUAL(a->finfo.size, 5);
    CU_ASSERT_NSTRING_EQUAL(a->content, "hello", 5);

    /* Within the second: the same entry, even though the file changed meanwhile. */
    write_file("small.txt", "changed!");
    apr_pool_create(&r2, kz_test_pool);
    CU_ASSERT_EQUAL(kz_filecache_open(&b, fc, root, "small.txt", 0, t0 + 500000, r2), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(b, a);

    /* After it: a new entry with the new content; the old one lives while r1 and r2 do. */
    apr_pool_create(&r3, kz_test_pool);
    CU_ASSERT_EQUAL(kz_filecache_open(&c, fc, root, "small.txt", 0, t0 + 1500000, r3), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_EQUAL(c, a);
    CU_ASSERT_EQUAL(c->finfo.size, 8);
    CU_ASSERT_NSTRING_EQUAL(c->content, "changed!", 8);
    CU_ASSERT_NSTRING_EQUAL(a->content, "hello", 5); /* still valid for its requests */
    apr_pool_destroy(r1);
    apr_pool_destroy(r2);
    apr_pool_destroy(r3);
    cleanup(names);
}

static void test_large_and_missing(void)
{
    kz_filecache_t *fc;
    kz_fcentry_t *e;
    apr_pool_t *r;
    const char *names[] = {"big.txt", NULL};

    setup();
    fc = kz_filecache_create(8, 1 << 20, 16, kz_test_pool);
    write_file("big.txt", "more than sixteen bytes");
    apr_pool_create(&r, kz_test_pool);
    CU_ASSERT_EQUAL_FATAL(kz_filecache_open(&e, fc, root, "big.txt", 0, 0, r), APR_SUCCESS);
    CU_ASSERT_PTR_NULL(e->content);
    CU_ASSERT_PTR_NOT_NULL(e->file);
    CU_ASSERT_EQUAL(e->finfo.size, 23);
    CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(kz_filecache_open(&e, fc, root, "nope", 0, 0, r)));
    CU_ASSERT_EQUAL(kz_filecache_open(&e, fc, root, "", 0, 0, r), APR_SUCCESS);
    CU_ASSERT_EQUAL(e->finfo.filetype, APR_DIR);
    CU_ASSERT_PTR_NULL(e->file);
    apr_pool_destroy(r);
    cleanup(names);
}

static void test_bound(void)
{
    kz_filecache_t *fc;
    kz_fcentry_t *first, *e;
    apr_pool_t *r;
    const char *names[] = {"f0", "f1", "f2", "f3", "f4", NULL};

    setup();
    fc = kz_filecache_create(3, 1 << 20, 16, kz_test_pool);
    for (int i = 0; names[i]; i++) {
        write_file(names[i], names[i]);
    }
    apr_pool_create(&r, kz_test_pool);
    CU_ASSERT_EQUAL_FATAL(kz_filecache_open(&first, fc, root, "f0", 0, 0, r), APR_SUCCESS);
    apr_pool_destroy(r);
    for (int i = 1; names[i]; i++) {
        apr_pool_create(&r, kz_test_pool);
        CU_ASSERT_EQUAL(kz_filecache_open(&e, fc, root, names[i], 0, 0, r), APR_SUCCESS);
        apr_pool_destroy(r);
    }
    /* f0 was evicted (least recently used): opening it again gives a fresh entry. */
    apr_pool_create(&r, kz_test_pool);
    CU_ASSERT_EQUAL(kz_filecache_open(&e, fc, root, "f4", 0, 0, r), APR_SUCCESS);
    CU_ASSERT_NSTRING_EQUAL(e->content, "f4", 2);
    CU_ASSERT_EQUAL(kz_filecache_open(&e, fc, root, "f0", 0, 0, r), APR_SUCCESS);
    CU_ASSERT_NSTRING_EQUAL(e->content, "f0", 2);
    apr_pool_destroy(r);
    cleanup(names);
}

static const kz_test_case_t cases[] = {
    {"hit and revalidate", test_hit_and_revalidate},
    {"large and missing", test_large_and_missing},
    {"entry bound", test_bound},
    {NULL, NULL},
};

KZ_TEST_SUITE(filecache, cases)

static void test_validators(void)
{
    const char *names[] = {"v.txt", NULL};
    kz_filecache_t *fc;
    kz_fcentry_t *e;
    char want[64];

    setup();
    fc = kz_filecache_create(8, 1 << 20, 1024, kz_test_pool);
    write_file("v.txt", "0123456789");
    CU_ASSERT_EQUAL_FATAL(
        kz_filecache_open(&e, fc, root, "v.txt", 0, apr_time_from_sec(5), kz_test_pool),
        APR_SUCCESS);
    snprintf(want, sizeof(want), "\"%" APR_UINT64_T_HEX_FMT "-a\"", (apr_uint64_t)e->finfo.mtime);
    CU_ASSERT_STRING_EQUAL(e->etag, want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->last_modified);
    CU_ASSERT_EQUAL(strlen(e->last_modified), 29);
    CU_ASSERT_STRING_EQUAL(e->last_modified + 25, " GMT");
    cleanup(names);
}

static void test_probe_remembers_absence(void)
{
    const char *names[] = {"a.css", "a.css.br", NULL};
    apr_time_t t0 = apr_time_from_sec(1000);
    kz_filecache_t *fc;
    kz_fcentry_t *e;
    apr_pool_t *req;

    setup();
    fc = kz_filecache_create(8, 1 << 20, 1024, kz_test_pool);
    write_file("a.css", "p{}");
    apr_pool_create(&req, kz_test_pool);
    CU_ASSERT(APR_STATUS_IS_ENOENT(kz_filecache_probe(&e, fc, root, "a.css.br", 0, t0, req)));
    /* It appears now, but the absence holds for the second (no system call is made). */
    write_file("a.css.br", "compressed");
    CU_ASSERT(
        APR_STATUS_IS_ENOENT(kz_filecache_probe(&e, fc, root, "a.css.br", 0, t0 + 900000, req)));
    /* kz_filecache_open never trusts a remembered absence. */
    CU_ASSERT_EQUAL(kz_filecache_open(&e, fc, root, "a.css.br", 0, t0 + 900000, req), APR_SUCCESS);
    CU_ASSERT_EQUAL(e->finfo.size, 10);
    CU_ASSERT_EQUAL(kz_filecache_probe(&e, fc, root, "a.css.br", 0, t0 + 950000, req), APR_SUCCESS);
    /* Gone again: after the second, the probe sees it. */
    remove(apr_pstrcat(kz_test_pool, dir, "/a.css.br", NULL));
    CU_ASSERT(
        APR_STATUS_IS_ENOENT(kz_filecache_probe(&e, fc, root, "a.css.br", 0, t0 + 2100000, req)));
    /* A directory in the way (ENOTDIR) is an absence too. */
    CU_ASSERT(
        APR_STATUS_IS_ENOTDIR(
            kz_filecache_probe(&e, fc, root, "a.css/x.br", 0, t0 + 2100000, req)) ||
        APR_STATUS_IS_ENOENT(kz_filecache_probe(&e, fc, root, "a.css/x.br", 0, t0 + 2100000, req)));
    apr_pool_destroy(req);
    cleanup(names);
}

static void test_absences_are_bounded(void)
{
    /* Absent entries count against the entry limit like the others (least recently used out). */
    const char *names[] = {"missing-0.br", "missing-99.br", NULL};
    kz_filecache_t *fc;
    kz_fcentry_t *e;
    apr_time_t t0 = apr_time_from_sec(1000);
    apr_pool_t *req;

    setup();
    fc = kz_filecache_create(4, 1 << 20, 1024, kz_test_pool);
    apr_pool_create(&req, kz_test_pool);
    for (int i = 0; i < 100; i++) {
        const char *name = apr_psprintf(req, "missing-%d.br", i);
        CU_ASSERT(APR_STATUS_IS_ENOENT(kz_filecache_probe(&e, fc, root, name, 0, t0, req)));
    }
    write_file("missing-0.br", "0");
    write_file("missing-99.br", "99");
    /* The first absence was pushed out, so the file is seen; the last is still remembered. */
    CU_ASSERT_EQUAL(kz_filecache_probe(&e, fc, root, "missing-0.br", 0, t0, req), APR_SUCCESS);
    CU_ASSERT(APR_STATUS_IS_ENOENT(kz_filecache_probe(&e, fc, root, "missing-99.br", 0, t0, req)));
    apr_pool_destroy(req);
    cleanup(names);
}

static void test_type_keeps_no_reference(void)
{
    const char *names[] = {"f.txt", "d", NULL};
    kz_filecache_t *fc;
    kz_fcentry_t *e;
    apr_filetype_e type;
    apr_time_t t0 = apr_time_from_sec(1000);

    setup();
    fc = kz_filecache_create(8, 1 << 20, 1024, kz_test_pool);
    write_file("f.txt", "x");
    CU_ASSERT_EQUAL(mkdir(apr_pstrcat(kz_test_pool, dir, "/d", NULL), 0755), 0);
    CU_ASSERT_EQUAL(kz_filecache_type(&type, fc, root, "d", 0, t0), APR_SUCCESS);
    CU_ASSERT_EQUAL(type, APR_DIR);
    CU_ASSERT_EQUAL(kz_filecache_type(&type, fc, root, "f.txt", 0, t0), APR_SUCCESS);
    CU_ASSERT_EQUAL(type, APR_REG);
    CU_ASSERT(APR_STATUS_IS_ENOENT(kz_filecache_type(&type, fc, root, "none", 0, t0)));
    CU_ASSERT_EQUAL(type, APR_NOFILE);
    /* The entry it made is the one open() finds, with no reference taken by type(). */
    CU_ASSERT_EQUAL_FATAL(kz_filecache_open(&e, fc, root, "f.txt", 0, t0, kz_test_pool),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL(e->refs, 1);
    remove(apr_pstrcat(kz_test_pool, dir, "/d", NULL));
    rmdir(apr_pstrcat(kz_test_pool, dir, "/d", NULL));
    cleanup(names);
}

static const kz_test_case_t probe_cases[] = {
    {"validators", test_validators},
    {"probe remembers absence", test_probe_remembers_absence},
    {"absences are bounded", test_absences_are_bounded},
    {"type keeps no reference", test_type_keeps_no_reference},
    {NULL, NULL},
};

KZ_TEST_SUITE(filecache_probe, probe_cases)
