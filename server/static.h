/*
 * Static files' per-scope settings (enableETag, enableCompression, disableTrailingSlashRedirects
 * and the properties that refine them), compiled once per scope by kz_static_compile()
 * (stages.h), and the checks of the properties that need more than a type.
 */
#ifndef KZ_STATIC_H
#define KZ_STATIC_H

#include "config.h"

struct kz_static_conf {
    int etag;               /**< enableETag */
    int compression;        /**< enableCompression */
    int precompressed;      /**< enablePrecompressedFiles */
    int slash_redirects;    /**< not disableTrailingSlashRedirects */
    int max_ranges;         /**< maximumRanges */
    apr_off_t compress_min; /**< compressionMinimumSize */
    apr_size_t cache_bytes; /**< compressionCacheSize (global): per loop */
    const char *charset;    /**< "; charset=utf-8" from defaultCharset, or NULL for none */
    apr_size_t charset_len;
    apr_hash_t *mime; /**< extraMimeTypes: lowercased extension without dot → type */
};

/** defaultCharset: "" (none) or a token such as "utf-8". */
const char *kz_static_check_charset(const kz_value_t *value, apr_pool_t *p);

/**
 * extraMimeTypes: a map whose keys are extensions ("md" or ".md": no '/', no further dot, at
 * most 31 bytes) and whose values are media types (type "/" subtype, tokens, optionally
 * followed by parameters such as "; charset=iso-8859-2").
 */
const char *kz_static_check_mime_map(const kz_value_t *value, apr_pool_t *p);

#endif
