/*
 * The strict HTTP/1.1 response parser for backends (RFC 9112 §2.2, §4, §5, §6.3; RFC 9110 §7.6.1,
 * §15.2): an incremental scanner that finds the end of a response head within its limits, a
 * parser that splits a complete head in place, the framing decision of RFC 9112 §6.3, and the
 * hop-by-hop field set of RFC 9110 §7.6.1 (used for requests and responses alike).
 * Every function is pure: no I/O, no allocation. Anything malformed is refused with 502, so a
 * proxy never forwards a head it could not read exactly.
 */
#ifndef KZ_UPSTREAM_HTTP_H
#define KZ_UPSTREAM_HTTP_H

#include "http_parse.h"

#include <apr.h>

/** A parsed response head; every pointer points into the caller's buffer, NUL-terminated there. */
typedef struct kz_resp_head {
    int version;        /**< 10 for HTTP/1.0, 11 for HTTP/1.1 (and higher 1.x) */
    int status;         /**< 100..599 */
    const char *reason; /**< the reason phrase, as sent; may be empty */
    kz_http_field_t *fields;
    int nfields;
} kz_resp_head_t;

/**
 * Scans buf[0..len) (everything received so far for this head) for the end of a response head,
 * continuing from *scan (zero it before the first call; the caller must keep the bytes already
 * shown). Returns KZ_PARSE_AGAIN while the head is incomplete and within limits; KZ_PARSE_OK
 * with *head_len set to the head's length including its final CRLF CRLF (bytes after it belong
 * to the body); or 502 for: a bare CR, a bare LF (every line must end in CRLF: RFC 9112 §2.2
 * lets a recipient accept a lone LF, but a proxy that reads lines differently from the next hop
 * invites response splitting, and the request parser refuses it too), a head longer than
 * max_head bytes (CRLFs included: exactly max_head is accepted), more than max_fields field lines,
 * a response that does not start with "HTTP/" (checked on the first bytes, so a backend that
 * answers with a raw body or HTTP/0.9 is refused without waiting for max_head bytes).
 * Decides the same whether the bytes arrive at once or one by one.
 */
int kz_resp_scan(kz_http_scan_t *scan, const char *buf, apr_size_t len, apr_size_t max_head,
                 int max_fields, apr_size_t *head_len);

/**
 * Parses a complete head of head_len bytes (as found by kz_resp_scan) in place: the CRLFs, the
 * spaces of the status line and the colon after each name are overwritten with NULs, and
 * trailing whitespace of values too. fields must have room for max_fields entries.
 * status-line = "HTTP/" DIGIT "." DIGIT SP 3DIGIT SP reason-phrase CRLF (RFC 9112 §4), where the
 * reason is *( HTAB / SP / VCHAR / obs-text ). The SP before an empty reason may be missing
 * ("HTTP/1.1 200" CRLF): the line still has exactly one reading, and such backends exist.
 * Returns KZ_PARSE_OK, or 502 for: any other status line, a major version other than 1, a status
 * below 100 or above 599, a field name that is not a token (an empty one included, which also
 * catches obs-fold), whitespace before a colon, a line without a colon, a control byte but HTAB
 * (CR, LF, NUL, DEL...) in a value or the reason, more than max_fields fields, a head that does
 * not end in CRLF CRLF or holds a bare CR/LF. HTTP/1.x with x >= 1 is taken as HTTP/1.1.
 * Values keep obs-text (0x80-0xFF) bytes; leading and trailing whitespace is removed.
 */
int kz_resp_parse(kz_resp_head_t *head, char *buf, apr_size_t head_len, kz_http_field_t *fields,
                  int max_fields);

/** How the body of a response is delimited (RFC 9112 §6.3). */
typedef enum kz_resp_body {
    KZ_RESP_BODY_NONE,    /**< 1xx, 204, 304, answer to HEAD, 2xx to CONNECT */
    KZ_RESP_BODY_LENGTH,  /**< Content-Length bytes */
    KZ_RESP_BODY_CHUNKED, /**< Transfer-Encoding: chunked (kz_chunked_decode) */
    KZ_RESP_BODY_CLOSE    /**< delimited by the backend closing the connection */
} kz_resp_body_e;

/** What the framing fields of a response say. */
typedef struct kz_resp_info {
    kz_resp_body_e body;
    apr_off_t length; /**< for KZ_RESP_BODY_LENGTH; otherwise -1 */
    /**
     * The backend connection may be reused after this response: HTTP/1.1 without "close",
     * HTTP/1.0 with "keep-alive" (RFC 9112 §9.3); never for CLOSE framing, a 101, a 2xx to
     * CONNECT (the connection becomes a tunnel) or an interim response (the final one follows).
     */
    int keep_alive;
    int upgrade; /**< 101 Switching Protocols: relay bytes both ways from here on */
    int interim; /**< 1xx other than 101: skip it and read the next head */
} kz_resp_info_t;

/**
 * Decides the framing of a parsed response to a request whose method was HEAD (method_head) or
 * CONNECT (method_connect), in RFC 9112 §6.3 order: 1xx, 204, 304 and answers to HEAD have no
 * body; a 2xx to CONNECT is a tunnel whose Content-Length and Transfer-Encoding are ignored (§6.3
 * item 2); Transfer-Encoding ending in chunked → CHUNKED; Content-Length → LENGTH; else CLOSE.
 * Returns KZ_PARSE_OK or 502 for: Content-Length and Transfer-Encoding together, more than one
 * Content-Length field or a list in one (even of equal values), a Content-Length that is not
 * 1*DIGIT or overflows apr_off_t, a Transfer-Encoding in an HTTP/1.0 response, a Transfer-Encoding
 * whose last coding is not chunked, that names chunked twice, that is empty, or that names any
 * coding besides chunked (this server decodes only chunked, and Transfer-Encoding is hop-by-hop:
 * forwarding "gzip, chunked" de-chunked would hand the client gzip bytes with nothing saying so),
 * a 101 without an Upgrade field. These checks apply to bodiless responses too, since their
 * fields are forwarded. The caller checks that a 101 answers a request that asked to upgrade.
 * On 502, info says CLOSE with keep_alive 0.
 */
int kz_resp_analyze(kz_resp_info_t *info, const kz_resp_head_t *head, int method_head,
                    int method_connect);

/** The number of field names a Connection field may add to a hop-by-hop set. */
#define KZ_HOP_MAX 32

/**
 * The hop-by-hop fields of one message (RFC 9110 §7.6.1): the fixed ones (Connection,
 * Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade) and every token named in its
 * Connection fields. names point into those fields' values (not NUL-terminated: use lens).
 */
typedef struct kz_hop {
    const char *names[KZ_HOP_MAX];
    apr_size_t lens[KZ_HOP_MAX];
    int n;
} kz_hop_t;

/**
 * Builds the hop-by-hop set of the message whose fields are fields[0..n): once per message, then
 * test names with kz_hop_is. Connection is a comma-separated list; empty elements and OWS are
 * skipped; names are compared ignoring ASCII case; a name already in the set (a fixed one or a
 * repeat) is not stored twice; an element that is not a token cannot name a field and is
 * skipped. Returns 0, or nonzero when the Connection fields name more than KZ_HOP_MAX distinct
 * fields: the caller refuses the message (400 for a client, 502 for a backend); the set then
 * holds the first KZ_HOP_MAX.
 */
int kz_hop_init(kz_hop_t *hop, const kz_http_field_t *fields, int n);

/** Whether the field name[0..len) is hop-by-hop in hop (ASCII case ignored): 1 or 0. */
int kz_hop_is(const kz_hop_t *hop, const char *name, apr_size_t len);

#endif
