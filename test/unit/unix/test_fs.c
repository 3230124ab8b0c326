/*
 * Tests of unix/fs.c: opening beneath a root, and refusing symbolic links that lead outside it.
 */
#include "kz_fs.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *make_tree(void)
{
    char *dir = apr_pstrdup(kz_test_pool, "/tmp/kz-fs-XXXXXX");
    FILE *f;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    CU_ASSERT_EQUAL(mkdir(apr_pstrcat(kz_test_pool, dir, "/root", NULL), 0755), 0);
    CU_ASSERT_EQUAL(mkdir(apr_pstrcat(kz_test_pool, dir, "/root/sub", NULL), 0755), 0);
    f = fopen(apr_pstrcat(kz_test_pool, dir, "/root/sub/a.txt", NULL), "w");
    fputs("inside", f);
    fclose(f);
    f = fopen(apr_pstrcat(kz_test_pool, dir, "/secret.txt", NULL), "w");
    fputs("outside!", f);
    fclose(f);
    CU_ASSERT_EQUAL(symlink("sub/a.txt", apr_pstrcat(kz_test_pool, dir, "/root/in", NULL)), 0);
    CU_ASSERT_EQUAL(symlink("../secret.txt", apr_pstrcat(kz_test_pool, dir, "/root/out", NULL)), 0);
    CU_ASSERT_EQUAL(symlink(apr_pstrcat(kz_test_pool, dir, "/root/sub/a.txt", NULL),
                            apr_pstrcat(kz_test_pool, dir, "/root/abs", NULL)),
                    0);
    return dir;
}

static void remove_tree(const char *dir)
{
    const char *names[] = {"/root/in",  "/root/out", "/root/abs",   "/root/sub/a.txt",
                           "/root/sub", "/root",     "/secret.txt", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        remove(apr_pstrcat(kz_test_pool, dir, names[i], NULL));
    }
}

static void test_open_beneath(void)
{
    const char *dir = make_tree();
    kz_root_t *root;
    apr_file_t *f;
    apr_finfo_t fi;
    static const struct {
        const char *rel;
        int allow;
        apr_status_t want; /* 0 = success */
        apr_off_t size;
        apr_filetype_e type;
    } rows[] = {
        {"sub/a.txt", 0, APR_SUCCESS, 6, APR_REG},
        {"", 0, APR_SUCCESS, -1, APR_DIR},
        {"sub", 0, APR_SUCCESS, -1, APR_DIR},
        {"in", 0, APR_SUCCESS, 6, APR_REG},          /* a link that stays inside */
        {"out", 0, KZ_STATUS_ESCAPE, 0, APR_NOFILE}, /* "../secret.txt" */
        {"out", 1, APR_SUCCESS, 8, APR_REG},         /* allowed by the property */
        {"../secret.txt", 0, KZ_STATUS_ESCAPE, 0, APR_NOFILE},
        {"missing", 0, APR_ENOENT, 0, APR_NOFILE},
        {"sub/a.txt/x", 0, APR_ENOTDIR, 0, APR_NOFILE},
    };

    CU_ASSERT_EQUAL_FATAL(
        kz_root_open(&root, apr_pstrcat(kz_test_pool, dir, "/root", NULL), kz_test_pool),
        APR_SUCCESS);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_status_t rv =
            kz_root_open_file(&f, &fi, root, rows[i].rel, rows[i].allow, kz_test_pool);
        if (rows[i].want == APR_ENOENT) {
            CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(rv));
        } else if (rows[i].want == APR_ENOTDIR) {
            CU_ASSERT_TRUE(APR_STATUS_IS_ENOTDIR(rv));
        } else {
            CU_ASSERT_EQUAL(rv, rows[i].want);
        }
        if (rv == APR_SUCCESS) {
            CU_ASSERT_EQUAL(fi.filetype, rows[i].type);
            if (rows[i].size >= 0) {
                CU_ASSERT_EQUAL(fi.size, rows[i].size);
            }
        }
    }
    /* An absolute link is refused even when it points inside: RESOLVE_BENEATH semantics. */
    CU_ASSERT_NOT_EQUAL(kz_root_open_file(&f, &fi, root, "abs", 0, kz_test_pool), APR_SUCCESS);
    remove_tree(dir);
}

static const kz_test_case_t cases[] = {
    {"open beneath a root", test_open_beneath},
    {NULL, NULL},
};

KZ_TEST_SUITE(fs, cases)
