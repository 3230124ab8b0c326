/*
 * The access log (Combined Log Format) and the error log, written by one thread. Each event loop
 * formats lines straight into its own kz_logbuf_t (no lock, no syscall); a full buffer, or a
 * partial one on the loop's timer, is handed to the writer thread through a mutex-protected
 * queue. The queue is bounded per target, so a slow disk drops (and counts) lines instead of
 * stalling a loop; a failing write is counted and reported once per streak, and serving goes on.
 * Reopening (SIGUSR1, log rotation) is ordered after the buffers handed before the request.
 * Dates: RFC 9110 §5.6.7 (IMF-fixdate) for HTTP; CLF's `%d/%b/%Y:%H:%M:%S %z` for access lines.
 */
#include "log.h"

#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KZ_LOG_CHUNK     (64 * 1024) /* bytes of one buffer */
#define KZ_LOG_QUEUE_MAX 64          /* buffers per target queued or being written (4 MiB) */
#define KZ_LOG_FREE_MAX  32          /* empty buffers kept for reuse */
#define KZ_LOG_TICK      apr_time_from_msec(100)
#define KZ_LOG_MSG_MAX   4096 /* an error message longer than this is cut */

/* Escaping modes: what else than control bytes, bytes >= 0x7F and '\' becomes \xHH. */
#define ESC_QUOTE 0x1 /* '"' as \" (quoted fields) */
#define ESC_SPACE 0x2 /* ' ' as \x20 (unquoted fields: IP, user) */

/*
 * One buffer of lines for one target. Buffers travel from loops to the writer thread and back
 * through the free list, outliving any pool of the loop that filled them and crossing threads, so
 * they are malloc'ed and recycled rather than taken from a (single-threaded) pool.
 */
typedef struct log_chunk {
    struct log_chunk *next;
    kz_log_target_e target;
    apr_size_t len;
    apr_uint64_t lines;
    char data[KZ_LOG_CHUNK];
} log_chunk_t;

/* A time stamp formatted once per second. */
typedef struct log_clock {
    apr_time_t sec;
    apr_size_t len;
    char text[48];
} log_clock_t;

struct kz_logbuf {
    kz_logger_t *logger; /* NULL once the logger has stopped */
    log_chunk_t *chunk[2];
    log_clock_t access_clock;
    log_clock_t error_clock;
    kz_logbuf_t *prev, *next; /* the logger's list, for the final flush */
};

struct kz_logger {
    apr_pool_t *pool;
    const char *path[2];
    apr_file_t *file[2];  /* the writer thread's after start */
    apr_pool_t *fpool[2]; /* one unmanaged pool per opened file, replaced on reopen */
    apr_file_t *stderr_f; /* reports, and error lines without an error log */
    int failing[2];       /* inside a streak of failed writes (writer thread) */
    apr_thread_t *thread;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    /* guarded by mutex */
    log_chunk_t *head, *tail; /* handed buffers, in order */
    unsigned inflight[2];     /* queued or being written, per target */
    log_chunk_t *free_list;
    unsigned nfree;
    log_chunk_t *direct; /* error lines from threads without a kz_logbuf_t */
    kz_logbuf_t *bufs;
    int reopen;
    const log_chunk_t *reopen_after; /* the queue's tail when reopen was asked (NULL: empty) */
    int stopping;
    int stopped;
    /* read without the mutex */
    volatile apr_uint64_t dropped;
    volatile apr_uint64_t failed;
};

typedef struct line_out {
    char *pos;
    char *end;
    int full; /* something did not fit */
} line_out_t;

typedef void (*line_fn)(line_out_t *o, const void *arg);

typedef struct access_line {
    const log_clock_t *clock;
    const kz_access_record_t *rec;
} access_line_t;

typedef struct error_line {
    const log_clock_t *clock;
    kz_log_level_e level;
    int msgid;
    const char *msg;
} error_line_t;

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const target_names[2] = {"access", "error"};

/* ---- formatting a line ------------------------------------------------------------------ */

static void out_mem(line_out_t *o, const char *s, apr_size_t n)
{
    apr_size_t room = (apr_size_t)(o->end - o->pos);

    if (n > room) {
        n = room;
        o->full = 1;
    }
    memcpy(o->pos, s, n);
    o->pos += n;
}

static void out_str(line_out_t *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_num(line_out_t *o, apr_int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    apr_uint64_t u = v < 0 ? 0 - (apr_uint64_t)v : (apr_uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *--p = '-';
    }
    out_mem(o, p, (apr_size_t)(tmp + sizeof(tmp) - p));
}

static int must_escape(unsigned char c, unsigned mode)
{
    if (c < 0x20 || c >= 0x7F || c == '\\') {
        return 1;
    }
    return (c == '"' && (mode & ESC_QUOTE)) || (c == ' ' && (mode & ESC_SPACE));
}

static void out_escaped(line_out_t *o, const char *s, unsigned mode)
{
    static const char hex[] = "0123456789ABCDEF";

    while (*s) {
        const char *run = s;
        unsigned char c;

        while (*s && !must_escape((unsigned char)*s, mode)) {
            s++;
        }
        out_mem(o, run, (apr_size_t)(s - run));
        if (!*s) {
            return;
        }
        c = (unsigned char)*s++;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            out_mem(o, e, 2);
        } else {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xF]};
            out_mem(o, e, 4);
        }
    }
}

/* A field that may be absent: NULL or empty is written as "-". */
static void out_field(line_out_t *o, const char *s, unsigned mode)
{
    if (!s || !*s) {
        out_mem(o, "-", 1);
    } else {
        out_escaped(o, s, mode);
    }
}

static void format_access(line_out_t *o, const void *arg)
{
    const access_line_t *a = arg;
    const kz_access_record_t *r = a->rec;

    out_field(o, r->client_ip, ESC_QUOTE | ESC_SPACE);
    out_mem(o, " - ", 3);
    out_field(o, r->user, ESC_QUOTE | ESC_SPACE);
    out_mem(o, " [", 2);
    out_mem(o, a->clock->text, a->clock->len);
    out_mem(o, "] \"", 3);
    out_field(o, r->method, ESC_QUOTE);
    if (r->method && *r->method && r->target) {
        out_mem(o, " ", 1);
        out_escaped(o, r->target, ESC_QUOTE);
        if (r->protocol) {
            out_mem(o, " ", 1);
            out_escaped(o, r->protocol, ESC_QUOTE);
        }
    }
    out_mem(o, "\" ", 2);
    out_num(o, r->status);
    out_mem(o, " ", 1);
    if (r->bytes > 0) {
        out_num(o, r->bytes);
    } else {
        out_mem(o, "-", 1);
    }
    out_mem(o, " \"", 2);
    out_field(o, r->referer, ESC_QUOTE);
    out_mem(o, "\" \"", 3);
    out_field(o, r->user_agent, ESC_QUOTE);
    out_mem(o, "\"", 1);
}

static const char *level_name(kz_log_level_e level)
{
    static const char *const names[] = {"crit", "error", "warn", "notice", "info"};

    if ((unsigned)level >= sizeof(names) / sizeof(names[0])) {
        return "info";
    }
    return names[level];
}

static void format_error(line_out_t *o, const void *arg)
{
    const error_line_t *e = arg;
    char id[16];

    out_mem(o, "[", 1);
    out_mem(o, e->clock->text, e->clock->len);
    out_mem(o, "] [", 3);
    out_str(o, level_name(e->level));
    out_mem(o, "] [", 3);
    apr_snprintf(id, sizeof(id), "KZ%04d", e->msgid < 0 ? 0 : e->msgid);
    out_str(o, id);
    out_mem(o, "] ", 2);
    /* Quotes stay readable in messages; only what could split or fake a line is escaped. */
    out_escaped(o, e->msg, 0);
}

/* The CLF time `26/Nov/2026:04:00:00 +0100`, local time, made again only when the second changes.
 */
static const log_clock_t *clock_access(log_clock_t *c, apr_time_t t)
{
    apr_time_exp_t x;
    long off;

    if (c->len && c->sec == apr_time_sec(t)) {
        return c;
    }
    apr_time_exp_lt(&x, t);
    off = x.tm_gmtoff < 0 ? -(long)x.tm_gmtoff : (long)x.tm_gmtoff;
    c->len = (apr_size_t)apr_snprintf(
        c->text, sizeof(c->text), "%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld", x.tm_mday,
        month_names[x.tm_mon % 12], x.tm_year + 1900, x.tm_hour, x.tm_min, x.tm_sec,
        x.tm_gmtoff < 0 ? '-' : '+', off / 3600, off % 3600 / 60);
    c->sec = apr_time_sec(t);
    return c;
}

/* The error-log time `2026-11-26 04:00:00`, local time. */
static const log_clock_t *clock_error(log_clock_t *c, apr_time_t t)
{
    apr_time_exp_t x;

    if (c->len && c->sec == apr_time_sec(t)) {
        return c;
    }
    apr_time_exp_lt(&x, t);
    c->len = (apr_size_t)apr_snprintf(c->text, sizeof(c->text), "%04d-%02d-%02d %02d:%02d:%02d",
                                      x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                                      x.tm_min, x.tm_sec);
    c->sec = apr_time_sec(t);
    return c;
}

void kz_http_date(char *out, apr_time_t t)
{
    apr_time_exp_t x;
    int year;

    apr_time_exp_gmt(&x, t);
    /* IMF-fixdate has a four-digit year; anything outside is clamped rather than overflow out. */
    year = x.tm_year + 1900;
    year = year < 0 ? 0 : year > 9999 ? 9999 : year;
    apr_snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[x.tm_wday % 7],
                 x.tm_mday, month_names[x.tm_mon % 12], year, x.tm_hour, x.tm_min, x.tm_sec);
}

/* ---- buffers and the queue (mutex held where named _locked) ----------------------------- */

static void lock(kz_logger_t *l)
{
    apr_thread_mutex_lock(l->mutex);
}

static void unlock(kz_logger_t *l)
{
    apr_thread_mutex_unlock(l->mutex);
}

static void chunk_recycle_locked(kz_logger_t *l, log_chunk_t *c)
{
    if (l->stopped || l->nfree >= KZ_LOG_FREE_MAX) {
        free(c);
        return;
    }
    c->next = l->free_list;
    l->free_list = c;
    l->nfree++;
}

/* A fresh buffer, or NULL once stopping (or out of memory): the caller then drops its line. */
static log_chunk_t *chunk_get_locked(kz_logger_t *l, kz_log_target_e t)
{
    log_chunk_t *c;

    if (l->stopping) {
        return NULL;
    }
    if ((c = l->free_list) != NULL) {
        l->free_list = c->next;
        l->nfree--;
    } else if ((c = malloc(sizeof(*c))) == NULL) {
        return NULL;
    }
    c->next = NULL;
    c->target = t;
    c->len = 0;
    c->lines = 0;
    return c;
}

/* Queues a buffer for the writer, or drops it when its target's queue is full. */
static void chunk_hand_locked(kz_logger_t *l, log_chunk_t *c)
{
    if (c->len == 0) {
        chunk_recycle_locked(l, c);
        return;
    }
    /* After stopping began only the writer hands buffers (its own direct one) until it ends. */
    if (l->stopped || l->inflight[c->target] >= KZ_LOG_QUEUE_MAX) {
        apr_atomic_add64(&l->dropped, c->lines);
        chunk_recycle_locked(l, c);
        return;
    }
    c->next = NULL;
    if (l->tail) {
        l->tail->next = c;
    } else {
        l->head = c;
    }
    l->tail = c;
    l->inflight[c->target]++;
    apr_thread_cond_signal(l->cond);
}

/*
 * Formats one line into *slot, handing the buffer over when the line does not fit, then trying
 * once more in an empty buffer; a line longer than a whole buffer is cut. With locked, the caller
 * holds the mutex.
 */
static void append_line(kz_logger_t *l, log_chunk_t **slot, kz_log_target_e t, int locked,
                        line_fn fn, const void *arg)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        log_chunk_t *c = *slot;
        line_out_t o;

        if (!c) {
            if (!locked) {
                lock(l);
            }
            c = *slot = chunk_get_locked(l, t);
            if (!locked) {
                unlock(l);
            }
            if (!c) {
                apr_atomic_inc64(&l->dropped);
                return;
            }
        }
        /* The last byte of a buffer is kept for the line's '\n'; a buffer with no room left
         * (a cut line filled it exactly) is handed over before anything is written. */
        o.pos = c->data + c->len;
        o.end = c->data + KZ_LOG_CHUNK - 1;
        o.full = o.pos >= o.end;
        if (!o.full) {
            fn(&o, arg);
        }
        if (o.full && c->len > 0 && attempt == 0) {
            if (!locked) {
                lock(l);
            }
            chunk_hand_locked(l, c);
            if (!locked) {
                unlock(l);
            }
            *slot = NULL;
            continue;
        }
        *o.pos++ = '\n';
        c->len = (apr_size_t)(o.pos - c->data);
        c->lines++;
        return;
    }
}

/* ---- the writer thread ------------------------------------------------------------------ */

static void report(kz_logger_t *l, int msgid, const char *what, const char *path, apr_status_t rv)
{
    log_clock_t clock = {0};

    clock_error(&clock, apr_time_now());
    apr_file_printf(l->stderr_f, "[%s] [crit] [KZ%04d] %s %s: %pm\n", clock.text, msgid, what, path,
                    &rv);
}

static apr_status_t target_open(kz_logger_t *l, kz_log_target_e t)
{
    apr_pool_t *fp;
    apr_file_t *f;
    apr_status_t rv;

    /* Unmanaged: the writer thread may create it while other threads use the logger's pool. */
    if ((rv = apr_pool_create_unmanaged_ex(&fp, apr_pool_abort_get(l->pool), NULL)) !=
        APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_open(&f, l->path[t], APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD, fp);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(fp);
        return rv;
    }
    if (l->fpool[t]) {
        apr_pool_destroy(l->fpool[t]);
    }
    l->fpool[t] = fp;
    l->file[t] = f;
    return APR_SUCCESS;
}

/* On failure the old file stays in use: losing rotation beats losing lines. */
static void targets_reopen(kz_logger_t *l)
{
    for (int t = 0; t < 2; t++) {
        apr_status_t rv;

        if (l->path[t] && (rv = target_open(l, (kz_log_target_e)t)) != APR_SUCCESS) {
            report(l, 902,
                   t == KZ_LOG_ACCESS ? "cannot reopen the access log"
                                      : "cannot reopen the error log",
                   l->path[t], rv);
        }
    }
}

static void chunk_write(kz_logger_t *l, const log_chunk_t *c)
{
    kz_log_target_e t = c->target;
    apr_status_t rv = apr_file_write_full(l->file[t], c->data, c->len, NULL);

    if (rv == APR_SUCCESS) {
        l->failing[t] = 0;
        return;
    }
    apr_atomic_inc64(&l->failed);
    if (!l->failing[t]) {
        l->failing[t] = 1;
        report(l, 901,
               t == KZ_LOG_ACCESS ? "cannot write to the access log"
                                  : "cannot write to the error log",
               l->path[t] ? l->path[t] : "(standard error)", rv);
    }
}

/* Writes a batch; a reopen asked for is done right after the buffers handed before it. */
static void batch_write(kz_logger_t *l, log_chunk_t *batch, int reopen, const log_chunk_t *after)
{
    if (reopen && !after) {
        targets_reopen(l);
        reopen = 0;
    }
    for (log_chunk_t *c = batch; c; c = c->next) {
        chunk_write(l, c);
        if (reopen && c == after) {
            targets_reopen(l);
            reopen = 0;
        }
    }
    if (reopen) {
        targets_reopen(l);
    }
}

static void *APR_THREAD_FUNC writer_main(apr_thread_t *thread, void *data)
{
    kz_logger_t *l = data;

    lock(l);
    for (;;) {
        log_chunk_t *batch;
        const log_chunk_t *after = l->reopen_after;
        int reopen = l->reopen, stop = l->stopping;

        if (!l->head && !reopen && !stop) {
            apr_thread_cond_timedwait(l->cond, l->mutex, KZ_LOG_TICK);
            after = l->reopen_after;
            reopen = l->reopen;
            stop = l->stopping;
        }
        if (l->direct && l->direct->len) {
            chunk_hand_locked(l, l->direct);
            l->direct = NULL;
        }
        batch = l->head;
        l->head = l->tail = NULL;
        l->reopen = 0;
        l->reopen_after = NULL;
        unlock(l);
        batch_write(l, batch, reopen, after);
        lock(l);
        while (batch) {
            log_chunk_t *next = batch->next;

            l->inflight[batch->target]--;
            chunk_recycle_locked(l, batch);
            batch = next;
        }
        if (stop && !l->head && !(l->direct && l->direct->len)) {
            break;
        }
    }
    unlock(l);
    return NULL;
}

/* ---- the logger ------------------------------------------------------------------------- */

/* Hands a loop's buffers over and detaches it from the logger (mutex held). */
static void logbuf_detach_locked(kz_logbuf_t *b)
{
    kz_logger_t *l = b->logger;

    for (int t = 0; t < 2; t++) {
        if (b->chunk[t]) {
            chunk_hand_locked(l, b->chunk[t]);
            b->chunk[t] = NULL;
        }
    }
    if (b->prev) {
        b->prev->next = b->next;
    } else {
        l->bufs = b->next;
    }
    if (b->next) {
        b->next->prev = b->prev;
    }
    b->prev = b->next = NULL;
    b->logger = NULL;
}

static void logger_close_files(kz_logger_t *l)
{
    for (int t = 0; t < 2; t++) {
        if (l->fpool[t]) {
            apr_pool_destroy(l->fpool[t]);
            l->fpool[t] = NULL;
        }
        l->file[t] = NULL;
    }
}

void kz_logger_stop(kz_logger_t *l)
{
    apr_status_t rv;

    if (!l || l->stopped) {
        return;
    }
    lock(l);
    while (l->bufs) {
        logbuf_detach_locked(l->bufs);
    }
    l->stopping = 1;
    apr_thread_cond_signal(l->cond);
    unlock(l);
    apr_thread_join(&rv, l->thread);
    logger_close_files(l);
    lock(l);
    l->stopped = 1;
    while (l->free_list) {
        log_chunk_t *c = l->free_list;
        l->free_list = c->next;
        free(c);
    }
    l->nfree = 0;
    free(l->direct);
    l->direct = NULL;
    unlock(l);
}

static apr_status_t logger_cleanup(void *data)
{
    kz_logger_stop(data);
    return APR_SUCCESS;
}

static apr_status_t logger_open_files(kz_logger_t *l, const char **error)
{
    for (int t = 0; t < 2; t++) {
        apr_status_t rv;

        if (l->path[t] && (rv = target_open(l, (kz_log_target_e)t)) != APR_SUCCESS) {
            *error = apr_psprintf(l->pool, "cannot open the %s log %s: %pm", target_names[t],
                                  l->path[t], &rv);
            return rv;
        }
    }
    if (!l->path[KZ_LOG_ERROR]) {
        l->file[KZ_LOG_ERROR] = l->stderr_f;
    }
    return APR_SUCCESS;
}

apr_status_t kz_logger_start(kz_logger_t **out, const char *access_path, const char *error_path,
                             const char **error, apr_pool_t *p)
{
    kz_logger_t *l = apr_pcalloc(p, sizeof(*l));
    const char *ignored;
    apr_status_t rv;

    error = error ? error : &ignored;
    *error = NULL;
    l->pool = p;
    l->path[KZ_LOG_ACCESS] = access_path ? apr_pstrdup(p, access_path) : NULL;
    l->path[KZ_LOG_ERROR] = error_path ? apr_pstrdup(p, error_path) : NULL;
    if ((rv = apr_file_open_stderr(&l->stderr_f, p)) != APR_SUCCESS ||
        (rv = logger_open_files(l, error)) != APR_SUCCESS) {
        logger_close_files(l);
        *error = *error ? *error : "cannot open standard error";
        return rv;
    }
    if ((rv = apr_thread_mutex_create(&l->mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_thread_cond_create(&l->cond, p)) != APR_SUCCESS ||
        (rv = apr_thread_create(&l->thread, NULL, writer_main, l, p)) != APR_SUCCESS) {
        logger_close_files(l);
        *error = apr_psprintf(p, "cannot start the log writer thread: %pm", &rv);
        return rv;
    }
    /* A pre-cleanup: the thread and its pool must go before p's subpools are destroyed. */
    apr_pool_pre_cleanup_register(p, l, logger_cleanup);
    *out = l;
    return APR_SUCCESS;
}

void kz_logger_reopen(kz_logger_t *l)
{
    if (!l) {
        return;
    }
    lock(l);
    l->reopen = 1;
    l->reopen_after = l->tail;
    apr_thread_cond_signal(l->cond);
    unlock(l);
}

apr_uint64_t kz_logger_dropped(const kz_logger_t *l)
{
    return l ? apr_atomic_read64((volatile apr_uint64_t *)&l->dropped) : 0;
}

apr_uint64_t kz_logger_failed_writes(const kz_logger_t *l)
{
    return l ? apr_atomic_read64((volatile apr_uint64_t *)&l->failed) : 0;
}

/* ---- per-loop buffers ------------------------------------------------------------------- */

static apr_status_t logbuf_cleanup(void *data)
{
    kz_logbuf_t *b = data;
    kz_logger_t *l = b->logger;

    if (l) {
        lock(l);
        logbuf_detach_locked(b);
        unlock(l);
    }
    return APR_SUCCESS;
}

kz_logbuf_t *kz_logbuf_create(kz_logger_t *logger, apr_pool_t *p)
{
    kz_logbuf_t *b = apr_pcalloc(p, sizeof(*b));

    b->logger = logger;
    if (logger) {
        lock(logger);
        if (logger->stopping) {
            b->logger = NULL;
        } else {
            b->next = logger->bufs;
            if (b->next) {
                b->next->prev = b;
            }
            logger->bufs = b;
        }
        unlock(logger);
    }
    apr_pool_cleanup_register(p, b, logbuf_cleanup, apr_pool_cleanup_null);
    return b;
}

void kz_logbuf_flush(kz_logbuf_t *b)
{
    kz_logger_t *l = b ? b->logger : NULL;

    if (!l || !((b->chunk[0] && b->chunk[0]->len) || (b->chunk[1] && b->chunk[1]->len))) {
        return;
    }
    lock(l);
    for (int t = 0; t < 2; t++) {
        if (b->chunk[t] && b->chunk[t]->len) {
            chunk_hand_locked(l, b->chunk[t]);
            b->chunk[t] = NULL;
        }
    }
    unlock(l);
}

int kz_logbuf_has_access(const kz_logbuf_t *b)
{
    return b && b->logger && b->logger->path[KZ_LOG_ACCESS];
}

void kz_log_access(kz_logbuf_t *b, const kz_access_record_t *rec)
{
    access_line_t line;

    if (!b || !b->logger || !b->logger->path[KZ_LOG_ACCESS] || !rec) {
        return;
    }
    line.clock = clock_access(&b->access_clock, rec->time);
    line.rec = rec;
    append_line(b->logger, &b->chunk[KZ_LOG_ACCESS], KZ_LOG_ACCESS, 0, format_access, &line);
}

/* Without a logger (before start, after stop): straight to standard error. */
static void log_error_stderr(const error_line_t *e)
{
    char text[KZ_LOG_MSG_MAX + 128];
    line_out_t o = {text, text + sizeof(text) - 2, 0};

    format_error(&o, e);
    *o.pos++ = '\n';
    fwrite(text, 1, (size_t)(o.pos - text), stderr);
    fflush(stderr);
}

void kz_log_error(kz_logger_t *logger, kz_logbuf_t *buf, kz_log_level_e level, int msgid,
                  const char *fmt, ...)
{
    char msg[KZ_LOG_MSG_MAX];
    log_clock_t clock = {0};
    error_line_t line = {NULL, level, msgid, msg};
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt ? fmt : "", ap);
    va_end(ap);
    if (buf && buf->logger) {
        line.clock = clock_error(&buf->error_clock, apr_time_now());
        append_line(buf->logger, &buf->chunk[KZ_LOG_ERROR], KZ_LOG_ERROR, 0, format_error, &line);
        return;
    }
    line.clock = clock_error(&clock, apr_time_now());
    if (!logger || buf) {
        log_error_stderr(&line);
        return;
    }
    lock(logger);
    if (logger->stopping) {
        unlock(logger);
        log_error_stderr(&line);
        return;
    }
    append_line(logger, &logger->direct, KZ_LOG_ERROR, 1, format_error, &line);
    unlock(logger);
}
