/*
 * Static files (RFC 9110 §9.3.1–9.3.2): GET and HEAD of files under wwwroot, opened beneath the
 * root so no symbolic link leads outside it, index files for directories, the trailing-slash
 * redirect, validators (§8.8) and conditional requests (§13), ranges (§14), content codings
 * negotiated from Accept-Encoding (§12.5.3) with precompressed siblings or compressed output
 * cached per loop, and bodies sent with sendfile.
 */
#include "compress.h"
#include "conditional.h"
#include "core.h"
#include "dirlist.h"
#include "filecache.h"
#include "range.h"
#include "stages.h"
#include "static.h"
#include "url.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const index_files[] = {"index.html", "index.htm", "index.xhtml"};

/* What a request asks of a static file, gathered in one pass over its fields. */
typedef struct static_req {
    kz_cond_t cond;
    int has_cond; /* some precondition field is present */
    const char *range;
    const char *accept_encoding;
} static_req_t;

/* The representation chosen for the response. */
typedef struct rep {
    kz_encoding_e enc;
    kz_fcentry_t *sibling; /* a precompressed file, or NULL: compress on the fly */
    const char *etag;      /* NULL with enableETag off */
    apr_time_t mtime;      /* Last-Modified, never later than now */
    const char *type;      /* Content-Type */
} rep_t;

/* Maps an open error to a status, logging what the administrator should know. */
static int open_error(kz_request_t *r, apr_status_t rv)
{
    kz_loop_t *loop = r->conn->loop;

    if (rv == KZ_STATUS_ESCAPE) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 201,
                     "refused %s: it resolves outside wwwroot %s", r->path, r->conf->wwwroot);
        return 403;
    }
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv) || APR_STATUS_IS_ENAMETOOLONG(rv)) {
        return 404;
    }
    if (APR_STATUS_IS_EACCES(rv) || rv == APR_FROM_OS_ERROR(EPERM) ||
        rv == APR_FROM_OS_ERROR(ELOOP)) {
        return 403;
    }
    kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_ERR, 202, "cannot open %s in %s: %d",
                 r->path, r->conf->wwwroot, rv);
    return 500;
}

static apr_status_t cache_open(kz_request_t *r, kz_root_t *root, const char *rel,
                               kz_fcentry_t **entry)
{
    kz_loop_t *loop = r->conn->loop;

    return kz_filecache_open(entry, loop->filecache, root, rel, r->conf->allow_symlinks_outside,
                             loop->now, r->pool);
}

/* A directory: its index file (KZ_DECLINED: serve *entry), or a listing (kz_dirlist_serve
 * decides whether listings are on: KZ_DONE or a status). rel and r->path end with '/'. */
static int open_index(kz_request_t *r, kz_root_t *root, const char *rel, kz_fcentry_t **entry)
{
    for (apr_size_t i = 0; i < sizeof(index_files) / sizeof(index_files[0]); i++) {
        const char *name = apr_pstrcat(r->pool, rel, index_files[i], NULL);
        apr_status_t rv = cache_open(r, root, name, entry);

        if (rv == APR_SUCCESS && (*entry)->finfo.filetype == APR_REG) {
            r->path = apr_pstrcat(r->pool, r->path, index_files[i], NULL);
            return KZ_DECLINED;
        }
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            return open_error(r, rv);
        }
    }
    return kz_dirlist_serve(r, root, rel);
}

static int redirect_to_directory(kz_request_t *r)
{
    const char *loc = apr_pstrcat(r->pool, kz_url_encode_path(r->path, r->pool), "/",
                                  r->query ? "?" : "", r->query ? r->query : "", NULL);

    kz_response_error(r, 301);
    kz_response_header(r, "Location", loc);
    return KZ_DONE;
}

/* For a scope that stages.c did not compile (only a hand-made kz_conf_t lacks it): plain files
 * with validators, no coding. */
static const struct kz_static_conf plain_files = {
    .etag = 1, .slash_redirects = 1, .max_ranges = 16, .compress_min = 256};

static const struct kz_static_conf *settings(const kz_request_t *r)
{
    return r->conf->statics ? r->conf->statics : &plain_files;
}

static kz_root_t *request_root(const kz_request_t *r)
{
    return r->conf->root;
}

/*
 * The redirect runs before the modules, so none of them answers for a directory named without
 * its slash. With no module loaded nothing runs in between, and kz_static_handle, which opens
 * the path anyway, redirects by itself: a hot file is then looked up once, not twice. OPTIONS
 * is answered before static files, so it is looked at here.
 */
int kz_static_slash_stage(kz_request_t *r)
{
    kz_loop_t *loop = r->conn->loop;
    const apr_array_header_t *mods = r->rc->config->modules;
    apr_filetype_e type;
    kz_root_t *root;

    if (!settings(r)->slash_redirects ||
        ((!mods || mods->nelts == 0) && r->method_num != KZ_M_OPTIONS)) {
        return KZ_DECLINED;
    }
    if (r->path[strlen(r->path) - 1] == '/' || !(root = request_root(r))) {
        return KZ_DECLINED;
    }
    if (kz_filecache_type(&type, loop->filecache, root, r->path + 1,
                          r->conf->allow_symlinks_outside, loop->now) == APR_SUCCESS &&
        type == APR_DIR) {
        return redirect_to_directory(r);
    }
    return KZ_DECLINED;
}

/* ---- the request's fields ---------------------------------------------------------------- */

/* A list field named again: RFC 9110 §5.3 lets the values be joined with commas. */
static const char *join(const char *had, const char *value, apr_pool_t *p)
{
    return had ? apr_pstrcat(p, had, ", ", value, NULL) : value;
}

/* A field that is not a list, named again: *v becomes bad (a value the caller rejects). */
static void single(const char **v, const char *value, const char *bad)
{
    *v = *v ? bad : value;
}

#define FIELD_IS(f, lit) ((f)->name_len == sizeof(lit) - 1 && !strcasecmp((f)->name, lit))

static void scan_fields(static_req_t *q, const kz_http_head_t *head, apr_pool_t *p)
{
    memset(q, 0, sizeof(*q));
    for (int i = 0; i < head->nfields; i++) {
        const kz_http_field_t *f = &head->fields[i];

        switch (f->name[0] | 0x20) { /* ASCII lowercase of a token's first byte */
        case 'i':
            q->has_cond = 1; /* a field we do not know just costs an evaluation */
            if (FIELD_IS(f, "If-Match")) {
                q->cond.if_match = join(q->cond.if_match, f->value, p);
            } else if (FIELD_IS(f, "If-None-Match")) {
                q->cond.if_none_match = join(q->cond.if_none_match, f->value, p);
            } else if (FIELD_IS(f, "If-Modified-Since")) {
                single(&q->cond.if_modified_since, f->value, "");
            } else if (FIELD_IS(f, "If-Unmodified-Since")) {
                single(&q->cond.if_unmodified_since, f->value, "");
            } else if (FIELD_IS(f, "If-Range")) {
                single(&q->cond.if_range, f->value, "");
            }
            break;
        case 'r':
            if (FIELD_IS(f, "Range")) {
                single(&q->range, f->value, "");
            }
            break;
        case 'a':
            if (FIELD_IS(f, "Accept-Encoding")) {
                q->accept_encoding = join(q->accept_encoding, f->value, p);
            }
            break;
        }
    }
}

/* ---- content type ------------------------------------------------------------------------ */

/* Types whose text the charset parameter describes (RFC 6838 §4.2.1; JSON and XML kin too). */
static int wants_charset(const char *type, apr_size_t n)
{
    static const char *const apps[] = {"application/javascript", "application/json",
                                       "application/xml", "application/ecmascript",
                                       "application/x-javascript"};

    if (memchr(type, ';', n)) {
        return 0; /* parameters set by extraMimeTypes stay as they are */
    }
    if ((n > 5 && kz_ascii_caseeq(type, "text/", 5)) ||
        (n > 4 && kz_ascii_caseeq(type + n - 4, "+xml", 4)) ||
        (n > 5 && kz_ascii_caseeq(type + n - 5, "+json", 5))) {
        return 1;
    }
    for (apr_size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        if (strlen(apps[i]) == n && kz_ascii_caseeq(type, apps[i], n)) {
            return 1;
        }
    }
    return 0;
}

/* extraMimeTypes by the last extension of the last segment (none for dotfiles). */
static const char *extra_type(apr_hash_t *mime, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    char ext[32];
    apr_size_t n;

    if (!dot || dot == name || (n = strlen(dot + 1)) == 0 || n >= sizeof(ext)) {
        return NULL;
    }
    for (apr_size_t i = 0; i <= n; i++) {
        ext[i] = (char)apr_tolower(dot[1 + i]);
    }
    return apr_hash_get(mime, ext, (apr_ssize_t)n);
}

/* The Content-Type of the file at r->path, the charset parameter added in p when needed. */
static const char *content_type(const kz_request_t *r, const struct kz_static_conf *sc,
                                apr_pool_t *p)
{
    const char *type = sc->mime ? extra_type(sc->mime, r->path) : NULL;
    apr_size_t n;
    char *full;

    if (!type && !(type = kz_mime_lookup(r->rc->mime, r->path))) {
        return "application/octet-stream";
    }
    n = strlen(type);
    if (!sc->charset || !wants_charset(type, n)) {
        return type;
    }
    full = apr_palloc(p, n + sc->charset_len + 1);
    memcpy(full, type, n);
    memcpy(full + n, sc->charset, sc->charset_len + 1);
    return full;
}

/*
 * The Content-Type of e (opened at r->path) and whether a coding may be worth its while. The
 * first scope to serve e keeps the answer in it: an entry is reached only through its root,
 * which belongs to one configuration, so sc and the tables it was made from outlive every look
 * at it. A scope sharing the entry with another works its answer out per response.
 */
static const char *file_type(kz_request_t *r, const struct kz_static_conf *sc, kz_fcentry_t *e,
                             int *compressible)
{
    const char *type;

    if (e->type_for == sc) {
        *compressible = e->compressible;
        return e->type;
    }
    type = content_type(r, sc, e->type_for ? r->pool : e->pool);
    *compressible = kz_compressible_type(type);
    if (!e->type_for) {
        e->type_for = sc;
        e->type = type;
        e->compressible = *compressible;
    }
    return type;
}

/* ---- content coding ---------------------------------------------------------------------- */

/* A precompressed sibling of rel for enc that is a regular file not older than the file. */
static kz_fcentry_t *sibling(kz_request_t *r, kz_root_t *root, const kz_fcentry_t *e,
                             kz_encoding_e enc)
{
    kz_loop_t *loop = r->conn->loop;
    const char *rel = apr_pstrcat(r->pool, r->path + 1, kz_encoding_suffix(enc), NULL);
    kz_fcentry_t *s;

    if (kz_filecache_probe(&s, loop->filecache, root, rel, r->conf->allow_symlinks_outside,
                           loop->now, r->pool) != APR_SUCCESS) {
        return NULL;
    }
    return s->finfo.filetype == APR_REG && s->finfo.mtime >= e->finfo.mtime ? s : NULL;
}

/*
 * Picks the coding: the first acceptable one (best first) that has a precompressed sibling,
 * else the best one made on the fly when the file is large enough to gain from it.
 */
static void choose_encoding(kz_request_t *r, const struct kz_static_conf *sc, kz_root_t *root,
                            const kz_fcentry_t *e, const char *accept, rep_t *rep)
{
    kz_accept_enc_t ae;
    kz_encoding_e order[KZ_ENC_COUNT - 1];
    int n;

    kz_accept_encoding_parse(&ae, accept);
    if ((n = kz_accept_encoding_order(&ae, order)) == 0) {
        return;
    }
    for (int i = 0; sc->precompressed && i < n; i++) {
        if ((rep->sibling = sibling(r, root, e, order[i])) != NULL) {
            rep->enc = order[i];
            return;
        }
    }
    if (e->finfo.size >= sc->compress_min) {
        rep->enc = order[0];
    }
}

/* The entity-tag of the chosen representation: one per coding, and one per sibling version. */
static const char *variant_etag(kz_request_t *r, const kz_fcentry_t *e, const rep_t *rep)
{
    const char *name = kz_encoding_name(rep->enc);
    /* After the coding: "-" and the sibling's tag without its opening quote, or the quote. */
    const char *sep = rep->sibling ? "-" : "", *rest = rep->sibling ? rep->sibling->etag + 1 : "\"";
    apr_size_t n;
    char *tag;

    if (rep->enc == KZ_ENC_IDENTITY) {
        return e->etag;
    }
    /* Without apr_psprintf's format parsing: this runs per coded response. */
    n = strlen(e->etag) - 1; /* without the closing quote */
    tag = apr_palloc(r->pool, n + strlen(name) + strlen(rest) + 3);
    strcpy(stpcpy(stpcpy(stpcpy(mempcpy(tag, e->etag, n), "-"), name), sep), rest);
    return tag;
}

/* Streams a file through an encoder, keeping the whole output for the cache when it fits. */
typedef struct zstream {
    kz_encoder_t *encoder;
    kz_fcentry_t *e;
    kz_zcache_t *zc;
    kz_zkey_t key;
    apr_size_t budget;
    apr_off_t off;   /* input consumed */
    char *in;        /* a block read from the file */
    kz_zbuf_t out;   /* output; all of it while `keep`, else this pull's */
    apr_size_t from; /* where this pull's output starts in out */
    int keep;
    int done;
} zstream_t;

static apr_status_t zstream_cleanup(void *data)
{
    kz_zbuf_free(&((zstream_t *)data)->out);
    return APR_SUCCESS;
}

/* Feeds the next block of the file to the encoder. */
static apr_status_t zstream_feed(zstream_t *z)
{
    kz_fcentry_t *e = z->e;
    apr_off_t left = e->finfo.size - z->off, at = z->off;
    apr_size_t n = left < KZ_ENCODER_BLOCK ? (apr_size_t)left : KZ_ENCODER_BLOCK, got = 0;
    const char *in = e->content ? e->content + z->off : z->in;
    apr_status_t rv;

    if (!e->content) {
        /* The descriptor is shared: every read says where it reads from. */
        if ((rv = apr_file_seek(e->file, APR_SET, &at)) != APR_SUCCESS ||
            (n > 0 && (rv = apr_file_read_full(e->file, z->in, n, &got)) != APR_SUCCESS)) {
            /* The file shrank under us: APR_EOF would end the body as if it were whole, so the
             * connection is aborted instead. */
            return APR_STATUS_IS_EOF(rv) ? APR_EGENERAL : rv;
        }
    }
    z->off += (apr_off_t)n;
    z->done = z->off == e->finfo.size;
    return kz_encoder_feed(z->encoder, in, n, z->done, &z->out);
}

static apr_status_t zstream_pull(kz_request_t *r, void *baton, const char **data, apr_size_t *len)
{
    zstream_t *z = baton;
    apr_status_t rv;

    if (!z->keep) {
        z->out.len = 0;
    }
    z->from = z->out.len;
    while (z->out.len == z->from) {
        if (z->done) {
            if (z->keep) {
                kz_zcache_put(z->zc, &z->key, &z->out, z->budget, NULL, NULL);
            }
            return APR_EOF;
        }
        if ((rv = zstream_feed(z)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (z->keep && z->out.len > KZ_ZCACHE_ENTRY_MAX(z->budget)) {
        /* Too large to keep: from now on the buffer holds one pull's output only. */
        z->keep = 0;
        memmove(z->out.data, z->out.data + z->from, z->out.len - z->from);
        z->out.len -= z->from;
        z->from = 0;
    }
    *data = z->out.data + z->from;
    *len = z->out.len - z->from;
    return APR_SUCCESS;
}

/* HEAD of a streamed body: the head says what GET would (chunked), and nothing is compressed. */
static apr_status_t no_pull(kz_request_t *r, void *baton, const char **data, apr_size_t *len)
{
    return APR_EOF;
}

static void zstream_start(kz_request_t *r, const struct kz_static_conf *sc, kz_fcentry_t *e,
                          kz_encoding_e enc, const kz_zkey_t *key)
{
    zstream_t *z = apr_pcalloc(r->pool, sizeof(*z));

    z->e = e;
    z->zc = r->conn->loop->zcache;
    z->key = *key;
    z->budget = sc->cache_bytes;
    z->keep = z->budget > 0;
    apr_pool_cleanup_register(r->pool, z, zstream_cleanup, apr_pool_cleanup_null);
    if (!e->content) {
        z->in = apr_palloc(r->pool, KZ_ENCODER_BLOCK);
    }
    if (kz_encoder_create(&z->encoder, enc, e->finfo.size, r->pool) != APR_SUCCESS) {
        kz_response_error(r, 500);
        return;
    }
    kz_response_body_stream(r, zstream_pull, z, -1);
}

static apr_status_t free_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

/* A small file in memory: compressed whole now, sent with its length, kept when it fits. */
static int compress_now(kz_request_t *r, const struct kz_static_conf *sc, kz_fcentry_t *e,
                        kz_encoding_e enc, const kz_zkey_t *key)
{
    kz_zbuf_t out = {NULL, 0, 0};
    const char *data;
    apr_size_t len;

    if (kz_compress_buffer(&out, enc, e->content, (apr_size_t)e->finfo.size, r->pool) !=
        APR_SUCCESS) {
        kz_zbuf_free(&out);
        return 500;
    }
    len = out.len;
    if (!kz_zcache_put(r->conn->loop->zcache, key, &out, sc->cache_bytes, &data, r->pool)) {
        apr_pool_cleanup_register(r->pool, out.data, free_cleanup, apr_pool_cleanup_null);
        data = out.data;
    }
    kz_response_body_mem(r, data, len);
    return KZ_DONE;
}

static int serve_compressed(kz_request_t *r, const struct kz_static_conf *sc, kz_fcentry_t *e,
                            kz_encoding_e enc)
{
    kz_zkey_t key;
    const char *data;
    apr_size_t len;

    kz_zkey_make(&key, &e->finfo, enc);
    if (kz_zcache_get(r->conn->loop->zcache, &key, &data, &len, r->pool)) {
        kz_response_body_mem(r, data, len);
        return KZ_DONE;
    }
    if (e->content) {
        return compress_now(r, sc, e, enc, &key);
    }
    if (r->head_only) {
        kz_response_body_stream(r, no_pull, NULL, -1);
    } else {
        zstream_start(r, sc, e, enc, &key);
    }
    return KZ_DONE;
}

/* ---- the response -------------------------------------------------------------------------- */

/* Ranges of the plain file (never of a coding): 206, 416, or the whole file when ignored. */
static int serve_range(kz_request_t *r, const struct kz_static_conf *sc, kz_fcentry_t *e,
                       const static_req_t *q, const rep_t *rep)
{
    kz_range_t *ranges;
    int n;

    switch (kz_range_parse(&ranges, &n, q->range, e->finfo.size, sc->max_ranges, r->pool)) {
    case KZ_RANGE_OK:
        kz_range_respond(r, ranges, n, e->finfo.size, rep->type, e->content, e->file);
        return KZ_DONE;
    case KZ_RANGE_UNSATISFIABLE:
    case KZ_RANGE_TOO_MANY:
        kz_range_refuse(r, e->finfo.size);
        return KZ_DONE;
    default:
        return KZ_DECLINED;
    }
}

static void body_of(kz_request_t *r, const kz_fcentry_t *e)
{
    if (e->content) {
        kz_response_body_mem(r, e->content, (apr_size_t)e->finfo.size);
    } else {
        kz_response_body_file(r, e->file, 0, e->finfo.size);
    }
}

/* Validators of the chosen representation (RFC 9110 §8.8), and the fields that go with them
 * on a 200, 206 or 304. */
static void validators(kz_request_t *r, const struct kz_static_conf *sc, const kz_fcentry_t *e,
                       rep_t *rep, int vary)
{
    apr_time_t now = r->conn->loop->now;
    const char *lm = e->last_modified;

    rep->mtime = e->finfo.mtime;
    if (rep->sibling && rep->sibling->finfo.mtime > rep->mtime) {
        rep->mtime = rep->sibling->finfo.mtime;
        lm = rep->sibling->last_modified;
    }
    /* §8.8.2.1: never a Last-Modified later than the response's Date. */
    if (rep->mtime > now) {
        char *date = apr_palloc(r->pool, 32);
        kz_http_date(date, now);
        rep->mtime = now;
        lm = date;
    }
    rep->etag = sc->etag ? variant_etag(r, e, rep) : NULL;
    if (rep->etag) {
        kz_response_header(r, "ETag", rep->etag);
    }
    kz_response_header(r, "Last-Modified", lm);
    if (vary) {
        kz_response_header(r, "Vary", "Accept-Encoding");
    }
}

/* The body of a 200: the file, its precompressed sibling, or compressed output. */
static int serve_whole(kz_request_t *r, const struct kz_static_conf *sc, kz_fcentry_t *e,
                       const rep_t *rep)
{
    r->status = 200;
    kz_response_header(r, "Content-Type", rep->type);
    kz_response_header(r, "Accept-Ranges", "bytes");
    if (rep->enc == KZ_ENC_IDENTITY) {
        body_of(r, e);
        return KZ_DONE;
    }
    kz_response_header(r, "Content-Encoding", kz_encoding_name(rep->enc));
    if (rep->sibling) {
        body_of(r, rep->sibling);
        return KZ_DONE;
    }
    return serve_compressed(r, sc, e, rep->enc);
}

/* A regular file, opened: negotiation, preconditions, then the whole or a part of it. */
static int serve_file(kz_request_t *r, kz_root_t *root, kz_fcentry_t *e)
{
    const struct kz_static_conf *sc = settings(r);
    int get = r->method_num == KZ_M_GET, ranged, vary, rc;
    static_req_t q;
    rep_t rep = {KZ_ENC_IDENTITY, NULL, NULL, 0, NULL};

    scan_fields(&q, &r->head, r->pool);
    rep.type = file_type(r, sc, e, &vary);
    vary = vary && sc->compression;
    /* Ranges are of the plain file; HEAD ignores Range (RFC 9110 §14.2). */
    ranged = get && q.range != NULL;
    if (vary && q.accept_encoding && !ranged) {
        choose_encoding(r, sc, root, e, q.accept_encoding, &rep);
    }
    validators(r, sc, e, &rep, vary);
    rc = q.has_cond ? kz_cond_evaluate(&q.cond, 1, rep.etag, rep.mtime) : 0;
    if (rc == 304) {
        r->status = 304;
        return KZ_DONE;
    }
    if (rc != 0) {
        return rc;
    }
    if (ranged && kz_cond_if_range(q.cond.if_range, rep.etag, rep.mtime) &&
        (rc = serve_range(r, sc, e, &q, &rep)) != KZ_DECLINED) {
        return rc;
    }
    return serve_whole(r, sc, e, &rep);
}

int kz_static_handle(kz_request_t *r)
{
    kz_root_t *root;
    kz_fcentry_t *e;
    apr_status_t rv;
    int rc;

    if (!r->conf->wwwroot) {
        return KZ_DECLINED;
    }
    if (!(root = request_root(r))) {
        return 404;
    }
    if ((rv = cache_open(r, root, r->path + 1, &e)) != APR_SUCCESS) {
        return open_error(r, rv);
    }
    if (e->finfo.filetype == APR_DIR) {
        if (r->path[strlen(r->path) - 1] != '/') {
            if (settings(r)->slash_redirects) {
                return redirect_to_directory(r); /* see kz_static_slash_stage */
            }
            r->path = apr_pstrcat(r->pool, r->path, "/", NULL);
        }
        if ((rc = open_index(r, root, r->path + 1, &e)) != KZ_DECLINED) {
            return rc;
        }
    }
    if (e->finfo.filetype != APR_REG) {
        return 501; /* a device, a socket, a FIFO: as the original */
    }
    if (r->method_num != KZ_M_GET && r->method_num != KZ_M_HEAD) {
        kz_response_error(r, 405);
        kz_response_header(r, "Allow", "GET, HEAD, OPTIONS");
        return KZ_DONE;
    }
    return serve_file(r, root, e);
}
