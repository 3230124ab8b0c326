/*
 * Tests of runtime/kz_fs.h that hold on every platform (unix/fs.c and win32/fs.c): opening
 * files and directories beneath a root, reading a directory, and refusing the names Windows
 * would read differently from the URL (a trailing dot, "::$DATA", device names, backslashes),
 * which must never reach another file. The trees are made with APR alone; the symbolic-link
 * cases are in test/unit/unix/test_fs.c.
 */
#include "kz_fs.h"
#include "kz_test.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

/* A fresh directory with root/sub/a.txt ("inside") and root/b.txt ("bee"). */
static const char *make_root(void)
{
    const char *tmp;
    char *dir;
    apr_file_t *f;

    CU_ASSERT_EQUAL_FATAL(apr_temp_dir_get(&tmp, kz_test_pool), APR_SUCCESS);
    dir = apr_psprintf(kz_test_pool, "%s/kz-fsroot-%" APR_TIME_T_FMT, tmp, apr_time_now());
    CU_ASSERT_EQUAL_FATAL(apr_dir_make_recursive(apr_pstrcat(kz_test_pool, dir, "/sub", NULL),
                                                 APR_FPROT_OS_DEFAULT, kz_test_pool),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_file_open(&f, apr_pstrcat(kz_test_pool, dir, "/sub/a.txt", NULL),
                                        APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_BINARY,
                                        APR_FPROT_OS_DEFAULT, kz_test_pool),
                          APR_SUCCESS);
    apr_file_puts("inside", f);
    apr_file_close(f);
    CU_ASSERT_EQUAL_FATAL(apr_file_open(&f, apr_pstrcat(kz_test_pool, dir, "/b.txt", NULL),
                                        APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_BINARY,
                                        APR_FPROT_OS_DEFAULT, kz_test_pool),
                          APR_SUCCESS);
    apr_file_puts("bee", f);
    apr_file_close(f);
    return dir;
}

static void remove_root(const char *dir)
{
    apr_file_remove(apr_pstrcat(kz_test_pool, dir, "/sub/a.txt", NULL), kz_test_pool);
    apr_file_remove(apr_pstrcat(kz_test_pool, dir, "/b.txt", NULL), kz_test_pool);
    apr_dir_remove(apr_pstrcat(kz_test_pool, dir, "/sub", NULL), kz_test_pool);
    apr_dir_remove(dir, kz_test_pool);
}

typedef struct open_row {
    const char *rel;
    int found;      /* 1: opens; 0: an ENOENT status; 2: an ENOTDIR status */
    apr_off_t size; /* for regular files */
    apr_filetype_e type;
} open_row_t;

static void test_open_portable(void)
{
    static const open_row_t rows[] = {
        {"sub/a.txt", 1, 6, APR_REG},
        {"b.txt", 1, 3, APR_REG},
        {"", 1, -1, APR_DIR},
        {"sub", 1, -1, APR_DIR},
        {"missing", 0, 0, APR_NOFILE},
        {"sub/missing.txt", 0, 0, APR_NOFILE},
        {"sub/a.txt/x", 2, 0, APR_NOFILE},
        /* Names Windows would map onto another file or a device: never opened. */
        {"sub/a.txt.", 0, 0, APR_NOFILE},         /* trailing dot stripped by Win32 */
        {"sub/a.txt ", 0, 0, APR_NOFILE},         /* trailing space stripped by Win32 */
        {"sub/a.txt::$DATA", 0, 0, APR_NOFILE},   /* NTFS default data stream */
        {"b.txt:stream", 0, 0, APR_NOFILE},       /* alternate data stream */
        {"sub\\a.txt", 0, 0, APR_NOFILE},         /* backslash, a separator on Windows */
        {"CON", 0, 0, APR_NOFILE},                /* console device */
        {"sub/nul.txt", 0, 0, APR_NOFILE},        /* NUL device, with an extension */
        {"com1", 0, 0, APR_NOFILE},               /* serial device, lowercase */
        {"C:/Windows/win.ini", 0, 0, APR_NOFILE}, /* a drive letter */
    };
    const char *dir = make_root();
    kz_root_t *root;

    CU_ASSERT_EQUAL_FATAL(kz_root_open(&root, dir, kz_test_pool), APR_SUCCESS);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_file_t *f = NULL;
        apr_finfo_t fi;
        apr_status_t rv = kz_root_open_file(&f, &fi, root, rows[i].rel, 0, kz_test_pool);

        if (rows[i].found == 1) {
            CU_ASSERT_EQUAL(rv, APR_SUCCESS);
            CU_ASSERT_EQUAL(fi.filetype, rows[i].type);
            if (rows[i].type == APR_REG) {
                CU_ASSERT_EQUAL(fi.size, rows[i].size);
            }
            if (rv == APR_SUCCESS) {
                apr_file_close(f);
            }
        } else if (rows[i].found == 2) {
            CU_ASSERT_TRUE(APR_STATUS_IS_ENOTDIR(rv) || APR_STATUS_IS_ENOENT(rv));
        } else if (!APR_STATUS_IS_ENOENT(rv)) {
            fprintf(stderr, "\n  %s: status %d\n", rows[i].rel, rv);
            CU_FAIL("a name Windows reads differently was not refused as missing");
        }
    }
    remove_root(dir);
}

static void test_read_dir(void)
{
    const char *dir = make_root();
    kz_root_t *root;
    kz_dir_t *d;
    const char *name;
    apr_filetype_e type;
    apr_finfo_t fi;
    int seen_sub = 0, seen_b = 0, others = 0;

    CU_ASSERT_EQUAL_FATAL(kz_root_open(&root, dir, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(kz_root_open_dir(&d, root, "", 0, kz_test_pool), APR_SUCCESS);
    while (kz_dir_read(&name, &type, d) == APR_SUCCESS) {
        if (strcmp(name, "sub") == 0) {
            seen_sub++;
            CU_ASSERT_TRUE(type == APR_DIR || type == APR_UNKFILE);
        } else if (strcmp(name, "b.txt") == 0) {
            seen_b++;
            CU_ASSERT_TRUE(type == APR_REG || type == APR_UNKFILE);
            CU_ASSERT_EQUAL(kz_dir_stat(&fi, d, name), APR_SUCCESS);
            CU_ASSERT_EQUAL(fi.filetype, APR_REG);
            CU_ASSERT_EQUAL(fi.size, 3);
        } else {
            others++;
        }
    }
    CU_ASSERT_EQUAL(seen_sub, 1);
    CU_ASSERT_EQUAL(seen_b, 1);
    CU_ASSERT_EQUAL(others, 0); /* "." and ".." are skipped */
    CU_ASSERT_TRUE(APR_STATUS_IS_ENOTDIR(kz_root_open_dir(&d, root, "b.txt", 0, kz_test_pool)));
    CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(kz_root_open_dir(&d, root, "nope", 0, kz_test_pool)));
    remove_root(dir);
}

static const kz_test_case_t cases[] = {
    {"open beneath a root, refusing names Windows reads differently", test_open_portable},
    {"read a directory beneath a root", test_read_dir},
    {NULL, NULL},
};

KZ_TEST_SUITE(fs_root, cases)
