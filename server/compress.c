/*
 * Content codings (RFC 9110 §8.4.1, §12.5.3): Accept-Encoding parsed with its q-values, the list
 * of media types worth compressing, streaming encoders over zlib (gzip, RFC 1952), libbrotlienc
 * (br, RFC 7932) and libzstd (zstd, RFC 8878), and the per-loop cache of compressed output: an
 * LRU list bounded in bytes whose entries are reference-counted, so eviction never frees bytes a
 * response is still sending.
 */
#include "compress.h"
#include "http_parse.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <brotli/encode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* ---- negotiation ------------------------------------------------------------------------ */

static const char *const names[KZ_ENC_COUNT] = {"identity", "br", "zstd", "gzip"};
static const char *const suffixes[KZ_ENC_COUNT] = {"", ".br", ".zst", ".gz"};

const char *kz_encoding_name(kz_encoding_e enc)
{
    return names[enc];
}

const char *kz_encoding_suffix(kz_encoding_e enc)
{
    return suffixes[enc];
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The end of a token or parameter value starting at s. */
static const char *word_end(const char *s)
{
    if (*s == '"') { /* a quoted-string parameter value */
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1]) {
                s++;
            }
        }
        return *s ? s + 1 : s;
    }
    while (*s && !is_ows(*s) && *s != ',' && *s != ';' && *s != '=') {
        s++;
    }
    return s;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if invalid. */
static int parse_q(const char *s, apr_size_t len)
{
    int q = 0, scale = 100;

    if (len == 0 || (s[0] != '0' && s[0] != '1') || len > 5 || (len > 1 && s[1] != '.')) {
        return -1;
    }
    for (apr_size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9' || (s[0] == '1' && s[i] != '0')) {
            return -1;
        }
        q += (s[i] - '0') * scale;
    }
    return s[0] == '1' ? 1000 : q;
}

/* The coding a name stands for; -1 for `*`, -2 for a coding we do not produce. */
static int coding_of(const char *s, apr_size_t len)
{
    if (len == 1 && *s == '*') {
        return -1;
    }
    if (len == 6 && kz_ascii_caseeq(s, "x-gzip", 6)) {
        return KZ_ENC_GZIP;
    }
    for (int i = 0; i < KZ_ENC_COUNT; i++) {
        /* s is not NUL-terminated at len: equal when the name ends exactly there. */
        if (kz_ascii_caseeq(s, names[i], len) && names[i][len] == '\0') {
            return i;
        }
    }
    return -2;
}

/* The parameters after a coding: returns the weight (1000 without q), or -1 if invalid. */
static int parse_weight(const char **sp)
{
    const char *s = *sp, *name, *value;
    int q = 1000;

    for (;;) {
        while (is_ows(*s)) {
            s++;
        }
        if (*s != ';') {
            break;
        }
        for (s++; is_ows(*s); s++) {
        }
        name = s;
        s = word_end(s);
        if (*s != '=') {
            q = -1;
            break;
        }
        value = ++s;
        s = word_end(s);
        if (value - name == 2 && (*name == 'q' || *name == 'Q')) {
            q = parse_q(value, (apr_size_t)(s - value));
        }
    }
    /* Anything else before the next comma makes the member invalid. */
    if (*s && *s != ',') {
        q = -1;
        s = strchr(s, ',');
    }
    *sp = s ? s : "";
    return q;
}

void kz_accept_encoding_parse(kz_accept_enc_t *ae, const char *value)
{
    int named[KZ_ENC_COUNT] = {0}, star = -1;
    const char *s = value;

    memset(ae, 0, sizeof(*ae));
    while (s && *s) {
        const char *name;
        int coding, q;

        if (*s == ',' || is_ows(*s)) {
            s++;
            continue;
        }
        name = s;
        s = word_end(s);
        coding = coding_of(name, (apr_size_t)(s - name));
        q = parse_weight(&s);
        if (q < 0 || coding == -2) {
            continue;
        }
        if (coding == -1) {
            star = q;
        } else {
            ae->q[coding] = q;
            named[coding] = 1;
        }
    }
    for (int i = 0; i < KZ_ENC_COUNT; i++) {
        if (!named[i]) {
            ae->q[i] = star >= 0 ? star : (i == KZ_ENC_IDENTITY ? 1000 : 0);
        }
    }
    ae->identity_explicit = named[KZ_ENC_IDENTITY] || star >= 0;
}

int kz_accept_encoding_order(const kz_accept_enc_t *ae, kz_encoding_e out[KZ_ENC_COUNT - 1])
{
    int n = 0;

    for (int e = KZ_ENC_IDENTITY + 1; e < KZ_ENC_COUNT; e++) {
        int q = ae->q[e], at = n;

        if (q == 0 || (ae->identity_explicit && q < ae->q[KZ_ENC_IDENTITY])) {
            continue;
        }
        /* Insertion by weight; equal weights keep the server's order. */
        while (at > 0 && ae->q[out[at - 1]] < q) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = (kz_encoding_e)e;
        n++;
    }
    return n;
}

/* ---- media types -------------------------------------------------------------------------- */

#define T(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

static const struct {
    const char *name;
    apr_size_t len;
} compressible[] = {T("application/javascript"),
                    T("application/x-javascript"),
                    T("application/ecmascript"),
                    T("application/json"),
                    T("application/xml"),
                    T("application/wasm"),
                    T("application/rtf"),
                    T("application/x-sh"),
                    T("application/x-csh"),
                    T("application/postscript"),
                    T("application/x-tex"),
                    T("application/x-latex"),
                    T("application/yaml"),
                    T("application/x-yaml"),
                    T("application/toml"),
                    T("application/sql"),
                    T("application/graphql"),
                    T("application/vnd.ms-fontobject"),
                    T("application/x-font-ttf"),
                    T("application/x-font-otf"),
                    T("application/x-httpd-php"),
                    T("font/ttf"),
                    T("font/otf"),
                    T("font/collection"),
                    T("image/bmp"),
                    T("image/x-ms-bmp"),
                    T("image/x-icon"),
                    T("image/vnd.microsoft.icon")};

static int has_suffix(const char *s, apr_size_t len, const char *suffix, apr_size_t n)
{
    return len > n && kz_ascii_caseeq(s + len - n, suffix, n);
}

int kz_compressible_type(const char *type)
{
    apr_size_t len = 0;

    if (!type) {
        return 0;
    }
    if (kz_ascii_caseeq(type, "text/", 5)) { /* stops at a NUL: a shorter type never matches */
        return type[5] != '\0';
    }
    while (type[len] && type[len] != ';' && !is_ows(type[len])) {
        len++;
    }
    if (has_suffix(type, len, "+xml", 4) || has_suffix(type, len, "+json", 5) ||
        has_suffix(type, len, "+yaml", 5)) {
        return 1;
    }
    for (apr_size_t i = 0; i < sizeof(compressible) / sizeof(*compressible); i++) {
        if (compressible[i].len == len && kz_ascii_caseeq(type, compressible[i].name, len)) {
            return 1;
        }
    }
    return 0;
}

/* ---- encoders --------------------------------------------------------------------------- */

#define KZ_GZIP_LEVEL   6
#define KZ_BROTLI_Q     5
#define KZ_BROTLI_LGWIN 20
#define KZ_ZSTD_LEVEL   3
/* Room made in the output buffer before each call into an encoder. */
#define KZ_ZBUF_STEP (16 * 1024)

struct kz_encoder {
    kz_encoding_e enc;
    z_stream z;
    int z_ready;
    BrotliEncoderState *br;
    ZSTD_CCtx *zstd;
};

void kz_zbuf_free(kz_zbuf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Makes room for at least `room` more bytes. */
static apr_status_t zbuf_reserve(kz_zbuf_t *b, apr_size_t room)
{
    apr_size_t cap = b->cap ? b->cap : KZ_ZBUF_STEP;
    char *data;

    if (b->cap - b->len >= room) {
        return APR_SUCCESS;
    }
    while (cap - b->len < room) {
        cap *= 2;
    }
    if (!(data = realloc(b->data, cap))) {
        return APR_ENOMEM;
    }
    b->data = data;
    b->cap = cap;
    return APR_SUCCESS;
}

static apr_status_t zbuf_append(kz_zbuf_t *b, const void *data, apr_size_t len)
{
    apr_status_t rv = zbuf_reserve(b, len);

    if (rv == APR_SUCCESS && len > 0) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
    return rv;
}

static apr_status_t encoder_cleanup(void *data)
{
    kz_encoder_t *e = data;

    if (e->z_ready) {
        deflateEnd(&e->z);
    }
    if (e->br) {
        BrotliEncoderDestroyInstance(e->br);
    }
    if (e->zstd) {
        ZSTD_freeCCtx(e->zstd);
    }
    return APR_SUCCESS;
}

static int brotli_setup(kz_encoder_t *e, apr_off_t size)
{
    e->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    return e->br && BrotliEncoderSetParameter(e->br, BROTLI_PARAM_QUALITY, KZ_BROTLI_Q) &&
           BrotliEncoderSetParameter(e->br, BROTLI_PARAM_LGWIN, KZ_BROTLI_LGWIN) &&
           BrotliEncoderSetParameter(e->br, BROTLI_PARAM_SIZE_HINT,
                                     (uint32_t)(size < (1 << 30) ? size : (1 << 30)));
}

static int zstd_setup(kz_encoder_t *e, apr_off_t size)
{
    e->zstd = ZSTD_createCCtx();
    return e->zstd &&
           !ZSTD_isError(ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_compressionLevel, KZ_ZSTD_LEVEL)) &&
           !ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(e->zstd, (unsigned long long)size));
}

apr_status_t kz_encoder_create(kz_encoder_t **out, kz_encoding_e enc, apr_off_t size, apr_pool_t *p)
{
    kz_encoder_t *e = apr_pcalloc(p, sizeof(*e));
    int ok = 0;

    e->enc = enc;
    apr_pool_cleanup_register(p, e, encoder_cleanup, apr_pool_cleanup_null);
    switch (enc) {
    case KZ_ENC_GZIP:
        /* windowBits 15 + 16: a gzip wrapper rather than zlib's */
        ok = deflateInit2(&e->z, KZ_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        e->z_ready = ok;
        break;
    case KZ_ENC_BR:
        ok = brotli_setup(e, size);
        break;
    case KZ_ENC_ZSTD:
        ok = zstd_setup(e, size);
        break;
    default:
        break;
    }
    *out = ok ? e : NULL;
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

static apr_status_t feed_gzip(kz_encoder_t *e, const char *in, apr_size_t len, int last,
                              kz_zbuf_t *out)
{
    int rc;

    e->z.next_in = (Bytef *)in;
    e->z.avail_in = (uInt)len;
    do {
        if (zbuf_reserve(out, KZ_ZBUF_STEP) != APR_SUCCESS) {
            return APR_ENOMEM;
        }
        e->z.next_out = (Bytef *)out->data + out->len;
        e->z.avail_out = (uInt)(out->cap - out->len);
        rc = deflate(&e->z, last ? Z_FINISH : Z_NO_FLUSH);
        out->len = out->cap - e->z.avail_out;
        if (rc == Z_STREAM_ERROR) {
            return APR_EGENERAL;
        }
    } while (last ? rc != Z_STREAM_END : (e->z.avail_in > 0 || e->z.avail_out == 0));
    return APR_SUCCESS;
}

static apr_status_t feed_brotli(kz_encoder_t *e, const char *in, apr_size_t len, int last,
                                kz_zbuf_t *out)
{
    const uint8_t *next = (const uint8_t *)in;
    size_t avail = len;

    for (;;) {
        size_t no_out = 0;

        if (!BrotliEncoderCompressStream(e->br,
                                         last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS,
                                         &avail, &next, &no_out, NULL, NULL)) {
            return APR_EGENERAL;
        }
        while (BrotliEncoderHasMoreOutput(e->br)) {
            size_t n = 0;
            const uint8_t *data = BrotliEncoderTakeOutput(e->br, &n);
            if (zbuf_append(out, data, n) != APR_SUCCESS) {
                return APR_ENOMEM;
            }
        }
        if (last ? BrotliEncoderIsFinished(e->br) : avail == 0) {
            return APR_SUCCESS;
        }
    }
}

static apr_status_t feed_zstd(kz_encoder_t *e, const char *in, apr_size_t len, int last,
                              kz_zbuf_t *out)
{
    ZSTD_inBuffer ib = {in, len, 0};

    for (;;) {
        ZSTD_outBuffer ob;
        size_t left;

        if (zbuf_reserve(out, ZSTD_CStreamOutSize()) != APR_SUCCESS) {
            return APR_ENOMEM;
        }
        ob = (ZSTD_outBuffer){out->data + out->len, out->cap - out->len, 0};
        left = ZSTD_compressStream2(e->zstd, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            return APR_EGENERAL;
        }
        out->len += ob.pos;
        if (last ? left == 0 : ib.pos == ib.size) {
            return APR_SUCCESS;
        }
    }
}

apr_status_t kz_encoder_feed(kz_encoder_t *e, const char *in, apr_size_t len, int last,
                             kz_zbuf_t *out)
{
    switch (e->enc) {
    case KZ_ENC_GZIP:
        return feed_gzip(e, in, len, last, out);
    case KZ_ENC_BR:
        return feed_brotli(e, in, len, last, out);
    case KZ_ENC_ZSTD:
        return feed_zstd(e, in, len, last, out);
    default:
        return APR_EGENERAL;
    }
}

apr_status_t kz_compress_buffer(kz_zbuf_t *out, kz_encoding_e enc, const char *in, apr_size_t len,
                                apr_pool_t *p)
{
    kz_encoder_t *e;
    apr_size_t off = 0;
    apr_status_t rv = kz_encoder_create(&e, enc, (apr_off_t)len, p);

    while (rv == APR_SUCCESS) {
        apr_size_t n = len - off < KZ_ENCODER_BLOCK ? len - off : KZ_ENCODER_BLOCK;
        int last = off + n == len;

        rv = kz_encoder_feed(e, in + off, n, last, out);
        off += n;
        if (last) {
            break;
        }
    }
    if (e) {
        apr_pool_cleanup_run(p, e, encoder_cleanup);
    }
    return rv;
}

/* ---- the cache -------------------------------------------------------------------------- */

/* Entries and their bytes come from malloc: each is freed on its own when evicted, which a
 * pool cannot do, and a pool per entry would cost at least 8 KB for outputs of a few hundred. */
typedef struct zentry {
    kz_zkey_t key;
    char *data;
    apr_size_t len;
    int refs;
    int stale; /* evicted while referenced: freed by the last reference */
    struct zentry *prev, *next;
} zentry_t;

struct kz_zcache {
    apr_hash_t *entries; /* kz_zkey_t bytes → zentry_t * */
    zentry_t *head, *tail;
    apr_size_t bytes;
    int count;
};

void kz_zkey_make(kz_zkey_t *key, const apr_finfo_t *finfo, kz_encoding_e enc)
{
    memset(key, 0, sizeof(*key));
    key->inode = finfo->inode;
    key->device = finfo->device;
    key->size = finfo->size;
    key->mtime = finfo->mtime;
    key->encoding = enc;
}

static void zentry_free(zentry_t *e)
{
    free(e->data);
    free(e);
}

static void zlist_unlink(kz_zcache_t *zc, zentry_t *e)
{
    *(e->prev ? &e->prev->next : &zc->head) = e->next;
    *(e->next ? &e->next->prev : &zc->tail) = e->prev;
    e->prev = e->next = NULL;
}

static void zlist_push(kz_zcache_t *zc, zentry_t *e)
{
    e->prev = NULL;
    e->next = zc->head;
    *(zc->head ? &zc->head->prev : &zc->tail) = e;
    zc->head = e;
}

static void zentry_remove(kz_zcache_t *zc, zentry_t *e)
{
    apr_hash_set(zc->entries, &e->key, sizeof(e->key), NULL);
    zlist_unlink(zc, e);
    zc->bytes -= e->len;
    zc->count--;
    if (e->refs > 0) {
        e->stale = 1;
    } else {
        zentry_free(e);
    }
}

static apr_status_t zentry_unref(void *data)
{
    zentry_t *e = data;

    if (--e->refs == 0 && e->stale) {
        zentry_free(e);
    }
    return APR_SUCCESS;
}

static void zentry_ref(zentry_t *e, const char **data, apr_pool_t *pool)
{
    e->refs++;
    apr_pool_cleanup_register(pool, e, zentry_unref, apr_pool_cleanup_null);
    *data = e->data;
}

/* Request pools are children of the pool holding the cache, so their references are gone by
 * the time this runs. */
static apr_status_t zcache_cleanup(void *data)
{
    kz_zcache_t *zc = data;

    while (zc->tail) {
        zentry_remove(zc, zc->tail);
    }
    return APR_SUCCESS;
}

kz_zcache_t *kz_zcache_create(apr_pool_t *p)
{
    kz_zcache_t *zc = apr_pcalloc(p, sizeof(*zc));

    zc->entries = apr_hash_make(p);
    apr_pool_cleanup_register(p, zc, zcache_cleanup, apr_pool_cleanup_null);
    return zc;
}

int kz_zcache_get(kz_zcache_t *zc, const kz_zkey_t *key, const char **data, apr_size_t *len,
                  apr_pool_t *pool)
{
    zentry_t *e = apr_hash_get(zc->entries, key, sizeof(*key));

    if (!e) {
        return 0;
    }
    if (zc->head != e) {
        zlist_unlink(zc, e);
        zlist_push(zc, e);
    }
    zentry_ref(e, data, pool);
    *len = e->len;
    return 1;
}

int kz_zcache_put(kz_zcache_t *zc, const kz_zkey_t *key, kz_zbuf_t *buf, apr_size_t budget,
                  const char **data, apr_pool_t *pool)
{
    zentry_t *e;

    if (buf->len > KZ_ZCACHE_ENTRY_MAX(budget) || buf->len == 0 ||
        apr_hash_get(zc->entries, key, sizeof(*key))) {
        return 0;
    }
    if (!(e = calloc(1, sizeof(*e)))) {
        return 0;
    }
    while (zc->tail && zc->bytes + buf->len > budget) {
        zentry_remove(zc, zc->tail);
    }
    e->key = *key;
    /* The buffer grew by doubling: give back the slack before it is kept for long. */
    e->data = buf->len < buf->cap ? realloc(buf->data, buf->len) : buf->data;
    e->data = e->data ? e->data : buf->data;
    e->len = buf->len;
    buf->data = NULL;
    buf->len = buf->cap = 0;
    apr_hash_set(zc->entries, &e->key, sizeof(e->key), e);
    zlist_push(zc, e);
    zc->bytes += e->len;
    zc->count++;
    if (pool) {
        zentry_ref(e, data, pool);
    }
    return 1;
}

apr_size_t kz_zcache_bytes(const kz_zcache_t *zc)
{
    return zc->bytes;
}

int kz_zcache_count(const kz_zcache_t *zc)
{
    return zc->count;
}
