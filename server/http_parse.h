/*
 * The strict HTTP/1.1 request parser (RFC 9112 §2–§7, RFC 9110 §5): an incremental scanner that
 * finds the end of a request head and enforces the size limits while bytes arrive, a parser
 * that splits a complete head in place (no copying: every pointer points into the caller's
 * buffer), the semantic checks of the framing headers, and a chunked body decoder; plus the line,
 * field, list and Content-Length readers that the backend response parser shares.
 * Every function is pure: no I/O, no allocation.
 */
#ifndef KZ_HTTP_PARSE_H
#define KZ_HTTP_PARSE_H

#include <apr.h>

/** Return values besides an HTTP status code. */
#define KZ_PARSE_OK    0  /**< complete */
#define KZ_PARSE_AGAIN -1 /**< more bytes needed */

/** Size limits of a request head. */
typedef struct kz_http_limits {
    apr_size_t max_request_line; /**< request line, without CRLF; over it → 414 */
    apr_size_t max_field;        /**< one header field line, without CRLF; over it → 431 */
    apr_size_t max_head;         /**< the whole head including CRLFs; over it → 431 */
    int max_headers;             /**< number of header fields; over it → 431 */
} kz_http_limits_t;

/** Incremental state of kz_http_scan_head(); zero it before the first call. */
typedef struct kz_http_scan {
    apr_size_t pos;        /**< bytes already scanned */
    apr_size_t line_start; /**< offset where the current line starts */
    int lines;             /**< complete lines seen */
} kz_http_scan_t;

/**
 * Scans buf[0..len) (which holds everything received so far for this head) from where the last
 * call stopped. Empty lines before the request line are tolerated (RFC 9112 §2.2), at most 4.
 * Returns KZ_PARSE_AGAIN while the head is incomplete and within limits; KZ_PARSE_OK with
 * *head_len set to the length of the head including its final CRLF CRLF; or an error status:
 * 400 for a bare LF, a bare CR, more than 4 leading empty lines or a request line that does
 * not end in " HTTP/" DIGIT "." DIGIT (HTTP/0.9 is refused before its client waits for more),
 * 414 when the request line is longer than max_request_line,
 * 431 when a field line, the head or the number of fields passes its limit.
 */
int kz_http_scan_head(kz_http_scan_t *scan, const char *buf, apr_size_t len,
                      const kz_http_limits_t *limits, apr_size_t *head_len);

/** One header field; name and value point into the parsed buffer and are NUL-terminated there. */
typedef struct kz_http_field {
    const char *name;
    apr_size_t name_len;
    const char *value; /**< leading and trailing whitespace removed */
    apr_size_t value_len;
} kz_http_field_t;

/** A parsed request head. */
typedef struct kz_http_head {
    const char *method; /**< NUL-terminated in place */
    apr_size_t method_len;
    const char *target; /**< NUL-terminated in place */
    apr_size_t target_len;
    int version; /**< 10 for HTTP/1.0, 11 for HTTP/1.1 (and higher 1.x) */
    kz_http_field_t *fields;
    int nfields;
} kz_http_head_t;

/**
 * Parses a complete head of head_len bytes (as found by kz_http_scan_head) in place: CR/LF and
 * the colon/space after names are overwritten with NULs. fields must have room for max_fields
 * entries. Returns KZ_PARSE_OK or an error status: 400 for any syntax error (method not a token,
 * target empty or holding a space, a control byte, a NUL or '#', a version that is not
 * `HTTP/` DIGIT `.` DIGIT, no version (HTTP/0.9), more than one space between parts, a tab as
 * separator, whitespace before a colon, an obs-fold line, whitespace before the first field, an
 * empty or invalid field name, a line without a colon, a NUL, bare CR or other control byte but
 * HTAB in a value), 505 for a well-formed version whose major is not 1, 431 when there are more
 * than max_fields fields. HTTP/1.x with x >= 2 is taken as HTTP/1.1 (RFC 9110 §2.5).
 * Bytes 0x80-0xFF are allowed in the target (the URL sanitizer judges them) and in values.
 */
int kz_http_parse_head(kz_http_head_t *head, char *buf, apr_size_t head_len,
                       kz_http_field_t *fields, int max_fields);

/** What the framing and routing headers of a request say (RFC 9112 §6, §9; RFC 9110 §7.2). */
typedef struct kz_http_info {
    const char *host; /**< the Host value, or NULL */
    apr_size_t host_len;
    apr_off_t content_length; /**< -1 when absent */
    int chunked;              /**< Transfer-Encoding: chunked */
    int expect_continue;      /**< Expect: 100-continue */
    int keep_alive;           /**< whether the connection may persist after this request */
    int upgrade;              /**< Connection names "upgrade" and an Upgrade field is present */
} kz_http_info_t;

/**
 * Checks a parsed head and fills info. Returns KZ_PARSE_OK or an error status:
 * 400 for HTTP/1.1 without Host, more than one Host, a Host value that is not uri-host [ ":"
 * port ] (RFC 3986: reg-name, IPv4, or an IP literal in brackets; an empty host is refused, an
 * empty port accepted), a Content-Length that is not 1*DIGIT or that overflows, more than one
 * Content-Length field (even with equal values) or a list in one, Content-Length together with
 * Transfer-Encoding, Transfer-Encoding in an HTTP/1.0 request, or a Transfer-Encoding that is
 * empty or has a coding after chunked (chunked not last, or twice); 501 for a Transfer-Encoding
 * naming any other coding ("gzip, chunked", "identity"); 417 for an Expect value other than
 * 100-continue.
 * keep_alive follows RFC 9112 §9.3: HTTP/1.1 persists unless Connection has "close"; HTTP/1.0
 * only with "keep-alive". Connection is a comma-separated, case-insensitive token list.
 * In HTTP/1.0, 100-continue and Upgrade are ignored (RFC 9110 §10.1.1, §7.8). On an error,
 * keep_alive is 0: the body's framing is unknown, so the connection must close.
 */
int kz_http_analyze(kz_http_info_t *info, const kz_http_head_t *head);

/** Looks up a field by case-insensitive name; returns the first or NULL. */
const kz_http_field_t *kz_http_field(const kz_http_head_t *head, const char *name);

/** State of the chunked decoder; zero it before the first call. */
typedef struct kz_chunked {
    int state;
    apr_uint64_t remaining; /**< bytes left in the current chunk */
    apr_size_t line_len;    /**< bytes of the current size, extension or trailer line */
    int trailers;           /**< trailer lines seen */
} kz_chunked_t;

/**
 * Decodes chunked data (RFC 9112 §7.1) in place: buf[0..len) is input; on return the decoded
 * body bytes are moved to buf[0..*out_len), and *consumed input bytes were used (the rest, if
 * any, belongs to the next request). Chunk sizes are hex without sign or prefix, at most 15
 * digits; extensions are skipped but a size line longer than 4096 bytes is an error; trailer
 * fields are skipped (at most 64 lines of at most 8192 bytes). Bare LF, a missing CRLF after
 * chunk data, or any other syntax error → 400.
 * Returns KZ_PARSE_AGAIN (need more input), KZ_PARSE_OK (the last chunk and trailers are
 * complete) or 400.
 */
int kz_chunked_decode(kz_chunked_t *st, char *buf, apr_size_t len, apr_size_t *consumed,
                      apr_size_t *out_len);

/**
 * Whether a[0..n) equals the lowercase ASCII text b[0..n), ignoring ASCII case (no locale, no
 * call: this runs per response). Stops at a NUL in a, so a shorter a never matches.
 */
int kz_ascii_caseeq(const char *a, const char *b, apr_size_t n);

/** Whether c is a tchar (RFC 9110 §5.6.2). */
int kz_http_is_tchar(unsigned char c);

/*
 * Pieces shared by the request parser and the backend response parser (upstream_http.c), so that
 * both read lines, fields and framing values the same way.
 */

/**
 * Whether c may stand in a field value, a reason phrase, a chunk extension or a trailer line
 * (RFC 9110 §5.5, RFC 9112 §4): HTAB, SP, VCHAR or obs-text (0x80-0xFF); not another control
 * byte (CR, LF, NUL, DEL...).
 */
int kz_http_is_text(unsigned char c);

/**
 * Looks for the end of the line that starts at scan->line_start, where every line must end in
 * CRLF. Reads buf[scan->pos..len) (scan->pos <= len); does not count lines or move
 * scan->line_start: the caller does that once it has judged the line. Returns KZ_PARSE_OK with
 * *cr_at set to the offset of the line's CR (its LF follows); KZ_PARSE_AGAIN when the line is not
 * complete yet (scan->pos then says where to look again: a final CR is looked at again when its
 * LF may have arrived); or 400 for a bare LF, or a CR followed by anything but LF.
 */
int kz_http_scan_line(kz_http_scan_t *scan, const char *buf, apr_size_t len, apr_size_t *cr_at);

/**
 * Parses the field lines of a complete head in place: from p, the first byte after the start
 * line's CRLF, to end, just past the head's final CRLF CRLF (which the caller has checked is
 * there: it stops every byte loop inside the buffer).
 * field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 §5). Each field is stored in
 * fields[(*nfields)++], its name and value NUL-terminated in place and the value stripped of
 * leading and trailing OWS. Returns KZ_PARSE_OK when the empty line that ends the head is reached,
 * or for the first problem: 400 for a name that is not a token (an empty one included, which also
 * catches obs-fold and whitespace before the first field), whitespace before a colon, a line
 * without a colon, a byte that fails kz_http_is_text in a value (a bare CR or LF among them), or
 * an empty line before end; 431 when a line parsed well but fields already holds max_fields.
 */
int kz_http_parse_fields(kz_http_field_t *fields, int *nfields, int max_fields, char *p,
                         const char *end);

/**
 * Steps through a comma-separated list (RFC 9110 §5.6.1) in s[*pos..end): skips empty elements
 * and OWS, as recipients must, and sets elem and elem_len to the next element with its OWS
 * trimmed (never empty). Returns 1 with *pos moved past the element, or 0 at the end of the list.
 */
int kz_http_list_next(const char **pos, const char *end, const char **elem, apr_size_t *elem_len);

/**
 * Reads a Content-Length value, 1*DIGIT (RFC 9110 §8.6), from s[0..n). Returns 1 with *out set,
 * or 0 (leaving *out alone) when s is empty, holds anything but digits (a sign, OWS, a comma
 * of a list) or overflows apr_off_t.
 */
int kz_http_parse_length(const char *s, apr_size_t n, apr_off_t *out);

#endif
