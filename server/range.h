/*
 * Range requests (RFC 9110 §14): parsing a `bytes` Range field into satisfiable, sorted and
 * merged ranges with bounded work, and answering with 206 (one part with Content-Range, or
 * multipart/byteranges built from body segments, so file parts go out with sendfile and are
 * never copied) or 416 with `Content-Range: bytes * /size`.
 */
#ifndef KZ_RANGE_H
#define KZ_RANGE_H

#include "core.h"

/** A byte range, both ends included (RFC 9110 §14.1.1). */
typedef struct kz_range {
    apr_off_t first;
    apr_off_t last;
} kz_range_t;

/** What a Range field asks for. */
typedef enum kz_range_result {
    KZ_RANGE_IGNORE,        /**< not `bytes`, or not valid syntax: serve the whole (200) */
    KZ_RANGE_OK,            /**< *out holds the ranges to send */
    KZ_RANGE_UNSATISFIABLE, /**< no range overlaps the representation: 416 */
    KZ_RANGE_TOO_MANY       /**< more than max_ranges ranges: refused with 416 */
} kz_range_result_e;

/**
 * Parses value (a Range field) for a representation of size bytes. The range unit is compared
 * case-insensitively; empty list members are skipped; a range whose last position is below its
 * first, or any other syntax error, makes the whole field ignored (RFC 9110 §14.2). Ranges that
 * start at or after the end are dropped, the others are clamped to the representation, then
 * sorted and merged when they overlap or touch, so the answer never repeats a byte. More than
 * max_ranges members are refused before any is examined further (bounded work).
 * On KZ_RANGE_OK, *out (allocated in p) holds *n >= 1 ranges in ascending order.
 */
kz_range_result_e kz_range_parse(kz_range_t **out, int *n, const char *value, apr_off_t size,
                                 int max_ranges, apr_pool_t *p);

/**
 * Answers r with 206 for the ranges of a representation of size bytes whose bytes are content
 * (when in memory) or else file: one range gives Content-Range and that part; several give a
 * multipart/byteranges body whose parts carry type (the representation's Content-Type) and their
 * Content-Range. Sets the status, Content-Type (and Content-Range) and the body; other header
 * fields are the caller's.
 */
void kz_range_respond(kz_request_t *r, const kz_range_t *ranges, int n, apr_off_t size,
                      const char *type, const char *content, apr_file_t *file);

/** Answers r with 416 (the error page) and `Content-Range: bytes * /size`. */
void kz_range_refuse(kz_request_t *r, apr_off_t size);

#endif
