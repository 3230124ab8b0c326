/*
 * Directory listings (enableDirectoryListing; karpacz-behaviour.md §4 "Listing"): an HTML5 page
 * with a table of name, size and modification date for a directory that has no index file,
 * directories first and then by name, dotfiles hidden, a link to the parent, and the text of the
 * directory's .maindesc file below the table, as the original appends it. Names are escaped for
 * HTML in text and percent-encoded (RFC 3986 §2.1) in links.
 *
 * The work is bounded: at most KZ_DIRLIST_MAX_SCAN entries are read, only the first
 * KZ_DIRLIST_MAX_ENTRIES of them in listing order are kept (a bounded max-heap, so memory does
 * not grow with the directory), and the rows are rendered and stat'ed a batch at a time while
 * the body streams, instead of building the whole page in memory.
 */
#include "dirlist.h"
#include "url.h"

#include <apr_strings.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_PER_PIECE 64  /* rows rendered per pulled piece of the body */
#define NAME_SLOT      256 /* a reused name buffer holds any name of up to NAME_SLOT-1 bytes */
#define HEAP_FIRST     64  /* the heap starts this big and doubles up to the maximum */

/* ---- formatting helpers ---------------------------------------------------------------- */

/* ASCII only, whatever the locale: the order must not change with the environment. */
static int fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int kz_dirlist_compare(const char *a, int a_is_dir, const char *b, int b_is_dir)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

    if (!a_is_dir != !b_is_dir) {
        return a_is_dir ? -1 : 1;
    }
    for (; *x && fold(*x) == fold(*y); x++, y++) {
    }
    if (fold(*x) != fold(*y)) {
        return fold(*x) - fold(*y);
    }
    return strcmp(a, b);
}

const char *kz_dirlist_size(apr_off_t size, apr_pool_t *p)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)size;
    int u = 0;

    if (size < 1024) {
        return apr_psprintf(p, "%" APR_OFF_T_FMT " B", size < 0 ? (apr_off_t)0 : size);
    }
    /* 1023.5 and up prints as 1024 in whole units, so it moves to the next unit instead. */
    while (u < 6 && v >= (u == 0 ? 1024.0 : 1023.5)) {
        v /= 1024.0;
        u++;
    }
    if (v < 9.95) {
        return apr_psprintf(p, "%.1f %s", v, units[u]);
    }
    return apr_psprintf(p, "%.0f %s", v, units[u]);
}

void kz_dirlist_date(char *out, apr_time_t t)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    apr_snprintf(out, 17, "%04d-%02d-%02d %02d:%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/*
 * The length of the well-formed UTF-8 sequence at s (RFC 3629 §4), or 0 when the bytes there are
 * not one; *cp receives the code point.
 */
static apr_size_t utf8_seq(const unsigned char *s, apr_size_t left, unsigned *cp)
{
    apr_size_t n;
    unsigned min;

    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2, min = 0x80, *cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3, min = 0x800, *cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4, min = 0x10000, *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > left) {
        return 0;
    }
    for (apr_size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

/* Appends n bytes at *w (when out is being written) and counts them. */
static void put(char **w, apr_size_t *len, const char *s, apr_size_t n)
{
    if (*w) {
        memcpy(*w, s, n);
        *w += n;
    }
    *len += n;
}

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* One pass of kz_dirlist_text: counts the output, and writes it when w is not NULL. */
static apr_size_t text_pass(char *w, const unsigned char *s, apr_size_t len, int multiline)
{
    apr_size_t out = 0, i = 0;

    while (i < len) {
        unsigned char c = s[i];
        unsigned cp = 0;
        apr_size_t n;

        if (multiline && (c == '\r' || c == '\n')) {
            i += c == '\r' && i + 1 < len && s[i + 1] == '\n' ? 2 : 1;
            put(&w, &out, "<br>\n", 5);
        } else if (multiline && c == '\t') {
            put(&w, &out, "\t", 1);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            put(&w, &out, REPLACEMENT, 3);
            i++;
        } else if (c < 0x80) {
            const char *e = kz_html_entity((char)c);
            put(&w, &out, e ? e : (const char *)&s[i], e ? strlen(e) : 1);
            i++;
        } else if ((n = utf8_seq(s + i, len - i, &cp)) == 0 || cp <= 0x9F) {
            put(&w, &out, REPLACEMENT, 3); /* not UTF-8, or a C1 control */
            i += n ? n : 1;
        } else {
            put(&w, &out, (const char *)&s[i], n);
            i += n;
        }
    }
    return out;
}

const char *kz_dirlist_text(const char *text, apr_size_t len, int multiline, apr_pool_t *p)
{
    const unsigned char *s = (const unsigned char *)text;
    apr_size_t n = text_pass(NULL, s, len, multiline);
    char *out = apr_palloc(p, n + 1);

    text_pass(out, s, len, multiline);
    out[n] = '\0';
    return out;
}

const char *kz_dirlist_href(const char *name, int is_dir, apr_pool_t *p)
{
    const char *enc = kz_html_escape(kz_url_encode_path(name, p), p);

    return apr_pstrcat(p, strchr(name, ':') ? "./" : "", enc, is_dir ? "/" : "", NULL);
}

/* ---- reading the directory ------------------------------------------------------------- */

typedef struct entry {
    char *name;
    apr_size_t cap; /* bytes name can hold, its NUL included */
    int is_dir;
} entry_t;

/* The entries kept: a max-heap (the last one to show on top) while reading, then sorted. */
typedef struct listing {
    entry_t *e;
    int n, alloc;
    apr_size_t total; /* visible entries seen */
    int incomplete;   /* reading stopped at KZ_DIRLIST_MAX_SCAN */
    apr_pool_t *pool;
} listing_t;

static int entry_cmp(const entry_t *a, const entry_t *b)
{
    return kz_dirlist_compare(a->name, a->is_dir, b->name, b->is_dir);
}

static int entry_qsort_cmp(const void *a, const void *b)
{
    return entry_cmp(a, b);
}

static void sift_down(entry_t *h, int n, int i)
{
    for (;;) {
        int big = i, l = 2 * i + 1, r = l + 1;
        entry_t t;

        if (l < n && entry_cmp(&h[l], &h[big]) > 0) {
            big = l;
        }
        if (r < n && entry_cmp(&h[r], &h[big]) > 0) {
            big = r;
        }
        if (big == i) {
            return;
        }
        t = h[i], h[i] = h[big], h[big] = t;
        i = big;
    }
}

static void sift_up(entry_t *h, int i)
{
    while (i > 0 && entry_cmp(&h[(i - 1) / 2], &h[i]) < 0) {
        entry_t t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Keeps the entry if it is among the first KZ_DIRLIST_MAX_ENTRIES seen so far. */
static void offer(listing_t *l, const char *name, int is_dir)
{
    apr_size_t len = strlen(name);
    entry_t cand = {(char *)name, 0, is_dir}, *slot;

    if (l->n == KZ_DIRLIST_MAX_ENTRIES) {
        if (entry_cmp(&cand, &l->e[0]) >= 0) {
            return;
        }
        slot = &l->e[0]; /* evict the last one; reuse its buffer when the name fits */
        if (len + 1 > slot->cap) {
            slot->cap = len + 1 > NAME_SLOT ? len + 1 : NAME_SLOT;
            slot->name = apr_palloc(l->pool, slot->cap);
        }
        memcpy(slot->name, name, len + 1);
        slot->is_dir = is_dir;
        sift_down(l->e, l->n, 0);
        return;
    }
    if (l->n == l->alloc) {
        int more = l->alloc ? 2 * l->alloc : HEAP_FIRST;
        entry_t *e;

        more = more < KZ_DIRLIST_MAX_ENTRIES ? more : KZ_DIRLIST_MAX_ENTRIES;
        e = apr_palloc(l->pool, (apr_size_t)more * sizeof(*e));
        if (l->n > 0) {
            memcpy(e, l->e, (apr_size_t)l->n * sizeof(*e));
        }
        l->e = e;
        l->alloc = more;
    }
    l->e[l->n] = (entry_t){apr_pstrmemdup(l->pool, name, len), len + 1, is_dir};
    sift_up(l->e, l->n++);
}

/*
 * Reads every entry but dotfiles. A symbolic link counts as what it points to, and is left out
 * when it dangles or leads outside the root (it could not be served anyway); so is an entry the
 * file system gives no type for and that cannot be stat'ed.
 */
static apr_status_t scan(listing_t *l, kz_dir_t *dir)
{
    apr_size_t seen = 0;
    const char *name;
    apr_filetype_e type;
    apr_finfo_t fi;
    apr_status_t rv;

    while ((rv = kz_dir_read(&name, &type, dir)) == APR_SUCCESS) {
        if (++seen > KZ_DIRLIST_MAX_SCAN) {
            l->incomplete = 1;
            break;
        }
        if (name[0] == '.') {
            continue;
        }
        if (type == APR_LNK || type == APR_UNKFILE) {
            if (kz_dir_stat(&fi, dir, name) != APR_SUCCESS) {
                continue;
            }
            type = fi.filetype;
        }
        l->total++;
        offer(l, name, type == APR_DIR);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    if (l->n > 1) {
        qsort(l->e, (apr_size_t)l->n, sizeof(*l->e), entry_qsort_cmp);
    }
    return APR_SUCCESS;
}

/* ---- the page -------------------------------------------------------------------------- */

static const char style[] =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1f2328;"
    "background:#fff;max-width:64em;margin:2em auto;padding:0 1em;line-height:1.4}\n"
    "h1{font-size:1.4em;font-weight:600;overflow-wrap:anywhere}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{padding:.35em .7em;text-align:left;border-bottom:1px solid #e5e7eb}\n"
    "th{font-weight:600;border-bottom:2px solid #d0d7de;background:#f6f8fa}\n"
    "td:first-child{overflow-wrap:anywhere}\n"
    ".size,.date{white-space:nowrap;font-variant-numeric:tabular-nums;color:#57606a}\n"
    ".size{text-align:right}\n"
    "tbody tr:hover{background:#f6f8fa}\n"
    "a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}\n"
    ".dir a{font-weight:600}\n"
    ".note,.maindesc{color:#57606a}\n"
    "hr{border:0;border-top:1px solid #d0d7de;margin:1.5em 0}\n";

/* Everything before the first row. */
static const char *page_head(const kz_request_t *r, apr_pool_t *p)
{
    const char *title = kz_dirlist_text(r->path, strlen(r->path), 0, p);
    int root = strcmp(r->path, "/") == 0;

    return apr_pstrcat(p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
                       "<title>Index of ", title, "</title>\n<style>\n", style,
                       "</style>\n</head>\n<body>\n", "<h1>Index of ", title,
                       "</h1>\n<table>\n<thead><tr><th>Name</th>",
                       "<th class=\"size\">Size</th><th class=\"date\">Modified "
                       "(UTC)</th></tr></thead>\n<tbody>\n",
                       root ? ""
                            : "<tr class=\"dir\"><td><a href=\"../\">Parent directory</a></td>"
                              "<td class=\"size\">-</td><td class=\"date\"></td></tr>\n",
                       NULL);
}

/* Everything after the last row: a note when rows were left out, then .maindesc. */
static const char *page_tail(const listing_t *l, const char *desc, apr_pool_t *p)
{
    const char *note = "";

    if (l->total == 0 && !l->incomplete) {
        note = "<tr><td colspan=\"3\">This directory is empty.</td></tr>\n";
    }
    note = apr_pstrcat(p, note, "</tbody>\n</table>\n", NULL);
    if (l->incomplete) {
        note = apr_psprintf(p,
                            "%s<p class=\"note\">This directory has more than %d entries: only "
                            "that many were read, and the first %d of them are shown.</p>\n",
                            note, KZ_DIRLIST_MAX_SCAN, l->n);
    } else if (l->total > (apr_size_t)l->n) {
        note = apr_psprintf(
            p, "%s<p class=\"note\">%" APR_SIZE_T_FMT " more entries are not shown.</p>\n", note,
            l->total - (apr_size_t)l->n);
    }
    return apr_pstrcat(p, note, desc ? "<hr>\n<p class=\"maindesc\">" : "", desc ? desc : "",
                       desc ? "</p>\n" : "", "</body>\n</html>\n", NULL);
}

/* One row; NULL when the entry went away since it was read. */
static const char *page_row(kz_dir_t *dir, const entry_t *e, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_status_t rv = kz_dir_stat(&fi, dir, e->name);
    const char *size = "-", *name = kz_dirlist_text(e->name, strlen(e->name), 0, p);
    char date[17] = "-";

    if (APR_STATUS_IS_ENOENT(rv) || rv == KZ_STATUS_ESCAPE) {
        return NULL;
    }
    if (rv == APR_SUCCESS) {
        kz_dirlist_date(date, fi.mtime);
        if (fi.filetype == APR_REG) {
            size = kz_dirlist_size(fi.size, p);
        }
    }
    return apr_pstrcat(p, e->is_dir ? "<tr class=\"dir\">" : "<tr>", "<td><a href=\"",
                       kz_dirlist_href(e->name, e->is_dir, p), "\">", name, e->is_dir ? "/" : "",
                       "</a></td><td class=\"size\">", size, "</td><td class=\"date\">", date,
                       "</td></tr>\n", NULL);
}

/* ---- streaming ------------------------------------------------------------------------- */

typedef struct stream {
    kz_dir_t *dir;
    listing_t list;
    int next;  /* the next entry to render */
    int stage; /* 0: the head next, 1: rows (then the tail), 2: done */
    const char *head, *tail;
    apr_pool_t *scratch; /* the piece handed out last; cleared at the next pull */
} stream_t;

static apr_status_t listing_pull(kz_request_t *r, void *baton, const char **data, apr_size_t *len)
{
    stream_t *s = baton;
    apr_array_header_t *rows;

    apr_pool_clear(s->scratch);
    if (s->stage == 0) {
        s->stage = 1;
        *data = s->head;
        *len = strlen(s->head);
        return APR_SUCCESS;
    }
    rows = apr_array_make(s->scratch, ROWS_PER_PIECE, sizeof(const char *));
    while (s->stage == 1 && s->next < s->list.n && rows->nelts < ROWS_PER_PIECE) {
        const char *row = page_row(s->dir, &s->list.e[s->next++], s->scratch);
        if (row) {
            APR_ARRAY_PUSH(rows, const char *) = row;
        }
    }
    if (rows->nelts > 0) {
        *data = apr_array_pstrcat(s->scratch, rows, 0);
        *len = strlen(*data);
        return APR_SUCCESS;
    }
    if (s->stage == 1) {
        s->stage = 2;
        *data = s->tail;
        *len = strlen(s->tail);
        return APR_SUCCESS;
    }
    return APR_EOF;
}

/* ---- serving --------------------------------------------------------------------------- */

/* Maps a failure to open the directory to a status, logging what the administrator should know. */
static int open_failed(kz_request_t *r, apr_status_t rv)
{
    kz_loop_t *loop = r->conn->loop;

    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        return 404; /* removed or replaced since the static handler looked */
    }
    if (rv == KZ_STATUS_ESCAPE) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 300,
                     "refused to list %s: it resolves outside wwwroot %s", r->path,
                     r->conf->wwwroot);
        return 403;
    }
    if (APR_STATUS_IS_EACCES(rv) || rv == APR_FROM_OS_ERROR(EPERM)) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 301,
                     "cannot list %s in %s: %pm", r->path, r->conf->wwwroot, &rv);
        return 403;
    }
    kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_ERR, 302, "cannot list %s in %s: %pm",
                 r->path, r->conf->wwwroot, &rv);
    return 500;
}

/* The .maindesc text as HTML, or NULL when there is none (or it cannot be read, or is empty). */
static const char *read_maindesc(kz_request_t *r, kz_root_t *root, const char *rel)
{
    kz_loop_t *loop = r->conn->loop;
    const char *out = NULL;
    apr_pool_t *tmp;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = 0;
    char *buf;
    apr_status_t rv;

    apr_pool_create(&tmp, r->pool);
    rv = kz_root_open_file(&f, &fi, root, apr_pstrcat(tmp, rel, ".maindesc", NULL),
                           r->conf->allow_symlinks_outside, tmp);
    if (rv == APR_SUCCESS && fi.filetype == APR_REG) {
        n = fi.size < KZ_DIRLIST_MAX_DESC ? (apr_size_t)fi.size : KZ_DIRLIST_MAX_DESC;
        buf = apr_palloc(tmp, n + 1);
        rv = apr_file_read_full(f, buf, n, &n);
        if (rv == APR_SUCCESS || rv == APR_EOF) {
            while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
                n--; /* a final line end would only leave an empty line under the text */
            }
            out = n ? kz_dirlist_text(buf, n, 1, r->pool) : NULL;
            rv = APR_SUCCESS;
        }
    }
    if (rv == KZ_STATUS_ESCAPE) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 303,
                     "ignored %s.maindesc: it resolves outside wwwroot %s", r->path,
                     r->conf->wwwroot);
    } else if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 306,
                     "cannot read %s.maindesc in %s: %pm", r->path, r->conf->wwwroot, &rv);
    }
    apr_pool_destroy(tmp);
    return out;
}

int kz_dirlist_serve(kz_request_t *r, kz_root_t *root, const char *rel)
{
    const kz_value_t *on = kz_conf_get(r->conf, "enableDirectoryListing");
    kz_loop_t *loop = r->conn->loop;
    stream_t *s;
    apr_status_t rv;

    if (!on || on->type != KZ_V_BOOL || !on->b) {
        return 403;
    }
    if (r->method_num != KZ_M_GET && r->method_num != KZ_M_HEAD) {
        kz_response_error(r, 405);
        kz_response_header(r, "Allow", "GET, HEAD, OPTIONS");
        return KZ_DONE;
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    apr_pool_create(&s->scratch, r->pool);
    if ((rv = kz_root_open_dir(&s->dir, root, rel, r->conf->allow_symlinks_outside, r->pool))) {
        return open_failed(r, rv);
    }
    s->list.pool = r->pool;
    /* HEAD: the headers of a listing, without reading the directory. */
    if (!r->head_only) {
        if ((rv = scan(&s->list, s->dir)) != APR_SUCCESS) {
            kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_ERR, 304,
                         "reading directory %s in %s failed: %pm", r->path, r->conf->wwwroot, &rv);
            return 500;
        }
        if (s->list.incomplete) {
            kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_NOTICE, 305,
                         "listing of %s in %s stopped after %d entries", r->path, r->conf->wwwroot,
                         KZ_DIRLIST_MAX_SCAN);
        }
        s->head = page_head(r, r->pool);
        s->tail = page_tail(&s->list, read_maindesc(r, root, rel), r->pool);
    } else {
        s->stage = 2; /* a HEAD answer has no body to produce */
    }
    r->status = 200;
    kz_response_header(r, "Content-Type", "text/html; charset=utf-8");
    kz_response_body_clear(r);
    kz_response_body_stream(r, listing_pull, s, -1);
    return KZ_DONE;
}
