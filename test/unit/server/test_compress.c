/*
 * Tests of server/compress.c: Accept-Encoding negotiation with q-values (RFC 9110 §12.5.3), the
 * compressible media types, the encoders (gzip and zstd decoded again here; the same bytes
 * whether fed at once or block by block) and the cache of compressed output (bounded in bytes,
 * least recently used first out, references outliving eviction).
 */
#include "compress.h"
#include "kz_test.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* The order as "br,zstd,gzip" ("" for none). */
static const char *order_text(const char *accept)
{
    kz_accept_enc_t ae;
    kz_encoding_e order[KZ_ENC_COUNT - 1];
    const char *s = "";
    int n;

    kz_accept_encoding_parse(&ae, accept);
    n = kz_accept_encoding_order(&ae, order);
    for (int i = 0; i < n; i++) {
        s = apr_pstrcat(kz_test_pool, s, i ? "," : "", kz_encoding_name(order[i]), NULL);
    }
    return apr_pstrcat(kz_test_pool, s, ae.q[KZ_ENC_IDENTITY] ? "" : " !identity", NULL);
}

static void test_negotiation(void)
{
    static const struct {
        const char *accept, *want;
    } rows[] = {
        {NULL, ""}, /* absent: identity only */
        {"", ""},
        {"gzip", "gzip"},
        {"gzip, deflate, br, zstd", "br,zstd,gzip"}, /* equal weights: the server's order */
        {"gzip, deflate, br", "br,gzip"},
        {"deflate", ""},
        {"GZIP", "gzip"},
        {"x-gzip", "gzip"},
        {"br;q=0.5, gzip;q=0.8", "gzip,br"},
        {"br;q=0.5, gzip;q=0.8, zstd;q=0.9", "zstd,gzip,br"},
        {"gzip;q=0, br", "br"},
        {"gzip;q=0", ""},
        {"*", "br,zstd,gzip"},
        {"*;q=0.5, gzip", "gzip,br,zstd"},
        {"*, gzip;q=0", "br,zstd"},
        {"*;q=0", " !identity"},
        {"*;q=0, identity", ""},
        {"identity;q=0", " !identity"},
        {"gzip, identity;q=0", "gzip !identity"},
        {"br;q=0.5, identity", ""},         /* the client prefers the plain file */
        {"br;q=0.5, identity;q=0.5", "br"}, /* a tie goes to the coding */
        {"br;q=0.5", "br"},                 /* identity not named: any coding beats it */
        {"br;q=1.0", "br"},
        {"br;q=1.000", "br"},
        {"br;q=0.001", "br"},
        {"br;q=1.5", ""}, /* invalid weight: member ignored */
        {"br;q=0.0001", ""},
        {"br;q=2", ""},
        {"br;q=", ""},
        {"br;q", ""},
        {"br;level=5", "br"}, /* other parameters are allowed */
        {"br ; q=0.3 , gzip ; q=0.2", "br,gzip"},
        {"br;q=\"0.5\"", ""}, /* a quoted weight is no qvalue: member ignored */
        {"br garbage, gzip", "gzip"},
        {"gzip;q=0.5, gzip;q=0", ""}, /* named twice: the last weight */
        {",,, ,br,,", "br"},
        {"zstd", "zstd"},
        {"gz, b, zst, x-gz", ""},           /* a prefix of a coding's name is not the coding */
        {"gzipx, brr, zstd1, x-gzipx", ""}, /* nor is a name that goes on */
        {"BR, ZsTd, X-GZIP", "br,zstd,gzip"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = order_text(rows[i].accept);
        if (strcmp(got, rows[i].want) != 0) {
            fprintf(stderr, "\n  [%s]: \"%s\", want \"%s\"\n",
                    rows[i].accept ? rows[i].accept : "(absent)", got, rows[i].want);
        }
        CU_ASSERT_STRING_EQUAL(got, rows[i].want);
    }
}

static void test_types(void)
{
    static const struct {
        const char *type;
        int want;
    } rows[] = {
        {"text/html", 1},
        {"text/html; charset=utf-8", 1},
        {"text/plain", 1},
        {"TEXT/CSS", 1},
        {"application/javascript", 1},
        {"application/json", 1},
        {"application/xhtml+xml", 1},
        {"application/ld+json", 1},
        {"image/svg+xml", 1},
        {"application/wasm", 1},
        {"font/ttf", 1},
        {"image/x-icon", 1},
        {"image/png", 0},
        {"image/jpeg", 0},
        {"image/webp", 0},
        {"font/woff2", 0},
        {"application/zip", 0},
        {"application/gzip", 0},
        {"application/octet-stream", 0},
        {"video/mp4", 0},
        {"application/jsonx", 0}, /* no prefix matches */
        {"application/json-seq", 0},
        {"+xml", 0},
        {"", 0},
        {NULL, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = kz_compressible_type(rows[i].type);
        if (got != rows[i].want) {
            fprintf(stderr, "\n  %s: %d\n", rows[i].type ? rows[i].type : "(null)", got);
        }
        CU_ASSERT_EQUAL(got, rows[i].want);
    }
}

/* Text that compresses well but not trivially: numbered lines of varying length. */
static char *sample(apr_size_t len)
{
    char *s = apr_palloc(kz_test_pool, len + 1);
    apr_size_t at = 0;

    for (unsigned i = 0; at < len; i++) {
        char line[64];
        int n = snprintf(line, sizeof(line), "line %u: %.*s\n", i, (int)(i * 7 % 40),
                         "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
        for (int k = 0; k < n && at < len; k++) {
            s[at++] = line[k];
        }
    }
    s[len] = '\0';
    return s;
}

static char *gunzip(const kz_zbuf_t *in, apr_size_t expect)
{
    char *out = apr_palloc(kz_test_pool, expect + 1);
    z_stream z;

    memset(&z, 0, sizeof(z));
    CU_ASSERT_EQUAL_FATAL(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)expect + 1;
    CU_ASSERT_EQUAL(inflate(&z, Z_FINISH), Z_STREAM_END);
    CU_ASSERT_EQUAL(z.total_out, expect);
    inflateEnd(&z);
    return out;
}

static void test_round_trip(void)
{
    static const apr_size_t sizes[] = {0, 1, 300, KZ_ENCODER_BLOCK, 200000};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        const char *in = sample(sizes[i]);
        kz_zbuf_t gz = {NULL, 0, 0}, zs = {NULL, 0, 0};
        char *back;

        CU_ASSERT_EQUAL_FATAL(kz_compress_buffer(&gz, KZ_ENC_GZIP, in, sizes[i], kz_test_pool),
                              APR_SUCCESS);
        back = gunzip(&gz, sizes[i]);
        CU_ASSERT(memcmp(back, in, sizes[i]) == 0);

        CU_ASSERT_EQUAL_FATAL(kz_compress_buffer(&zs, KZ_ENC_ZSTD, in, sizes[i], kz_test_pool),
                              APR_SUCCESS);
        back = apr_palloc(kz_test_pool, sizes[i] + 1);
        CU_ASSERT_EQUAL(ZSTD_decompress(back, sizes[i] + 1, zs.data, zs.len), sizes[i]);
        CU_ASSERT(memcmp(back, in, sizes[i]) == 0);
        /* zstd records the size given (RFC 8878 Frame_Content_Size). */
        CU_ASSERT_EQUAL(ZSTD_getFrameContentSize(zs.data, zs.len), sizes[i]);
        if (sizes[i] >= 300) {
            CU_ASSERT(gz.len < sizes[i] / 2);
            CU_ASSERT(zs.len < sizes[i] / 2);
        }
        kz_zbuf_free(&gz);
        kz_zbuf_free(&zs);
    }
}

/* The streamed path feeds the same blocks as kz_compress_buffer: same bytes, as a strong ETag
 * per coding requires; and compressing twice gives the same bytes. */
static void test_deterministic(void)
{
    const apr_size_t len = 3 * KZ_ENCODER_BLOCK + 1234;
    const char *in = sample(len);

    for (int enc = KZ_ENC_BR; enc < KZ_ENC_COUNT; enc++) {
        kz_zbuf_t whole = {NULL, 0, 0}, again = {NULL, 0, 0}, streamed = {NULL, 0, 0};
        kz_encoder_t *e;

        CU_ASSERT_EQUAL(kz_compress_buffer(&whole, enc, in, len, kz_test_pool), APR_SUCCESS);
        CU_ASSERT_EQUAL(kz_compress_buffer(&again, enc, in, len, kz_test_pool), APR_SUCCESS);
        CU_ASSERT_EQUAL_FATAL(kz_encoder_create(&e, enc, (apr_off_t)len, kz_test_pool),
                              APR_SUCCESS);
        for (apr_size_t off = 0; off < len; off += KZ_ENCODER_BLOCK) {
            apr_size_t n = len - off < KZ_ENCODER_BLOCK ? len - off : KZ_ENCODER_BLOCK;
            CU_ASSERT_EQUAL(kz_encoder_feed(e, in + off, n, off + n == len, &streamed),
                            APR_SUCCESS);
        }
        CU_ASSERT(whole.len > 0 && whole.len < len / 2);
        CU_ASSERT_EQUAL(whole.len, again.len);
        CU_ASSERT_EQUAL(whole.len, streamed.len);
        CU_ASSERT(whole.len == streamed.len && !memcmp(whole.data, streamed.data, whole.len));
        CU_ASSERT(whole.len == again.len && !memcmp(whole.data, again.data, whole.len));
        kz_zbuf_free(&whole);
        kz_zbuf_free(&again);
        kz_zbuf_free(&streamed);
    }
    CU_ASSERT_STRING_EQUAL(kz_encoding_suffix(KZ_ENC_BR), ".br");
    CU_ASSERT_STRING_EQUAL(kz_encoding_suffix(KZ_ENC_ZSTD), ".zst");
    CU_ASSERT_STRING_EQUAL(kz_encoding_suffix(KZ_ENC_GZIP), ".gz");
}

/* A malloc'd buffer of n bytes of c, as an encoder would leave it. */
static kz_zbuf_t filled(apr_size_t n, char c)
{
    kz_zbuf_t b = {malloc(n), n, n};

    memset(b.data, c, n);
    return b;
}

static kz_zkey_t key_of(int inode, kz_encoding_e enc)
{
    apr_finfo_t fi;
    kz_zkey_t key;

    memset(&fi, 0, sizeof(fi));
    fi.inode = (apr_ino_t)inode;
    fi.size = 1000;
    fi.mtime = apr_time_from_sec(1000);
    kz_zkey_make(&key, &fi, enc);
    return key;
}

static void test_cache(void)
{
    apr_pool_t *cp, *req;
    kz_zcache_t *zc;
    kz_zkey_t k1 = key_of(1, KZ_ENC_BR), k1gz = key_of(1, KZ_ENC_GZIP), k2 = key_of(2, KZ_ENC_BR),
              k3 = key_of(3, KZ_ENC_BR), k4 = key_of(4, KZ_ENC_BR);
    kz_zbuf_t b;
    const char *data;
    apr_size_t len;

    apr_pool_create(&cp, kz_test_pool);
    zc = kz_zcache_create(cp);
    CU_ASSERT_EQUAL(kz_zcache_get(zc, &k1, &data, &len, cp), 0);

    /* budget 8000: entries of at most 1000 bytes */
    b = filled(1000, 'a');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k1, &b, 8000, NULL, NULL), 1);
    CU_ASSERT_PTR_NULL(b.data);
    b = filled(1001, 'x');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k2, &b, 8000, NULL, NULL), 0); /* too large for it */
    CU_ASSERT_PTR_NOT_NULL(b.data);
    kz_zbuf_free(&b);
    b = filled(900, 'b');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k1, &b, 8000, NULL, NULL), 0); /* present already */
    kz_zbuf_free(&b);
    b = filled(900, 'g');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k1gz, &b, 8000, NULL, NULL), 1); /* another coding */
    CU_ASSERT_EQUAL(kz_zcache_count(zc), 2);
    CU_ASSERT_EQUAL(kz_zcache_bytes(zc), 1900);

    /* A reference outlives eviction: k1 is pinned by req, then pushed out. */
    apr_pool_create(&req, kz_test_pool);
    CU_ASSERT_EQUAL_FATAL(kz_zcache_get(zc, &k1, &data, &len, req), 1);
    CU_ASSERT_EQUAL(len, 1000);
    CU_ASSERT_EQUAL(data[999], 'a');
    b = filled(1000, 'c');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k3, &b, 2000, NULL, NULL), 0); /* 1000 > 2000 / 8 */
    kz_zbuf_free(&b);
    b = filled(1000, 'c');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k3, &b, 16000, NULL, NULL), 1);
    CU_ASSERT_EQUAL(kz_zcache_bytes(zc), 2900);
    /* A smaller budget now (2000): k1gz, the least recently used, goes, then k1 (pinned). */
    b = filled(200, 'd');
    CU_ASSERT_EQUAL(kz_zcache_put(zc, &k4, &b, 2000, &data, cp), 1);
    CU_ASSERT_EQUAL(data[0], 'd');
    CU_ASSERT_EQUAL(kz_zcache_bytes(zc), 1200);
    CU_ASSERT_EQUAL(kz_zcache_count(zc), 2);
    CU_ASSERT_EQUAL(kz_zcache_get(zc, &k1gz, &data, &len, cp), 0);
    CU_ASSERT_EQUAL(kz_zcache_get(zc, &k1, &data, &len, cp), 0);
    CU_ASSERT_EQUAL(kz_zcache_get(zc, &k3, &data, &len, cp), 1);
    CU_ASSERT_EQUAL(len, 1000);
    apr_pool_destroy(req); /* frees the evicted k1 (ASan reports a leak or double free) */
    apr_pool_destroy(cp);  /* frees what is left */
}

static const kz_test_case_t cases[] = {
    {"Accept-Encoding negotiation", test_negotiation},
    {"compressible types", test_types},
    {"gzip and zstd round trip", test_round_trip},
    {"same bytes every time", test_deterministic},
    {"cache bounds and references", test_cache},
    {NULL, NULL},
};

KZ_TEST_SUITE(compress, cases)
