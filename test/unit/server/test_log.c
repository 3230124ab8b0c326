/*
 * Tests of server/log.c: the Combined Log Format line and its escaping, the error line, the
 * writer thread (lines reach the file, in order, after kz_logger_stop), reopening for rotation,
 * the bounded queue (a FIFO nobody reads makes the writer stall), failing writes (/dev/full),
 * standard error as the default error log, and the IMF-fixdate of RFC 9110 §5.6.7.
 */
#include "kz_test.h"
#include "log.h"

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T_2026 apr_time_from_sec(1795665600) /* 2026-11-26 04:00:00 UTC */

/* ---- helpers ---------------------------------------------------------------------------- */

static apr_status_t dir_cleanup(void *data)
{
    const char *dir = data;
    apr_pool_t *p;
    apr_dir_t *d;
    apr_finfo_t fi;

    apr_pool_create(&p, NULL);
    if (apr_dir_open(&d, dir, p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
            if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
                apr_file_remove(apr_pstrcat(p, dir, "/", fi.name, NULL), p);
            }
        }
        apr_dir_close(d);
    }
    apr_dir_remove(dir, p);
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

/* A fresh directory, removed with its files when the test's pool goes. */
static const char *tmp_dir(void)
{
    static int serial;
    const char *base, *dir;

    CU_ASSERT_FATAL(apr_temp_dir_get(&base, kz_test_pool) == APR_SUCCESS);
    dir = apr_psprintf(kz_test_pool, "%s/kz_log_%ld_%d_%" APR_TIME_T_FMT, base, (long)getpid(),
                       ++serial, apr_time_now());
    CU_ASSERT_FATAL(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, kz_test_pool) == APR_SUCCESS);
    apr_pool_cleanup_register(kz_test_pool, dir, dir_cleanup, apr_pool_cleanup_null);
    return dir;
}

/* The whole file as a string, or NULL when it cannot be read. */
static char *slurp(const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *s;
    apr_size_t n;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, kz_test_pool) != APR_SUCCESS) {
        return NULL;
    }
    apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    n = (apr_size_t)fi.size;
    s = apr_palloc(kz_test_pool, n + 1);
    if (n && apr_file_read_full(f, s, n, NULL) != APR_SUCCESS) {
        n = 0;
    }
    s[n] = '\0';
    apr_file_close(f);
    return s;
}

/* Splits text into lines (without their '\n'); returns how many. */
static int split_lines(char *text, char **lines, int max)
{
    int n = 0;
    char *p = text;

    while (p && *p && n < max) {
        char *nl = strchr(p, '\n');

        lines[n++] = p;
        if (!nl) {
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static int count_char(const char *s, char c)
{
    int n = 0;

    for (; s && *s; s++) {
        n += *s == c;
    }
    return n;
}

static char saved_tz[256];
static int had_tz;

static void tz_set(const char *tz)
{
    const char *old = getenv("TZ");

    had_tz = old != NULL;
    if (old) {
        apr_cpystrn(saved_tz, old, sizeof(saved_tz));
    }
    setenv("TZ", tz, 1);
    tzset();
}

static void tz_restore(void)
{
    if (had_tz) {
        setenv("TZ", saved_tz, 1);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

static kz_logger_t *start(const char *access, const char *error)
{
    kz_logger_t *l = NULL;
    const char *err = NULL;

    CU_ASSERT_FATAL(kz_logger_start(&l, access, error, &err, kz_test_pool) == APR_SUCCESS);
    CU_ASSERT_PTR_NULL(err);
    return l;
}

/* ---- access lines ----------------------------------------------------------------------- */

typedef struct access_row {
    const char *name;
    const char *tz;
    kz_access_record_t rec;
    const char *expect;
} access_row_t;

#define REC(ip, user, method, target, proto, status, bytes, ref, ua)                               \
    {                                                                                              \
        ip, user, T_2026, method, target, proto, status, bytes, ref, ua                            \
    }

static const access_row_t access_rows[] = {
    {"every field", "UTC0",
     REC("127.0.0.1", "alice", "GET", "/index.html", "HTTP/1.1", 200, 1234, "http://a.example/",
         "curl/7.88.1"),
     "127.0.0.1 - alice [26/Nov/2026:04:00:00 +0000] \"GET /index.html HTTP/1.1\" 200 1234 "
     "\"http://a.example/\" \"curl/7.88.1\""},
    {"absent user, bytes, referer", "UTC0",
     REC("127.0.0.1", NULL, "GET", "/index.html", "HTTP/1.1", 200, 0, NULL, "curl/7.88.1"),
     "127.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"GET /index.html HTTP/1.1\" 200 - \"-\" "
     "\"curl/7.88.1\""},
    {"everything absent", "UTC0", REC(NULL, "", NULL, NULL, NULL, 400, 0, NULL, NULL),
     "- - - [26/Nov/2026:04:00:00 +0000] \"-\" 400 - \"-\" \"-\""},
    {"no protocol (HTTP/0.9 shape)", "UTC0", REC("::1", NULL, "GET", "/", NULL, 404, 9, "", NULL),
     "::1 - - [26/Nov/2026:04:00:00 +0000] \"GET /\" 404 9 \"-\" \"-\""},
    {"body over 4 GiB", "UTC0",
     REC("10.0.0.1", NULL, "GET", "/big", "HTTP/1.1", 206, APR_INT64_C(5000000000), NULL, NULL),
     "10.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"GET /big HTTP/1.1\" 206 5000000000 \"-\" "
     "\"-\""},
    {"zone east, half hour", "IST-5:30",
     REC("127.0.0.1", NULL, "HEAD", "/", "HTTP/1.0", 304, 0, NULL, NULL),
     "127.0.0.1 - - [26/Nov/2026:09:30:00 +0530] \"HEAD / HTTP/1.0\" 304 - \"-\" \"-\""},
    {"zone west", "XYZ3", REC("127.0.0.1", NULL, "POST", "/f", "HTTP/1.1", 201, 2, NULL, NULL),
     "127.0.0.1 - - [26/Nov/2026:01:00:00 -0300] \"POST /f HTTP/1.1\" 201 2 \"-\" \"-\""},
    /* escaping */
    {"LF in target (line split)", "UTC0",
     REC("127.0.0.1", NULL, "GET", "/a\nb", "HTTP/1.1", 400, 0, NULL, NULL),
     "127.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"GET /a\\x0Ab HTTP/1.1\" 400 - \"-\" \"-\""},
    {"CRLF + forged line in User-Agent", "UTC0",
     REC("127.0.0.1", NULL, "GET", "/", "HTTP/1.1", 200, 1, NULL, "x\r\n6.6.6.6 - - [x] \"GET"),
     "127.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" "
     "\"x\\x0D\\x0A6.6.6.6 - - [x] \\\"GET\""},
    {"quote and backslash in referer", "UTC0",
     REC("127.0.0.1", NULL, "GET", "/", "HTTP/1.1", 200, 1, "a\"b\\c", NULL),
     "127.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"a\\\"b\\\\c\" "
     "\"-\""},
    {"tab, DEL and bytes >= 0x80", "UTC0",
     REC("127.0.0.1", NULL, "GET", "/caf\xc3\xa9\t\x7f", "HTTP/1.1", 200, 1, NULL, "\xff"),
     "127.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"GET /caf\\xC3\\xA9\\x09\\x7F HTTP/1.1\" 200 "
     "1 \"-\" \"\\xFF\""},
    {"space and quote in user (unquoted field)", "UTC0",
     REC("127.0.0.1", "bob smith\"", "GET", "/", "HTTP/1.1", 401, 0, NULL, NULL),
     "127.0.0.1 - bob\\x20smith\\\" [26/Nov/2026:04:00:00 +0000] \"GET / HTTP/1.1\" 401 - \"-\" "
     "\"-\""},
    {"quote in method", "UTC0", REC("127.0.0.1", NULL, "G\"T", "/", "HTTP/1.1", 501, 0, NULL, NULL),
     "127.0.0.1 - - [26/Nov/2026:04:00:00 +0000] \"G\\\"T / HTTP/1.1\" 501 - \"-\" \"-\""},
};

#define NROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_access_lines(void)
{
    const char *path = apr_pstrcat(kz_test_pool, tmp_dir(), "/access.log", NULL);
    kz_logger_t *l = start(path, NULL);
    char *lines[64];
    char *text;
    int n;

    for (int i = 0; i < NROWS(access_rows); i++) {
        /* A buffer per row: its time cache must not outlive a change of zone. */
        kz_logbuf_t *b = kz_logbuf_create(l, kz_test_pool);

        tz_set(access_rows[i].tz);
        kz_log_access(b, &access_rows[i].rec);
        tz_restore();
        kz_logbuf_flush(b);
    }
    kz_logger_stop(l);
    text = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(count_char(text, '\n'), NROWS(access_rows));
    n = split_lines(text, lines, 64);
    CU_ASSERT_EQUAL_FATAL(n, NROWS(access_rows));
    for (int i = 0; i < n; i++) {
        if (strcmp(lines[i], access_rows[i].expect) != 0) {
            fprintf(stderr, "\n  %s:\n    got  %s\n    want %s\n", access_rows[i].name, lines[i],
                    access_rows[i].expect);
        }
        CU_ASSERT_STRING_EQUAL(lines[i], access_rows[i].expect);
    }
    CU_ASSERT_EQUAL(kz_logger_dropped(l), 0);
    CU_ASSERT_EQUAL(kz_logger_failed_writes(l), 0);
}

/* Lines across many buffers arrive complete and in order; an over-long line is cut to 64 KiB. */
static void test_many_and_long_lines(void)
{
    const char *path = apr_pstrcat(kz_test_pool, tmp_dir(), "/access.log", NULL);
    kz_logger_t *l = start(path, NULL);
    kz_logbuf_t *b = kz_logbuf_create(l, kz_test_pool);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", NULL, "HTTP/1.1", 200, 0, NULL, NULL);
    char *longtarget = apr_palloc(kz_test_pool, 100001);
    enum { N = 3000 };
    static char *lines[N + 2];
    char *text;

    for (int i = 0; i < N; i++) {
        rec.target = apr_psprintf(kz_test_pool, "/%d/%0100d", i, 0);
        kz_log_access(b, &rec);
    }
    memset(longtarget, 'a', 100000);
    longtarget[100000] = '\0';
    rec.target = longtarget;
    kz_log_access(b, &rec);
    kz_logger_stop(l);
    text = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL_FATAL(split_lines(text, lines, N + 2), N + 1);
    for (int i = 0; i < N; i++) {
        char want[32];

        apr_snprintf(want, sizeof(want), "\"GET /%d/", i);
        CU_ASSERT_PTR_NOT_NULL(strstr(lines[i], want));
    }
    CU_ASSERT_EQUAL(strlen(lines[N]), 64 * 1024 - 1);
    CU_ASSERT_EQUAL(strncmp(lines[N], "127.0.0.1 - - [", 15), 0);
    CU_ASSERT_EQUAL(kz_logger_dropped(l), 0);
}

/* kz_logger_stop hands over lines a loop never flushed; afterwards the buffer logs nothing. */
static void test_stop_flushes_and_detaches(void)
{
    const char *dir = tmp_dir();
    const char *path = apr_pstrcat(kz_test_pool, dir, "/access.log", NULL);
    kz_logger_t *l = start(path, apr_pstrcat(kz_test_pool, dir, "/error.log", NULL));
    kz_logbuf_t *b = kz_logbuf_create(l, kz_test_pool);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", "/x", "HTTP/1.1", 200, 5, NULL, NULL);
    char *text;

    kz_log_access(b, &rec);
    kz_logger_stop(l);
    kz_log_access(b, &rec); /* after stop: dropped silently, no crash */
    kz_logbuf_flush(b);
    kz_logger_stop(l); /* twice: nothing */
    text = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(count_char(text, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"GET /x HTTP/1.1\" 200 5"));
}

/* No access log: access lines go nowhere, error lines still work. */
static void test_no_access_log(void)
{
    const char *dir = tmp_dir();
    const char *epath = apr_pstrcat(kz_test_pool, dir, "/error.log", NULL);
    kz_logger_t *l = start(NULL, epath);
    kz_logbuf_t *b = kz_logbuf_create(l, kz_test_pool);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", "/", "HTTP/1.1", 200, 5, NULL, NULL);
    char *text;

    kz_log_access(b, &rec);
    kz_log_error(l, b, KZ_LOG_INFO, 1, "only this");
    kz_logger_stop(l);
    text = slurp(epath);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(count_char(text, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "] [info] [KZ0001] only this\n"));
    CU_ASSERT_PTR_NULL(slurp(apr_pstrcat(kz_test_pool, dir, "/access.log", NULL)));
}

/* ---- error lines ------------------------------------------------------------------------ */

static void stamp_utc(char *out, apr_size_t n, apr_time_t t)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, t);
    apr_snprintf(out, n, "[%04d-%02d-%02d %02d:%02d:%02d]", x.tm_year + 1900, x.tm_mon + 1,
                 x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
}

static void test_error_lines(void)
{
    static const struct {
        const char *rest; /* the line after its time stamp */
    } want[] = {
        {" [warn] [KZ0123] file \"a\\x0Ab\\\\c\" not found"},
        {" [crit] [KZ0001] level crit"},
        {" [error] [KZ0002] level error"},
        {" [notice] [KZ0004] level notice"},
        {" [info] [KZ12345] five-digit id"},
        {" [crit] [KZ0007] direct 5 \\x1B[31m"},
        {" [info] [KZ0000] no thread buffer \\xC3\\xA9"},
    };
    const char *path = apr_pstrcat(kz_test_pool, tmp_dir(), "/error.log", NULL);
    kz_logger_t *l;
    kz_logbuf_t *b;
    char before[32], after[32], *lines[16], *text;
    int n;

    tz_set("UTC0");
    stamp_utc(before, sizeof(before), apr_time_now());
    l = start(NULL, path);
    b = kz_logbuf_create(l, kz_test_pool);
    kz_log_error(l, b, KZ_LOG_WARN, 123, "file \"%s\" not found", "a\nb\\c");
    kz_log_error(NULL, b, KZ_LOG_CRIT, 1, "level crit");
    kz_log_error(l, b, KZ_LOG_ERR, 2, "level error");
    kz_log_error(l, b, KZ_LOG_NOTICE, 4, "level notice");
    kz_log_error(l, b, KZ_LOG_INFO, 12345, "five-digit id");
    kz_logbuf_flush(b);
    /* Lines from a thread without a buffer go through the logger's own, after the flush above. */
    kz_log_error(l, NULL, KZ_LOG_CRIT, 7, "direct %d \x1b[31m", 5);
    kz_log_error(l, NULL, KZ_LOG_INFO, -3, "no thread buffer \xc3\xa9");
    kz_logger_stop(l);
    stamp_utc(after, sizeof(after), apr_time_now());
    tz_restore();
    text = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    n = split_lines(text, lines, 16);
    CU_ASSERT_EQUAL_FATAL(n, NROWS(want));
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(strlen(lines[i]) > 21, 1);
        /* Same fixed-width format: string order is time order. */
        CU_ASSERT(strncmp(lines[i], before, 21) >= 0);
        CU_ASSERT(strncmp(lines[i], after, 21) <= 0);
        CU_ASSERT_STRING_EQUAL(lines[i] + 21, want[i].rest);
    }
}

/* Without an error-log path, and without a logger at all, error lines go to standard error. */
static void test_error_to_stderr(void)
{
    const char *path = apr_pstrcat(kz_test_pool, tmp_dir(), "/stderr.txt", NULL);
    FILE *capture = fopen(path, "w");
    int saved = dup(2);
    kz_logger_t *l;
    char *text;

    CU_ASSERT_PTR_NOT_NULL_FATAL(capture);
    CU_ASSERT_FATAL(saved >= 0);
    fflush(stderr);
    dup2(fileno(capture), 2);
    l = start(NULL, NULL);
    kz_log_error(l, NULL, KZ_LOG_WARN, 42, "through the writer");
    kz_logger_stop(l);
    kz_log_error(NULL, NULL, KZ_LOG_ERR, 43, "no logger");
    kz_log_error(l, NULL, KZ_LOG_ERR, 44, "after stop");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(capture);
    text = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(count_char(text, '\n'), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "] [warn] [KZ0042] through the writer\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "] [error] [KZ0043] no logger\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "] [error] [KZ0044] after stop\n"));
}

/* ---- the writer: reopen, failures, the bounded queue ------------------------------------ */

static void test_reopen(void)
{
    const char *dir = tmp_dir();
    const char *apath = apr_pstrcat(kz_test_pool, dir, "/access.log", NULL);
    const char *epath = apr_pstrcat(kz_test_pool, dir, "/error.log", NULL);
    kz_logger_t *l = start(apath, epath);
    kz_logbuf_t *b = kz_logbuf_create(l, kz_test_pool);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", "/old", "HTTP/1.1", 200, 1, NULL, NULL);
    char *old_a, *new_a, *old_e, *new_e;

    kz_log_access(b, &rec);
    kz_log_error(l, b, KZ_LOG_INFO, 1, "old error");
    kz_logbuf_flush(b);
    /* What logrotate does: rename, then signal. */
    CU_ASSERT_FATAL(apr_file_rename(apath, apr_pstrcat(kz_test_pool, apath, ".1", NULL),
                                    kz_test_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_file_rename(epath, apr_pstrcat(kz_test_pool, epath, ".1", NULL),
                                    kz_test_pool) == APR_SUCCESS);
    kz_logger_reopen(l);
    rec.target = "/new";
    kz_log_access(b, &rec);
    kz_log_error(l, b, KZ_LOG_INFO, 2, "new error");
    kz_logbuf_flush(b);
    kz_logger_stop(l);
    old_a = slurp(apr_pstrcat(kz_test_pool, apath, ".1", NULL));
    new_a = slurp(apath);
    old_e = slurp(apr_pstrcat(kz_test_pool, epath, ".1", NULL));
    new_e = slurp(epath);
    CU_ASSERT_FATAL(old_a && new_a && old_e && new_e);
    CU_ASSERT_EQUAL(count_char(old_a, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(old_a, "\"GET /old HTTP/1.1\""));
    CU_ASSERT_EQUAL(count_char(new_a, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(new_a, "\"GET /new HTTP/1.1\""));
    CU_ASSERT_EQUAL(count_char(old_e, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(old_e, "[KZ0001] old error"));
    CU_ASSERT_EQUAL(count_char(new_e, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(new_e, "[KZ0002] new error"));
}

/* A full disk: every write fails and is counted, logging calls keep returning. */
static void test_failing_writes(void)
{
    kz_logger_t *l = start("/dev/full", NULL);
    kz_logbuf_t *b = kz_logbuf_create(l, kz_test_pool);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", "/", "HTTP/1.1", 200, 1, NULL, NULL);

    kz_log_access(b, &rec);
    kz_logbuf_flush(b); /* one buffer, one failed write */
    kz_log_access(b, &rec);
    kz_log_access(b, &rec);
    kz_logbuf_flush(b); /* a second buffer */
    kz_logger_stop(l);
    CU_ASSERT_EQUAL(kz_logger_failed_writes(l), 2);
    CU_ASSERT_EQUAL(kz_logger_dropped(l), 0);
}

static void test_start_errors(void)
{
    static const struct {
        const char *access, *error;
    } rows[] = {
        {"/nonexistent-kz-dir/access.log", NULL},
        {NULL, "/nonexistent-kz-dir/error.log"},
    };

    for (int i = 0; i < NROWS(rows); i++) {
        kz_logger_t *l = NULL;
        const char *err = NULL;
        apr_status_t rv = kz_logger_start(&l, rows[i].access, rows[i].error, &err, kz_test_pool);

        CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
        CU_ASSERT_PTR_NULL(l);
        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, rows[i].access ? rows[i].access : rows[i].error));
    }
}

typedef struct fifo_reader {
    apr_file_t *f;
    int lines; /* before the END marker */
    char buf[65536];
} fifo_reader_t;

/* Drains the FIFO until the test's own END line. */
static void fifo_drain(fifo_reader_t *r)
{
    char tail[4] = {0};

    for (;;) {
        apr_size_t n = sizeof(r->buf);

        if (apr_file_read(r->f, r->buf, &n) != APR_SUCCESS) {
            return;
        }
        for (apr_size_t i = 0; i < n; i++) {
            memmove(tail, tail + 1, 3);
            tail[3] = r->buf[i];
            r->lines += r->buf[i] == '\n';
        }
        if (memcmp(tail, "END\n", 4) == 0) {
            r->lines--;
            return;
        }
    }
}

/* No locals here: apr_thread_exit() leaves the frame without ASan unpoisoning it. */
static void *APR_THREAD_FUNC fifo_read(apr_thread_t *t, void *data)
{
    fifo_drain(data);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/*
 * A writer stuck on a FIFO nobody reads yet: the queue fills to its bound, later buffers are
 * dropped and counted, and the loop never blocks. Every line is then either read or dropped.
 */
static void test_bounded_queue_drops(void)
{
    const char *path = apr_pstrcat(kz_test_pool, tmp_dir(), "/fifo", NULL);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", NULL, "HTTP/1.1", 200, 1, NULL, NULL);
    fifo_reader_t *reader = apr_pcalloc(kz_test_pool, sizeof(*reader));
    enum { N = 40000 }; /* ~200 bytes each: about 120 buffers of 64 KiB, the bound is 64 */
    apr_thread_t *thread;
    kz_logger_t *l;
    kz_logbuf_t *b;
    apr_uint64_t dropped;
    apr_status_t rv;
    apr_size_t four = 4;

    CU_ASSERT_FATAL(apr_file_namedpipe_create(path, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                              kz_test_pool) == APR_SUCCESS);
    /* Read-write, so that neither this open nor the logger's blocks for a peer. */
    CU_ASSERT_FATAL(apr_file_open(&reader->f, path, APR_FOPEN_READ | APR_FOPEN_WRITE, 0,
                                  kz_test_pool) == APR_SUCCESS);
    l = start(path, NULL);
    b = kz_logbuf_create(l, kz_test_pool);
    rec.target = apr_psprintf(kz_test_pool, "/%0150d", 7);
    for (int i = 0; i < N; i++) {
        kz_log_access(b, &rec);
    }
    kz_logbuf_flush(b);
    dropped = kz_logger_dropped(l);
    CU_ASSERT(dropped > 0);
    CU_ASSERT(dropped < N);
    CU_ASSERT_FATAL(apr_thread_create(&thread, NULL, fifo_read, reader, kz_test_pool) ==
                    APR_SUCCESS);
    kz_logger_stop(l);
    apr_file_write_full(reader->f, "END\n", four, NULL);
    apr_thread_join(&rv, thread);
    CU_ASSERT_EQUAL(kz_logger_dropped(l), dropped);
    CU_ASSERT_EQUAL((apr_uint64_t)reader->lines, N - dropped);
    CU_ASSERT_EQUAL(kz_logger_failed_writes(l), 0);
}

/*
 * Rotation order: while the writer is stuck on a FIFO (the error log), an access line is handed,
 * the file renamed and a reopen asked, then another line handed. The first line must still go to
 * the renamed file, the second to the new one, although both reach the writer in one batch.
 */
static void test_reopen_order(void)
{
    const char *dir = tmp_dir();
    const char *apath = apr_pstrcat(kz_test_pool, dir, "/access.log", NULL);
    const char *fifo = apr_pstrcat(kz_test_pool, dir, "/error.fifo", NULL);
    kz_access_record_t rec = REC("127.0.0.1", NULL, "GET", "/old", "HTTP/1.1", 200, 1, NULL, NULL);
    fifo_reader_t *reader = apr_pcalloc(kz_test_pool, sizeof(*reader));
    const char *filler = apr_psprintf(kz_test_pool, "%01000d", 0);
    apr_thread_t *thread;
    kz_logger_t *l;
    kz_logbuf_t *b;
    apr_status_t rv;
    apr_size_t four = 4;
    char *old_a, *new_a;

    CU_ASSERT_FATAL(apr_file_namedpipe_create(fifo, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                              kz_test_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_file_open(&reader->f, fifo, APR_FOPEN_READ | APR_FOPEN_WRITE, 0,
                                  kz_test_pool) == APR_SUCCESS);
    l = start(apath, fifo);
    b = kz_logbuf_create(l, kz_test_pool);
    for (int i = 0; i < 300; i++) { /* ~300 KB: more than a pipe holds */
        kz_log_error(l, b, KZ_LOG_INFO, 1, "%s", filler);
    }
    kz_logbuf_flush(b);
    kz_log_access(b, &rec);
    kz_logbuf_flush(b);
    CU_ASSERT_FATAL(apr_file_rename(apath, apr_pstrcat(kz_test_pool, apath, ".1", NULL),
                                    kz_test_pool) == APR_SUCCESS);
    kz_logger_reopen(l);
    rec.target = "/new";
    kz_log_access(b, &rec);
    kz_logbuf_flush(b);
    CU_ASSERT_FATAL(apr_thread_create(&thread, NULL, fifo_read, reader, kz_test_pool) ==
                    APR_SUCCESS);
    kz_logger_stop(l);
    apr_file_write_full(reader->f, "END\n", four, NULL);
    apr_thread_join(&rv, thread);
    CU_ASSERT_EQUAL(reader->lines, 300);
    old_a = slurp(apr_pstrcat(kz_test_pool, apath, ".1", NULL));
    new_a = slurp(apath);
    CU_ASSERT_FATAL(old_a && new_a);
    CU_ASSERT_EQUAL(count_char(old_a, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(old_a, "\"GET /old HTTP/1.1\""));
    CU_ASSERT_EQUAL(count_char(new_a, '\n'), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(new_a, "\"GET /new HTTP/1.1\""));
}

/* ---- dates ------------------------------------------------------------------------------ */

static void test_http_date(void)
{
    static const struct {
        apr_time_t t;
        const char *want;
    } rows[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {APR_TIME_C(784111777) * APR_USEC_PER_SEC, "Sun, 06 Nov 1994 08:49:37 GMT"}, /* RFC */
        {T_2026, "Thu, 26 Nov 2026 04:00:00 GMT"},
        {T_2026 + 999999, "Thu, 26 Nov 2026 04:00:00 GMT"}, /* sub-second part ignored */
        {APR_TIME_C(951782400) * APR_USEC_PER_SEC, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {APR_TIME_C(253402300799) * APR_USEC_PER_SEC, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };

    for (int i = 0; i < NROWS(rows); i++) {
        char out[30];

        memset(out, 'x', sizeof(out));
        kz_http_date(out, rows[i].t);
        CU_ASSERT_STRING_EQUAL(out, rows[i].want);
        CU_ASSERT_EQUAL(strlen(out), 29);
    }
}

static const kz_test_case_t cases[] = {
    {"access lines: fields, zones, escaping", test_access_lines},
    {"many buffers in order, long line cut", test_many_and_long_lines},
    {"stop flushes loop buffers, then detaches", test_stop_flushes_and_detaches},
    {"no access log", test_no_access_log},
    {"error lines", test_error_lines},
    {"error lines to standard error", test_error_to_stderr},
    {"reopen after rename", test_reopen},
    {"failing writes are counted (/dev/full)", test_failing_writes},
    {"start errors name the file", test_start_errors},
    {"bounded queue drops and counts", test_bounded_queue_drops},
    {"reopen is ordered after handed buffers", test_reopen_order},
    {"kz_http_date", test_http_date},
    {NULL, NULL},
};

KZ_TEST_SUITE(log, cases)
