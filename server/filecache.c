/*
 * The per-loop open-file cache of filecache.h. Each entry owns a small pool holding its
 * descriptor (closed by the pool's cleanup), its validators and, for small files, the content;
 * an entry may also remember that a probed file is absent. A hash per document root maps
 * relative paths to entries; an LRU list bounds their number and the bytes of content held.
 */
#include "filecache.h"
#include "log.h"

#include <apr_hash.h>
#include <apr_strings.h>

#define KZ_FC_REVALIDATE apr_time_from_sec(1)

struct kz_filecache {
    apr_pool_t *pool;
    apr_hash_t *roots; /* cache_key() → apr_hash_t * (rel → entry) */
    kz_fcentry_t *head, *tail;
    int count, max_entries;
    apr_size_t content, max_content, max_file_content;
};

kz_filecache_t *kz_filecache_create(int max_entries, apr_size_t max_content,
                                    apr_size_t max_file_content, apr_pool_t *p)
{
    kz_filecache_t *fc = apr_pcalloc(p, sizeof(*fc));

    fc->pool = p;
    fc->roots = apr_hash_make(p);
    fc->max_entries = max_entries;
    fc->max_content = max_content;
    fc->max_file_content = max_file_content;
    return fc;
}

static void lru_unlink(kz_filecache_t *fc, kz_fcentry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        fc->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        fc->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void lru_push_front(kz_filecache_t *fc, kz_fcentry_t *e)
{
    e->prev = NULL;
    e->next = fc->head;
    if (fc->head) {
        fc->head->prev = e;
    }
    fc->head = e;
    if (!fc->tail) {
        fc->tail = e;
    }
}

static void entry_destroy(kz_fcentry_t *e)
{
    apr_pool_destroy(e->pool); /* closes the descriptor */
}

/* Takes an entry out of the cache; it is destroyed now or when its last request ends. */
static void entry_remove(kz_filecache_t *fc, kz_fcentry_t *e)
{
    apr_hash_t *files = apr_hash_get(fc->roots, &e->root_id, sizeof(e->root_id));

    if (files) {
        apr_hash_set(files, e->key, APR_HASH_KEY_STRING, NULL);
    }
    lru_unlink(fc, e);
    fc->count--;
    if (e->content) {
        fc->content -= (apr_size_t)e->finfo.size;
    }
    e->stale = 1;
    if (e->refs == 0) {
        entry_destroy(e);
    }
}

static apr_status_t entry_unref(void *data)
{
    kz_fcentry_t *e = data;

    if (--e->refs == 0 && e->stale) {
        entry_destroy(e);
    }
    return APR_SUCCESS;
}

/* Reads a small file whole, within the cache's budget. */
static void entry_load_content(kz_filecache_t *fc, kz_fcentry_t *e)
{
    apr_size_t size = (apr_size_t)e->finfo.size, got = 0;
    char *buf;

    if (e->finfo.filetype != APR_REG || size > fc->max_file_content ||
        fc->content + size > fc->max_content) {
        return;
    }
    buf = apr_palloc(e->pool, size + 1);
    if (size > 0 && (apr_file_read_full(e->file, buf, size, &got) != APR_SUCCESS || got != size)) {
        return;
    }
    e->content = buf;
    fc->content += size;
}

/* Entries opened with and without allowSymlinksOutsideWwwroot never mix: a host that allows
 * escaping links must not fill the cache for one that forbids them. */
static apr_uint32_t cache_key(const kz_root_t *root, int allow_escape)
{
    return (kz_root_id(root) << 1) | (allow_escape ? 1u : 0u);
}

static kz_fcentry_t *entry_alloc(kz_filecache_t *fc, kz_root_t *root, const char *rel,
                                 int allow_escape)
{
    apr_pool_t *p;
    kz_fcentry_t *e;

    apr_pool_create(&p, fc->pool);
    e = apr_pcalloc(p, sizeof(*e));
    e->pool = p;
    e->cache = fc;
    e->root_id = cache_key(root, allow_escape);
    e->key = apr_pstrdup(p, rel);
    return e;
}

/* The strong validators: the modification time (in microseconds) and the size identify a
 * version of the file, as nginx's ETag does; the inode is left out so that servers sharing
 * the files give the same tag. */
static void entry_validators(kz_fcentry_t *e)
{
    char *date = apr_palloc(e->pool, 32);

    e->etag = apr_psprintf(e->pool, "\"%" APR_UINT64_T_HEX_FMT "-%" APR_UINT64_T_HEX_FMT "\"",
                           (apr_uint64_t)e->finfo.mtime, (apr_uint64_t)e->finfo.size);
    kz_http_date(date, e->finfo.mtime);
    e->last_modified = date;
}

static apr_status_t entry_create(kz_fcentry_t **out, kz_filecache_t *fc, kz_root_t *root,
                                 const char *rel, int allow_escape)
{
    kz_fcentry_t *e = entry_alloc(fc, root, rel, allow_escape);
    apr_status_t rv = kz_root_open_file(&e->file, &e->finfo, root, rel, allow_escape, e->pool);

    if (rv != APR_SUCCESS) {
        apr_pool_destroy(e->pool);
        return rv;
    }
    if (e->finfo.filetype != APR_REG) {
        apr_file_close(e->file);
        e->file = NULL;
    } else {
        entry_validators(e);
    }
    *out = e;
    return APR_SUCCESS;
}

static int same_file(const kz_fcentry_t *a, const kz_fcentry_t *b)
{
    return a->finfo.filetype == b->finfo.filetype && a->finfo.inode == b->finfo.inode &&
           a->finfo.device == b->finfo.device && a->finfo.size == b->finfo.size &&
           a->finfo.mtime == b->finfo.mtime;
}

static void cache_insert(kz_filecache_t *fc, kz_fcentry_t *e, apr_time_t now)
{
    apr_hash_t *files = apr_hash_get(fc->roots, &e->root_id, sizeof(e->root_id));

    while (fc->count >= fc->max_entries && fc->tail) {
        entry_remove(fc, fc->tail);
    }
    if (!files) {
        files = apr_hash_make(fc->pool);
        apr_uint32_t *key = apr_palloc(fc->pool, sizeof(*key));
        *key = e->root_id;
        apr_hash_set(fc->roots, key, sizeof(*key), files);
    }
    entry_load_content(fc, e);
    e->checked = now;
    apr_hash_set(files, e->key, APR_HASH_KEY_STRING, e);
    lru_push_front(fc, e);
    fc->count++;
}

static void lru_touch(kz_filecache_t *fc, kz_fcentry_t *e)
{
    if (fc->head != e) {
        lru_unlink(fc, e);
        lru_push_front(fc, e);
    }
}

/* A missing file while probing: the entry that remembers it, kept for a second. */
static void remember_absent(kz_filecache_t *fc, kz_fcentry_t *e, kz_root_t *root, const char *rel,
                            int allow_escape, apr_time_t now)
{
    if (e && e->absent) {
        e->checked = now;
        lru_touch(fc, e);
        return;
    }
    if (e) {
        entry_remove(fc, e);
    }
    e = entry_alloc(fc, root, rel, allow_escape);
    e->absent = 1;
    cache_insert(fc, e, now);
}

/* Finds or (re)creates the entry for rel; remembers absent files only when probing. */
static apr_status_t lookup(kz_fcentry_t **out, kz_filecache_t *fc, kz_root_t *root, const char *rel,
                           int allow_escape, apr_time_t now, int probe)
{
    apr_uint32_t id = cache_key(root, allow_escape);
    apr_hash_t *files = apr_hash_get(fc->roots, &id, sizeof(id));
    kz_fcentry_t *e = files ? apr_hash_get(files, rel, APR_HASH_KEY_STRING) : NULL;
    kz_fcentry_t *fresh;
    apr_status_t rv;

    if (e && now - e->checked < KZ_FC_REVALIDATE && (probe || !e->absent)) {
        lru_touch(fc, e);
        *out = e;
        return e->absent ? APR_ENOENT : APR_SUCCESS;
    }
    rv = entry_create(&fresh, fc, root, rel, allow_escape);
    if (rv != APR_SUCCESS) {
        if ((APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) &&
            (probe || (e && e->absent))) {
            remember_absent(fc, e, root, rel, allow_escape, now);
            return rv;
        }
        if (e) {
            entry_remove(fc, e);
        }
        return rv;
    }
    if (e && same_file(e, fresh)) {
        entry_destroy(fresh);
        e->checked = now;
    } else {
        if (e) {
            entry_remove(fc, e);
        }
        cache_insert(fc, fresh, now);
        e = fresh;
    }
    *out = e;
    return APR_SUCCESS;
}

static apr_status_t open_ref(kz_fcentry_t **entry, kz_filecache_t *fc, kz_root_t *root,
                             const char *rel, int allow_escape, apr_time_t now, apr_pool_t *pool,
                             int probe)
{
    kz_fcentry_t *e;
    apr_status_t rv = lookup(&e, fc, root, rel, allow_escape, now, probe);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    e->refs++;
    apr_pool_cleanup_register(pool, e, entry_unref, apr_pool_cleanup_null);
    *entry = e;
    return APR_SUCCESS;
}

apr_status_t kz_filecache_open(kz_fcentry_t **entry, kz_filecache_t *fc, kz_root_t *root,
                               const char *rel, int allow_escape, apr_time_t now, apr_pool_t *pool)
{
    return open_ref(entry, fc, root, rel, allow_escape, now, pool, 0);
}

apr_status_t kz_filecache_probe(kz_fcentry_t **entry, kz_filecache_t *fc, kz_root_t *root,
                                const char *rel, int allow_escape, apr_time_t now, apr_pool_t *pool)
{
    return open_ref(entry, fc, root, rel, allow_escape, now, pool, 1);
}

apr_status_t kz_filecache_type(apr_filetype_e *type, kz_filecache_t *fc, kz_root_t *root,
                               const char *rel, int allow_escape, apr_time_t now)
{
    kz_fcentry_t *e;
    apr_status_t rv = lookup(&e, fc, root, rel, allow_escape, now, 0);

    *type = rv == APR_SUCCESS ? e->finfo.filetype : APR_NOFILE;
    return rv;
}
