/*
 * Logs: the access log in Combined Log Format and the error log with a time stamp and a stable
 * message id. Event loops never write to a file: each loop appends lines to its own buffer
 * (kz_logbuf_t, no lock), and hands full buffers (or, on its timer, partial ones) to one writer
 * thread through a short mutex-protected queue. A slow disk makes the queue grow up to a bound,
 * after which lines are dropped and counted (never blocking a loop); a failing write (a full
 * disk) is counted and reported once, and serving goes on.
 */
#ifndef KZ_LOG_H
#define KZ_LOG_H

#include "kz.h"

#include <apr_pools.h>
#include <apr_time.h>

typedef struct kz_logger kz_logger_t;
typedef struct kz_logbuf kz_logbuf_t;

typedef enum kz_log_target { KZ_LOG_ACCESS = 0, KZ_LOG_ERROR = 1 } kz_log_target_e;

/** Levels of error-log lines. */
/* kz_log_level_e is public (kz.h): modules log with it too. */

/**
 * Opens the logger and starts its writer thread. access_path NULL: no access log. error_path
 * NULL: error lines go to standard error. A file that cannot be opened → error status, with
 * *error naming it. Lives until kz_logger_stop() or until p is destroyed.
 */
apr_status_t kz_logger_start(kz_logger_t **out, const char *access_path, const char *error_path,
                             const char **error, apr_pool_t *p);

/**
 * Hands over what every kz_logbuf_t still holds (call it once the loops have stopped), writes
 * every queued buffer, stops the writer thread and closes the files. Runs by itself when the
 * logger's pool is destroyed; a second call does nothing. A kz_logbuf_t then logs nothing, and
 * error lines go straight to standard error.
 */
void kz_logger_stop(kz_logger_t *logger);

/** Asks the writer thread to reopen both files (SIGUSR1). Safe from any thread. */
void kz_logger_reopen(kz_logger_t *logger);

/** Lines dropped so far because the queue was full, and writes that failed. */
apr_uint64_t kz_logger_dropped(const kz_logger_t *logger);
apr_uint64_t kz_logger_failed_writes(const kz_logger_t *logger);

/**
 * A per-loop (single-thread) buffer of log lines, bound to logger (NULL: access lines are
 * dropped, error lines go to standard error). Its lines are handed over when p is destroyed or
 * the logger stops, whichever comes first.
 */
kz_logbuf_t *kz_logbuf_create(kz_logger_t *logger, apr_pool_t *p);

/** Hands whatever the buffer holds to the writer thread (called from the loop's timer). */
void kz_logbuf_flush(kz_logbuf_t *buf);

/** One access-log record (Combined Log Format). */
typedef struct kz_access_record {
    const char *client_ip;
    const char *user; /**< NULL → "-" */
    apr_time_t time;
    const char *method;
    const char *target;   /**< as received */
    const char *protocol; /**< "HTTP/1.1" */
    int status;
    apr_off_t bytes;        /**< body bytes sent; 0 → "-" */
    const char *referer;    /**< NULL → "-" */
    const char *user_agent; /**< NULL → "-" */
} kz_access_record_t;

/**
 * Appends a CLF line: `IP - user [26/Nov/2026:04:00:00 +0000] "GET / HTTP/1.1" 200 1234 "ref"
 * "UA"`. In every field, bytes below 0x20, 0x7F and above, '"' and '\' are written as \xHH
 * (quote and backslash as \" and \\), and in the unquoted IP and user a space as \x20, so a
 * line can never be split or forged. A NULL or empty field is "-"; method NULL makes the request
 * field "-". A line longer than 64 KiB is cut. No-op without an access log.
 */
void kz_log_access(kz_logbuf_t *buf, const kz_access_record_t *rec);

/** Whether buf writes an access log at all (so a caller can skip building a record). */
int kz_logbuf_has_access(const kz_logbuf_t *buf);

/**
 * Appends an error-log line `[2026-11-26 04:00:00] [warn] [KZ0123] message` (time local),
 * control bytes, bytes 0x7F and above and '\' escaped as above (quotes are kept). The message is
 * formatted with apr_vsnprintf (so %pm works) and cut at 4 KiB. buf may be NULL (from a thread
 * without a loop: then the line goes to the writer's queue under its mutex); logger may be NULL
 * when buf is given. With neither, or after kz_logger_stop(), the line goes to standard error.
 * Message ids are stable, one per place that logs, in ranges by source file: 1–99 server.c,
 * 100–199 loop.c and conn.c, 200–299 static.c and request.c, 900–999 log.c; modules take
 * 1000 and up (1000 per module).
 */
void kz_log_error(kz_logger_t *logger, kz_logbuf_t *buf, kz_log_level_e level, int msgid,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Formats an apr_time_t as an IMF-fixdate (RFC 9110 §5.6.7) into out (30 bytes incl. NUL). */
void kz_http_date(char *out, apr_time_t t);

#endif
