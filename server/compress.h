/*
 * Content codings for static files (RFC 9110 §8.4.1, §12.5.3): Accept-Encoding negotiation with
 * q-values, the media types worth compressing, streaming encoders for gzip (zlib), br
 * (libbrotlienc) and zstd (libzstd), and a per-loop cache of compressed output bounded in bytes.
 */
#ifndef KZ_COMPRESS_H
#define KZ_COMPRESS_H

#include <apr_file_info.h>
#include <apr_pools.h>

/** The codings we produce, in the server's order of preference (used to break ties). */
typedef enum kz_encoding {
    KZ_ENC_IDENTITY,
    KZ_ENC_BR,
    KZ_ENC_ZSTD,
    KZ_ENC_GZIP,
    KZ_ENC_COUNT
} kz_encoding_e;

/* ---- negotiation ------------------------------------------------------------------------ */

/** What Accept-Encoding allows: a weight per coding, in thousandths (0 = not acceptable). */
typedef struct kz_accept_enc {
    int q[KZ_ENC_COUNT];
    int identity_explicit; /**< identity (or `*`) was named, so its weight competes */
} kz_accept_enc_t;

/**
 * Parses an Accept-Encoding value (NULL: the field is absent). Coding names are compared
 * case-insensitively, `x-gzip` is gzip, `*` gives its weight to every coding not named, a
 * member with an invalid weight is ignored, and a coding named twice keeps the last weight.
 * Identity is acceptable unless excluded (`identity;q=0`, or `*;q=0` without naming identity).
 * An absent field or an empty value accepts identity only: a client that sent nothing gets
 * no coding (RFC 9110 §12.5.3 allows any, but only identity is safe with old clients).
 */
void kz_accept_encoding_parse(kz_accept_enc_t *ae, const char *value);

/**
 * The codings to try, best first: acceptable ones by weight, ties broken by br, zstd, gzip.
 * A coding the client weighs below an explicitly named identity is left out (the client
 * prefers the plain representation). Returns how many (0 to 3) were written to out.
 */
int kz_accept_encoding_order(const kz_accept_enc_t *ae, kz_encoding_e out[KZ_ENC_COUNT - 1]);

/** The coding's name for Content-Encoding ("br"), and the extension of precompressed files. */
const char *kz_encoding_name(kz_encoding_e enc);
const char *kz_encoding_suffix(kz_encoding_e enc); /**< ".br", ".zst", ".gz" */

/**
 * Whether a media type (parameters allowed) is worth compressing: text, script, JSON, XML and
 * their +json/+xml kin, SVG, uncompressed fonts and images, WebAssembly. Formats that are already
 * compressed (most images, audio, video, archives, WOFF) and unknown binary data are not.
 */
int kz_compressible_type(const char *type);

/* ---- encoders --------------------------------------------------------------------------- */

/** A growable output buffer, from malloc: compressed output outlives requests in the cache. */
typedef struct kz_zbuf {
    char *data;
    apr_size_t len;
    apr_size_t cap;
} kz_zbuf_t;

void kz_zbuf_free(kz_zbuf_t *b);

/**
 * Input is always fed to an encoder in blocks of this size (the last may be shorter), whether
 * it comes from memory or from a file, so one file always compresses to the same bytes: a
 * strong ETag per coding promises exactly that.
 */
#define KZ_ENCODER_BLOCK (64 * 1024)

typedef struct kz_encoder kz_encoder_t;

/**
 * A streaming encoder for enc (not identity) for an input of size bytes (brotli and zstd
 * record or use it). Settings: gzip level 6, brotli quality 5 with a 1 MiB window, zstd level 3.
 * The encoder's memory is released by a cleanup of p.
 */
apr_status_t kz_encoder_create(kz_encoder_t **out, kz_encoding_e enc, apr_off_t size,
                               apr_pool_t *p);

/**
 * Compresses in[0..len) and appends what the encoder emits to out (grown as needed); last
 * ends the stream. APR_ENOMEM or APR_EGENERAL on failure (then the stream is unusable).
 */
apr_status_t kz_encoder_feed(kz_encoder_t *e, const char *in, apr_size_t len, int last,
                             kz_zbuf_t *out);

/** Compresses a whole buffer into out (fed in KZ_ENCODER_BLOCK pieces); p holds the encoder. */
apr_status_t kz_compress_buffer(kz_zbuf_t *out, kz_encoding_e enc, const char *in, apr_size_t len,
                                apr_pool_t *p);

/* ---- the per-loop cache of compressed output -------------------------------------------- */

/** What the output was made from: a file's identity and version, and the coding. */
typedef struct kz_zkey {
    apr_ino_t inode;
    apr_dev_t device;
    apr_off_t size;
    apr_time_t mtime;
    apr_int64_t encoding;
} kz_zkey_t;

/** Fills key (padding zeroed, since keys are hashed as bytes) for a file and a coding. */
void kz_zkey_make(kz_zkey_t *key, const apr_finfo_t *finfo, kz_encoding_e enc);

typedef struct kz_zcache kz_zcache_t;

/** The largest output kept for a cache of budget bytes: an eighth, so one file cannot fill it. */
#define KZ_ZCACHE_ENTRY_MAX(budget) ((budget) / 8)

/** A cache (for one loop: no lock); a cleanup of p frees what it holds. */
kz_zcache_t *kz_zcache_create(apr_pool_t *p);

/**
 * Looks key up. On a hit, returns 1 and sets *data and *len, which stay valid until pool (the
 * request's) is destroyed even if the entry is evicted meanwhile.
 */
int kz_zcache_get(kz_zcache_t *zc, const kz_zkey_t *key, const char **data, apr_size_t *len,
                  apr_pool_t *pool);

/**
 * Takes buf's bytes into the cache under key, evicting the least recently used entries so the
 * cache holds at most budget bytes. Returns 1 when taken (buf is then emptied; with a pool,
 * *data points at the stored bytes, valid while pool lives), 0 when the output is larger than
 * KZ_ZCACHE_ENTRY_MAX(budget) or key is present already (buf stays the caller's).
 */
int kz_zcache_put(kz_zcache_t *zc, const kz_zkey_t *key, kz_zbuf_t *buf, apr_size_t budget,
                  const char **data, apr_pool_t *pool);

/** Bytes and entries held (for tests and statistics). */
apr_size_t kz_zcache_bytes(const kz_zcache_t *zc);
int kz_zcache_count(const kz_zcache_t *zc);

#endif
