/*
 * The configuration loader (karpacz-behaviour.md §1): reads the YAML files (the main one and
 * what its `include` globs name), checks every key against the property registry, merges the
 * scopes as the original does (a scalar replaces, lists concatenate global first, maps merge
 * key by key) and compiles each host and location into a kz_conf_t once, so that selecting the
 * configuration of a request (kz_config_select) allocates nothing.
 */
#include "config.h"
#include "stages.h"
#include "kz_os.h"
#include "module.h"

#include <apr_allocator.h>
#include <apr_fnmatch.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define KZ_INCLUDE_MAX_DEPTH 16
#define KZ_CONFIG_MAX_SIZE   (16 * 1024 * 1024)

typedef struct loader {
    apr_pool_t *pool; /* the configuration's */
    kz_diag_t *diag;
    apr_array_header_t *chain;   /* const char *: absolute paths of the files being read */
    kz_value_t *global;          /* the merged `global` map */
    apr_array_header_t *globals; /* kz_value_t *: every file's `global` map, not validated yet */
    apr_array_header_t *hosts;   /* kz_value_t *, every file's hosts in order */
    apr_array_header_t *modules; /* const kz_module_t *: loadModules, loaded, in order */
} loader_t;

static apr_status_t load_text(loader_t *ld, const char *name, const char *text, apr_size_t len);

/* ---- diagnostics ----------------------------------------------------------------------- */

static void report(loader_t *ld, int error, const char *file, int line, int col, const char *prop,
                   const char *fmt, ...)
{
    apr_array_header_t *arr = error ? ld->diag->errors : ld->diag->warnings;
    const char *kind = error ? "error" : "warning";
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(arr->pool, fmt, ap);
    va_end(ap);
    if (prop) {
        msg = apr_psprintf(arr->pool, "%s:%d:%d: %s: property '%s': %s", file, line, col, kind,
                           prop, msg);
    } else {
        msg = apr_psprintf(arr->pool, "%s:%d:%d: %s: %s", file, line, col, kind, msg);
    }
    APR_ARRAY_PUSH(arr, const char *) = msg;
}

#define REPORT_AT(ld, err, v, prop, ...)                                                           \
    report(ld, err, (v)->file, (v)->line, (v)->col, prop, __VA_ARGS__)
#define REPORT_KEY(ld, err, v, pair, ...)                                                          \
    report(ld, err, (v)->file, (pair)->line, (pair)->col, (pair)->key, __VA_ARGS__)

/* ---- value helpers --------------------------------------------------------------------- */

kz_value_t *kz_value_map_get(const kz_value_t *map, const char *key)
{
    if (!map || map->type != KZ_V_MAP) {
        return NULL;
    }
    for (int i = 0; i < map->items->nelts; i++) {
        kz_pair_t *pair = &APR_ARRAY_IDX(map->items, i, kz_pair_t);
        if (!strcmp(pair->key, key)) {
            return pair->value;
        }
    }
    return NULL;
}

static kz_value_t *new_container(apr_pool_t *p, kz_vtype_e type, const kz_value_t *where)
{
    kz_value_t *v = apr_pcalloc(p, sizeof(*v));

    v->type = type;
    v->file = where->file;
    v->line = where->line;
    v->col = where->col;
    v->text = "";
    v->items = apr_array_make(p, 4, type == KZ_V_MAP ? sizeof(kz_pair_t) : sizeof(kz_value_t *));
    return v;
}

/* The directory part of a file name, or NULL for the working directory. */
static const char *dir_of(const char *file, apr_pool_t *p)
{
    const char *slash = strrchr(file, '/');

    if (!slash) {
        return NULL;
    }
    return slash == file ? "/" : apr_pstrmemdup(p, file, slash - file);
}

/* An absolute path without a trailing '/', relative paths taken from the value's file. */
const char *kz_value_path(const kz_value_t *v, apr_pool_t *p)
{
    char *dir = NULL;
    char *path;
    apr_size_t len;

    if (apr_filepath_merge(&dir, NULL, dir_of(v->file, p) ? dir_of(v->file, p) : ".", 0, p) ||
        apr_filepath_merge(&path, dir, v->text, 0, p)) {
        return v->text;
    }
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/') {
        path[--len] = '\0';
    }
    return path;
}

/* ---- merging --------------------------------------------------------------------------- */

static kz_value_t *merge_maps(apr_pool_t *p, const kz_value_t *base, const kz_value_t *over,
                              int depth, const char *skip);

/* A scalar replaces, lists concatenate (base first), maps merge key by key one level down. */
static kz_value_t *combine(apr_pool_t *p, kz_value_t *base, kz_value_t *over, int depth)
{
    if (base->type == KZ_V_LIST && over->type == KZ_V_LIST) {
        kz_value_t *v = new_container(p, KZ_V_LIST, over);
        apr_array_cat(v->items, base->items);
        apr_array_cat(v->items, over->items);
        return v;
    }
    if (base->type == KZ_V_MAP && over->type == KZ_V_MAP && depth == 0) {
        return merge_maps(p, base, over, depth + 1, NULL);
    }
    return over;
}

/* A new map: base's keys, then over's new keys; a key in both combines (over wins). */
static kz_value_t *merge_maps(apr_pool_t *p, const kz_value_t *base, const kz_value_t *over,
                              int depth, const char *skip)
{
    kz_value_t *v = new_container(p, KZ_V_MAP, over);
    apr_hash_t *index = apr_hash_make(p);

    for (int pass = 0; pass < 2; pass++) {
        const kz_value_t *src = pass ? over : base;
        for (int i = 0; i < src->items->nelts; i++) {
            const kz_pair_t *pair = &APR_ARRAY_IDX(src->items, i, kz_pair_t);
            int *at;

            if (skip && !strcmp(pair->key, skip)) {
                continue;
            }
            at = apr_hash_get(index, pair->key, APR_HASH_KEY_STRING);
            if (at) {
                kz_pair_t *old = &APR_ARRAY_IDX(v->items, *at, kz_pair_t);
                old->value = combine(p, old->value, pair->value, depth);
                continue;
            }
            at = apr_palloc(p, sizeof(*at));
            *at = v->items->nelts;
            APR_ARRAY_PUSH(v->items, kz_pair_t) = *pair;
            apr_hash_set(index, pair->key, APR_HASH_KEY_STRING, at);
        }
    }
    return v;
}

/* ---- validation ------------------------------------------------------------------------ */

static const char *scope_names(unsigned scopes, apr_pool_t *p)
{
    static const char *const names[] = {"'global'", "'hosts'", "'locations'", "'errorConfig'"};
    const char *out = NULL;
    int n = 0;

    for (int i = 0; i < 4; i++) {
        if (scopes & (1u << i)) {
            n++;
        }
    }
    for (int i = 0, k = 0; i < 4; i++) {
        if (scopes & (1u << i)) {
            const char *sep = !out ? "" : (++k == n - 1 ? " and " : ", ");
            out = apr_pstrcat(p, out ? out : "", sep, names[i], NULL);
        }
    }
    return out ? out : "nowhere";
}

static void validate_map(loader_t *ld, kz_value_t *map, unsigned scope);

/* `locations` and `errorConfig`: lists of maps, each validated in its own scope. */
static void validate_sublist(loader_t *ld, const kz_pair_t *pair, unsigned scope)
{
    const apr_array_header_t *items = pair->value->items;

    for (int i = 0; i < items->nelts; i++) {
        kz_value_t *item = APR_ARRAY_IDX(items, i, kz_value_t *);

        validate_map(ld, item, scope);
        if (scope == KZ_SCOPE_LOCATION && !kz_value_map_get(item, "path")) {
            REPORT_AT(ld, 1, item, NULL, "a location needs 'path'");
        }
    }
}

/* After a valid value: a single string of a list property becomes a list of one. */
static void normalize(loader_t *ld, const kz_property_t *prop, kz_pair_t *pair)
{
    if (prop->type == KZ_PT_STRING_LIST && pair->value->type != KZ_V_LIST) {
        kz_value_t *list = new_container(ld->pool, KZ_V_LIST, pair->value);
        APR_ARRAY_PUSH(list->items, kz_value_t *) = pair->value;
        pair->value = list;
    }
}

static int lists_module(const loader_t *ld, const char *name)
{
    for (int i = 0; i < ld->modules->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(ld->modules, i, const kz_module_t *)->name, name)) {
            return 1;
        }
    }
    return 0;
}

/* Warnings for what is valid but does nothing: a module's property when the module is not in
 * loadModules, and properties of features this build does not have yet. */
static void warn_unsupported(loader_t *ld, const kz_property_t *prop, const kz_value_t *map,
                             const kz_pair_t *pair)
{
    if (!strcmp(prop->owner, "core") || lists_module(ld, prop->owner)) {
        return;
    }
    if (kz_module_find(prop->owner) && !kz_module_is_planned(prop->owner)) {
        REPORT_KEY(ld, 0, map, pair,
                   "belongs to module '%s', which loadModules does not list; ignored", prop->owner);
    } else {
        REPORT_KEY(ld, 0, map, pair, "not supported by this build yet; ignored");
    }
}

static void validate_pair(loader_t *ld, kz_value_t *map, kz_pair_t *pair, unsigned scope)
{
    const kz_property_t *prop = kz_property_find(pair->key);
    const kz_value_t *at;
    const char *msg;

    if (!prop) {
        REPORT_KEY(ld, 0, map, pair, "unknown property");
        return;
    }
    if (!(prop->scopes & scope)) {
        REPORT_KEY(ld, 1, map, pair, "only allowed in %s", scope_names(prop->scopes, ld->pool));
        return;
    }
    if ((msg = kz_property_validate(prop, pair->value, &at, ld->pool)) != NULL) {
        REPORT_AT(ld, 1, at, pair->key, "%s", msg);
        return;
    }
    normalize(ld, prop, pair);
    warn_unsupported(ld, prop, map, pair);
    if (!strcmp(pair->key, "locations")) {
        validate_sublist(ld, pair, KZ_SCOPE_LOCATION);
    } else if (!strcmp(pair->key, "errorConfig")) {
        validate_sublist(ld, pair, KZ_SCOPE_ERROR);
    }
}

static void validate_map(loader_t *ld, kz_value_t *map, unsigned scope)
{
    for (int i = 0; i < map->items->nelts; i++) {
        validate_pair(ld, map, &APR_ARRAY_IDX(map->items, i, kz_pair_t), scope);
    }
}

static void validate_hosts(loader_t *ld, kz_value_t *hosts)
{
    if (hosts->type == KZ_V_NULL) {
        return;
    }
    if (hosts->type != KZ_V_LIST) {
        REPORT_AT(ld, 1, hosts, NULL, "'hosts' must be a list of maps");
        return;
    }
    for (int i = 0; i < hosts->items->nelts; i++) {
        kz_value_t *host = APR_ARRAY_IDX(hosts->items, i, kz_value_t *);

        if (host->type != KZ_V_MAP) {
            REPORT_AT(ld, 1, host, NULL, "a host must be a map");
            continue;
        }
        APR_ARRAY_PUSH(ld->hosts, kz_value_t *) = host;
    }
}

static void add_global(loader_t *ld, kz_value_t *global)
{
    if (global->type == KZ_V_NULL) {
        return;
    }
    if (global->type != KZ_V_MAP) {
        REPORT_AT(ld, 1, global, NULL, "'global' must be a map");
        return;
    }
    APR_ARRAY_PUSH(ld->globals, kz_value_t *) = global;
}

/*
 * Properties are validated once every file is read and the modules of loadModules are loaded,
 * since a module's properties are known only then: globals in file order (merged as they go),
 * then hosts.
 */
static void validate_all(loader_t *ld)
{
    for (int i = 0; i < ld->globals->nelts; i++) {
        kz_value_t *global = APR_ARRAY_IDX(ld->globals, i, kz_value_t *);

        validate_map(ld, global, KZ_SCOPE_GLOBAL);
        ld->global = ld->global ? merge_maps(ld->pool, ld->global, global, 0, NULL) : global;
    }
    for (int i = 0; i < ld->hosts->nelts; i++) {
        kz_value_t *host = APR_ARRAY_IDX(ld->hosts, i, kz_value_t *);

        validate_map(ld, host, KZ_SCOPE_HOST);
        if (!kz_value_map_get(host, "domain") && !kz_value_map_get(host, "ip")) {
            REPORT_AT(ld, 1, host, NULL, "a host needs 'domain' or 'ip'");
        }
    }
}

/* One loadModules entry: a planned built-in (warning), or a module to load (error if it fails). */
static void load_module(loader_t *ld, const kz_value_t *item, const char *dir)
{
    const kz_module_t *m;
    const char *err;

    for (int i = 0; i < ld->modules->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(ld->modules, i, const kz_module_t *)->name, item->text)) {
            return; /* listed twice: the property check reports it */
        }
    }
    if (kz_module_is_planned(item->text)) {
        REPORT_AT(ld, 0, item, "loadModules", "module '%s' is not available in this build yet",
                  item->text);
    } else if ((err = kz_module_load(&m, item->text, dir, ld->pool)) != NULL) {
        REPORT_AT(ld, 1, item, "loadModules", "%s", err);
    } else {
        APR_ARRAY_PUSH(ld->modules, const kz_module_t *) = m;
    }
}

/* Loads what loadModules names (from every file's global, in order), so that validation knows
 * the modules' properties. Malformed values are left to validation to report. */
static void load_modules(loader_t *ld)
{
    const char *dir = NULL;

    for (int i = 0; i < ld->globals->nelts; i++) {
        const kz_value_t *v =
            kz_value_map_get(APR_ARRAY_IDX(ld->globals, i, kz_value_t *), "moduleDirectory");
        if (v && v->type == KZ_V_STR && *v->text) {
            dir = kz_value_path(v, ld->pool);
        }
    }
    for (int i = 0; i < ld->globals->nelts; i++) {
        const kz_value_t *v =
            kz_value_map_get(APR_ARRAY_IDX(ld->globals, i, kz_value_t *), "loadModules");
        int n = v && v->type == KZ_V_LIST ? v->items->nelts : 1;

        for (int k = 0; v && k < n; k++) {
            const kz_value_t *item =
                v->type == KZ_V_LIST ? APR_ARRAY_IDX(v->items, k, kz_value_t *) : v;
            if (item->type == KZ_V_STR && kz_property_validate(kz_property_find("loadModules"),
                                                               item, &item, ld->pool) == NULL) {
                load_module(ld, item, dir);
            }
        }
    }
}

/* ---- files and include ----------------------------------------------------------------- */

/* The whole file into p; its size is bounded so a wrong path (a device, a log) cannot hurt. */
static apr_status_t read_file(loader_t *ld, const char *path, const kz_value_t *from, char **text,
                              apr_size_t *len, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char buf[256];
    const char *why = NULL;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_FPROT_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    }
    if (rv == APR_SUCCESS && fi.size > KZ_CONFIG_MAX_SIZE) {
        why = "larger than 16 MiB";
    } else if (rv == APR_SUCCESS) {
        *len = (apr_size_t)fi.size;
        *text = apr_palloc(p, *len + 1);
        rv = *len ? apr_file_read_full(f, *text, *len, len) : APR_SUCCESS;
        (*text)[*len] = '\0';
    }
    if (rv == APR_SUCCESS && !why) {
        apr_file_close(f);
        return APR_SUCCESS;
    }
    why = why ? why : apr_strerror(rv, buf, sizeof(buf));
    if (from) {
        REPORT_AT(ld, 1, from, NULL, "cannot read '%s': %s", path, why);
    } else {
        APR_ARRAY_PUSH(ld->diag->errors, const char *) =
            apr_psprintf(ld->diag->errors->pool, "%s: error: cannot read: %s", path, why);
    }
    return APR_EINVAL;
}

/* Reads an included (from != NULL) or the main file, refusing cycles and deep nesting. */
static apr_status_t load_file(loader_t *ld, const char *path, const kz_value_t *from)
{
    char *abs = NULL;
    char *text;
    apr_size_t len;
    apr_pool_t *scratch;
    apr_status_t rv;

    apr_filepath_merge(&abs, NULL, path, 0, ld->pool);
    for (int i = 0; from && abs && i < ld->chain->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(ld->chain, i, const char *), abs)) {
            REPORT_AT(ld, 1, from, NULL, "include cycle: '%s' is already being read", path);
            return APR_EINVAL;
        }
    }
    if (from && ld->chain->nelts >= KZ_INCLUDE_MAX_DEPTH) {
        REPORT_AT(ld, 1, from, NULL, "include nesting deeper than %d files", KZ_INCLUDE_MAX_DEPTH);
        return APR_EINVAL;
    }
    /* The text is only needed while parsing: the values copy what they keep. */
    apr_pool_create(&scratch, ld->pool);
    rv = read_file(ld, path, from, &text, &len, scratch);
    if (rv == APR_SUCCESS) {
        APR_ARRAY_PUSH(ld->chain, const char *) = abs ? abs : path;
        rv = load_text(ld, path, text, len);
        apr_array_pop(ld->chain);
    }
    apr_pool_destroy(scratch);
    return rv;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Regular files matching a glob; like a shell, '*' does not match a leading '.'. */
static apr_array_header_t *glob_files(loader_t *ld, const char *pattern)
{
    apr_array_header_t *names, *files = apr_array_make(ld->pool, 4, sizeof(const char *));
    const char *dir = dir_of(pattern, ld->pool);
    const char *base = dir ? strrchr(pattern, '/') + 1 : pattern;

    if (apr_match_glob(pattern, &names, ld->pool) != APR_SUCCESS) {
        return files;
    }
    qsort(names->elts, names->nelts, sizeof(const char *), cmp_names);
    for (int i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *path = dir ? apr_pstrcat(ld->pool, dir, "/", name, NULL) : name;
        apr_finfo_t fi;

        if ((name[0] == '.' && base[0] != '.') || !strcmp(name, ".") || !strcmp(name, "..")) {
            continue;
        }
        if (apr_stat(&fi, path, APR_FINFO_TYPE, ld->pool) == APR_SUCCESS &&
            fi.filetype == APR_REG) {
            APR_ARRAY_PUSH(files, const char *) = path;
        }
    }
    return files;
}

static int is_absolute(const char *path, apr_pool_t *p)
{
    const char *root;

    return apr_filepath_root(&root, &path, 0, p) == APR_SUCCESS;
}

static void include_one(loader_t *ld, const char *from_file, const kz_value_t *glob)
{
    const char *dir = dir_of(from_file, ld->pool);
    const char *pattern = glob->text;
    apr_array_header_t *files;

    if (dir && !is_absolute(pattern, ld->pool)) {
        pattern = apr_pstrcat(ld->pool, dir, "/", pattern, NULL);
    }
    files = glob_files(ld, pattern);
    if (files->nelts == 0) {
        REPORT_AT(ld, 0, glob, NULL, "include '%s' matches no file", glob->text);
    }
    for (int i = 0; i < files->nelts; i++) {
        load_file(ld, APR_ARRAY_IDX(files, i, const char *), glob);
    }
}

static void process_include(loader_t *ld, const char *file, const kz_value_t *incl)
{
    int n = incl->type == KZ_V_LIST ? incl->items->nelts : 1;

    if (incl->type == KZ_V_NULL) {
        return;
    }
    for (int i = 0; i < n; i++) {
        const kz_value_t *g =
            incl->type == KZ_V_LIST ? APR_ARRAY_IDX(incl->items, i, kz_value_t *) : incl;
        if (g->type != KZ_V_STR || !*g->text) {
            REPORT_AT(ld, 1, g, NULL, "include: expected a glob string, got %s",
                      g->type == KZ_V_LIST  ? "a list"
                      : g->type == KZ_V_MAP ? "a map"
                                            : g->text);
            continue;
        }
        include_one(ld, file, g);
    }
}

/* One file's top level: global, hosts, include (read after this file's own hosts). */
static void process_document(loader_t *ld, const char *file, kz_value_t *root)
{
    const kz_value_t *incl = NULL;

    if (root->type == KZ_V_NULL) {
        return;
    }
    if (root->type != KZ_V_MAP) {
        REPORT_AT(ld, 1, root, NULL, "the top level must be a map");
        return;
    }
    for (int i = 0; i < root->items->nelts; i++) {
        kz_pair_t *pair = &APR_ARRAY_IDX(root->items, i, kz_pair_t);

        if (!strcmp(pair->key, "global")) {
            add_global(ld, pair->value);
        } else if (!strcmp(pair->key, "hosts")) {
            validate_hosts(ld, pair->value);
        } else if (!strcmp(pair->key, "include")) {
            incl = pair->value;
        } else {
            report(ld, 0, file, pair->line, pair->col, NULL, "unknown top-level key '%s'",
                   pair->key);
        }
    }
    if (incl) {
        process_include(ld, file, incl);
    }
}

static apr_status_t load_text(loader_t *ld, const char *name, const char *text, apr_size_t len)
{
    kz_value_t *root;

    if (kz_yaml_parse(&root, ld->diag, name, text, len, ld->pool) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    process_document(ld, name, root);
    return APR_SUCCESS;
}

/* ---- compiling ------------------------------------------------------------------------- */

static const kz_value_t *prop_value(apr_hash_t *props, const char *name)
{
    return apr_hash_get(props, name, APR_HASH_KEY_STRING);
}

/* Defaults come from the registry, so the table printed by `karpacz -p` is the one applied. */
static apr_int64_t int_value(apr_hash_t *props, const char *name)
{
    const kz_value_t *v = prop_value(props, name);
    const kz_property_t *prop;

    if (v && (v->type == KZ_V_INT || v->type == KZ_V_NULL)) {
        return v->type == KZ_V_INT ? v->i : 0;
    }
    prop = kz_property_find(name);
    return prop && prop->def[0] != '-' ? apr_atoi64(prop->def) : 0;
}

static int bool_value(apr_hash_t *props, const char *name)
{
    const kz_value_t *v = prop_value(props, name);
    const kz_property_t *prop;

    if (v && v->type == KZ_V_BOOL) {
        return v->b;
    }
    prop = kz_property_find(name);
    return prop && !strcmp(prop->def, "true");
}

static const char *str_value(apr_hash_t *props, const char *name)
{
    const kz_value_t *v = prop_value(props, name);
    const kz_property_t *prop;

    if (v && v->type != KZ_V_NULL && v->type != KZ_V_LIST && v->type != KZ_V_MAP) {
        return v->text;
    }
    prop = kz_property_find(name);
    return prop && strcmp(prop->def, "-") != 0 ? prop->def : NULL;
}

static const char *path_value(apr_hash_t *props, const char *name, apr_pool_t *p)
{
    const kz_value_t *v = prop_value(props, name);

    return v && v->type == KZ_V_STR ? kz_value_path(v, p) : NULL;
}

static kz_conf_t *conf_compile(const kz_config_t *cfg, apr_pool_t *p, const kz_value_t *map);

/*
 * errorConfig: each entry merged on top of the scope it appears in (without errorConfig itself)
 * into a configuration of its own, used when a request in that scope ends in the entry's status.
 */
static void error_confs_compile(const kz_config_t *cfg, kz_conf_t *c, const kz_value_t *map,
                                apr_pool_t *p)
{
    const kz_value_t *list = prop_value(c->props, "errorConfig");
    kz_value_t *base;

    if (!list || list->type != KZ_V_LIST) {
        return;
    }
    base = new_container(p, KZ_V_MAP, map);
    for (int i = 0; i < map->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(map->items, i, kz_pair_t);
        if (strcmp(pair->key, "errorConfig") != 0) {
            APR_ARRAY_PUSH(base->items, kz_pair_t) = *pair;
        }
    }
    c->error_confs = apr_array_make(p, list->items->nelts, sizeof(kz_error_conf_t));
    for (int i = 0; i < list->items->nelts; i++) {
        const kz_value_t *entry = APR_ARRAY_IDX(list->items, i, kz_value_t *);
        const kz_value_t *scode = kz_value_map_get(entry, "scode");
        kz_error_conf_t *ec = apr_array_push(c->error_confs);

        ec->scode = scode && scode->type == KZ_V_INT ? (int)scode->i : 0;
        ec->conf = conf_compile(cfg, p, merge_maps(p, base, entry, 0, NULL));
    }
}

/* What each loaded module's create_conf() makes of this scope. */
static void module_confs_compile(const kz_config_t *cfg, kz_conf_t *c, apr_pool_t *p)
{
    int n = kz_module_count();

    c->module_confs = apr_pcalloc(p, (apr_size_t)(n > 0 ? n : 1) * sizeof(void *));
    c->nmodule_confs = n;
    for (int i = 0; cfg->modules && i < cfg->modules->nelts; i++) {
        const kz_module_t *m = APR_ARRAY_IDX(cfg->modules, i, const kz_module_t *);
        if (m->create_conf) {
            c->module_confs[kz_module_index(m)] = m->create_conf(m, c, p);
        }
    }
}

static kz_conf_t *conf_compile(const kz_config_t *cfg, apr_pool_t *p, const kz_value_t *map)
{
    kz_conf_t *c = apr_pcalloc(p, sizeof(*c));
    const kz_value_t *headers;

    c->props = apr_hash_make(p);
    for (int i = 0; i < map->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(map->items, i, kz_pair_t);
        apr_hash_set(c->props, pair->key, APR_HASH_KEY_STRING, pair->value);
    }
    c->wwwroot = path_value(c->props, "wwwroot", p);
    c->admin_email = str_value(c->props, "serverAdministratorEmail");
    c->allow_symlinks_outside = bool_value(c->props, "allowSymlinksOutsideWwwroot");
    c->allow_double_slashes = bool_value(c->props, "allowDoubleSlashes");
    c->ip_spoofing = bool_value(c->props, "enableIPSpoofing");
    c->www_redirect = bool_value(c->props, "wwwredirect");
    c->rewrite_logging = bool_value(c->props, "enableRewriteLogging");
    c->custom_headers = apr_array_make(p, 4, sizeof(kz_header_pair_t));
    headers = prop_value(c->props, "customHeaders");
    for (int i = 0; headers && i < headers->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(headers->items, i, kz_pair_t);
        kz_header_pair_t *h = apr_array_push(c->custom_headers);
        h->name = pair->key;
        h->value = pair->value->text;
        c->custom_headers_path |= strstr(h->value, "{path}") != NULL;
    }
    kz_stages_compile(c, p);
    module_confs_compile(cfg, c, p);
    error_confs_compile(cfg, c, map, p);
    return c;
}

static void global_compile(kz_config_t *cfg, apr_pool_t *p)
{
    kz_global_t *g = &cfg->global;
    apr_hash_t *props = cfg->global_conf->props;
    const kz_value_t *v;

    g->listen = apr_array_make(p, 1, sizeof(kz_listen_addr_t));
    kz_listen_addr_t *addr = apr_array_push(g->listen);
    addr->host = NULL;
    addr->port = 80;
    if ((v = prop_value(props, "port")) != NULL) {
        kz_listen_parse(addr, v, p);
    }
    g->log_path = path_value(props, "logFilePath", p);
    g->error_log_path = path_value(props, "errorLogFilePath", p);
    g->server_header = str_value(props, "serverHeader");
    g->mime_types_file = path_value(props, "mimeTypesFile", p);
    g->request_timeout = apr_time_from_msec(int_value(props, "timeout"));
    g->header_timeout = apr_time_from_msec(int_value(props, "requestHeaderTimeout"));
    g->body_timeout = apr_time_from_msec(int_value(props, "requestBodyTimeout"));
    g->keepalive_timeout = apr_time_from_msec(int_value(props, "keepAliveTimeout"));
    g->shutdown_timeout = apr_time_from_msec(int_value(props, "gracefulShutdownTimeout"));
    g->max_request_line = (apr_size_t)int_value(props, "maximumRequestLineLength");
    g->max_header_field = (apr_size_t)int_value(props, "maximumRequestHeaderFieldSize");
    g->max_head = (apr_size_t)int_value(props, "maximumRequestHeadersSize");
    g->max_headers = (int)int_value(props, "maximumRequestHeaderCount");
    g->max_body = (apr_off_t)int_value(props, "maximumRequestBodySize");
    g->max_keepalive_requests = (int)int_value(props, "maximumKeepAliveRequests");
    g->max_connections = (int)int_value(props, "maximumConnections");
    v = prop_value(props, "workers");
    g->workers = v && v->type == KZ_V_INT && v->i > 0 ? (int)v->i : kz_os_ncpu();
    g->workers = g->workers < 1 ? 1 : g->workers > 256 ? 256 : g->workers;
    g->load_modules = apr_array_make(p, 4, sizeof(const char *));
    v = prop_value(props, "loadModules");
    for (int i = 0; v && i < v->items->nelts; i++) {
        APR_ARRAY_PUSH(g->load_modules, const char *) =
            APR_ARRAY_IDX(v->items, i, kz_value_t *)->text;
    }
}

/* A line or field must fit in the whole head, or its own limit could never be reached. */
static void check_limits(loader_t *ld, apr_hash_t *props)
{
    static const char *const parts[] = {"maximumRequestLineLength",
                                        "maximumRequestHeaderFieldSize"};
    const char *whole = "maximumRequestHeadersSize";
    apr_int64_t nwhole = int_value(props, whole);

    for (int i = 0; i < 2; i++) {
        const kz_value_t *part = prop_value(props, parts[i]);
        apr_int64_t npart = int_value(props, parts[i]);

        if (npart <= nwhole) {
            continue;
        }
        if (part) {
            REPORT_AT(ld, 1, part, parts[i],
                      "%" APR_INT64_T_FMT " exceeds %s (%" APR_INT64_T_FMT ")", npart, whole,
                      nwhole);
        } else {
            REPORT_AT(ld, 1, prop_value(props, whole), whole,
                      "%" APR_INT64_T_FMT " is below %s (%" APR_INT64_T_FMT ")", nwhole, parts[i],
                      npart);
        }
    }
}

static const char *lower(const char *s, apr_pool_t *p)
{
    char *out = apr_pstrdup(p, s);

    for (char *c = out; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    return out;
}

/* Lowercased, without brackets, and "::ffff:a.b.c.d" as "a.b.c.d", as local_ip is compared. */
static const char *normalize_ip(const char *ip, apr_pool_t *p)
{
    apr_size_t len = strlen(ip);

    if (len > 2 && ip[0] == '[' && ip[len - 1] == ']') {
        ip = apr_pstrmemdup(p, ip + 1, len - 2);
    }
    ip = lower(ip, p);
    if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.')) {
        ip += 7;
    }
    return ip;
}

static void location_compile(const kz_config_t *cfg, kz_vhost_t *vh, const kz_value_t *host_map,
                             kz_value_t *loc, apr_pool_t *p)
{
    kz_location_t *l = apr_array_push(vh->locations);
    char *path = apr_pstrdup(p, kz_value_map_get(loc, "path")->text);
    apr_size_t len = strlen(path);

    while (len > 1 && path[len - 1] == '/') {
        path[--len] = '\0';
    }
    l->path = path;
    l->path_len = len;
    l->conf = conf_compile(cfg, p, merge_maps(p, host_map, loc, 0, NULL));
}

static void vhost_compile(kz_config_t *cfg, const kz_value_t *global, kz_value_t *host,
                          apr_pool_t *p)
{
    kz_vhost_t *vh = apr_array_push(cfg->vhosts);
    kz_value_t *merged = merge_maps(p, global, host, 0, "locations");
    const kz_value_t *v = kz_value_map_get(host, "locations");
    const char *close;

    memset(vh, 0, sizeof(*vh));
    vh->conf = conf_compile(cfg, p, merged);
    vh->locations = apr_array_make(p, 2, sizeof(kz_location_t));
    if ((v = kz_value_map_get(host, "domain")) != NULL) {
        vh->domain = lower(v->text, p);
        close = vh->domain[0] == '[' ? strchr(vh->domain, ']') : vh->domain;
        vh->domain_has_port = close && strchr(close, ':') != NULL;
    }
    if ((v = kz_value_map_get(host, "ip")) != NULL) {
        vh->ip = normalize_ip(v->text, p);
    }
    v = kz_value_map_get(host, "locations");
    for (int i = 0; v && v->type == KZ_V_LIST && i < v->items->nelts; i++) {
        location_compile(cfg, vh, merged, APR_ARRAY_IDX(v->items, i, kz_value_t *), p);
    }
}

static void config_compile(loader_t *ld, kz_config_t *cfg)
{
    apr_pool_t *p = cfg->pool;
    kz_value_t *hosts;

    cfg->root = new_container(p, KZ_V_MAP, ld->global);
    hosts = new_container(p, KZ_V_LIST, ld->global);
    apr_array_cat(hosts->items, ld->hosts);
    APR_ARRAY_PUSH(cfg->root->items, kz_pair_t) = (kz_pair_t){"global", ld->global, 1, 1};
    APR_ARRAY_PUSH(cfg->root->items, kz_pair_t) = (kz_pair_t){"hosts", hosts, 1, 1};
    cfg->global_conf = conf_compile(cfg, p, ld->global);
    check_limits(ld, cfg->global_conf->props);
    global_compile(cfg, p);
    cfg->vhosts = apr_array_make(p, ld->hosts->nelts + 1, sizeof(kz_vhost_t));
    for (int i = 0; i < ld->hosts->nelts; i++) {
        vhost_compile(cfg, ld->global, APR_ARRAY_IDX(ld->hosts, i, kz_value_t *), p);
    }
}

/* ---- loading --------------------------------------------------------------------------- */

static kz_config_t *loader_init(loader_t *ld, kz_diag_t **diag, const char *file, apr_pool_t *p)
{
    kz_config_t *cfg;
    apr_allocator_t *alloc;
    apr_pool_t *cp;

    *diag = apr_pcalloc(p, sizeof(**diag));
    (*diag)->errors = apr_array_make(p, 4, sizeof(const char *));
    (*diag)->warnings = apr_array_make(p, 4, sizeof(const char *));
    /* A configuration has its own allocator, owned by its pool: destroying the pool (when the
     * last request using a replaced configuration ends) returns the memory to the system, so a
     * stale pointer into an old configuration is a use-after-free that AddressSanitizer sees,
     * not a silent read of recycled pool memory. */
    apr_allocator_create(&alloc);
    apr_pool_create_ex(&cp, p, NULL, alloc);
    apr_allocator_owner_set(alloc, cp);
    apr_pool_tag(cp, "kz_config");
    cfg = apr_pcalloc(cp, sizeof(*cfg));
    cfg->pool = cp;
    cfg->file = apr_pstrdup(cp, file);
    memset(ld, 0, sizeof(*ld));
    ld->pool = cp;
    ld->diag = *diag;
    ld->chain = apr_array_make(cp, 4, sizeof(const char *));
    ld->hosts = apr_array_make(cp, 4, sizeof(kz_value_t *));
    ld->globals = apr_array_make(cp, 2, sizeof(kz_value_t *));
    ld->modules = apr_array_make(cp, 4, sizeof(const kz_module_t *));
    return cfg;
}

static apr_status_t loader_finish(loader_t *ld, kz_config_t *cfg, kz_config_t **out)
{
    *out = NULL;
    load_modules(ld);
    validate_all(ld);
    cfg->modules = ld->modules;
    if (!ld->global) {
        kz_value_t where = {.file = cfg->file, .line = 1, .col = 1};
        ld->global = new_container(cfg->pool, KZ_V_MAP, &where);
    }
    if (ld->diag->errors->nelts == 0) {
        config_compile(ld, cfg);
    }
    if (ld->diag->errors->nelts > 0) {
        apr_pool_destroy(cfg->pool);
        return APR_EINVAL;
    }
    *out = cfg;
    return APR_SUCCESS;
}

apr_status_t kz_config_load(kz_config_t **out, kz_diag_t **diag, const char *file, apr_pool_t *p)
{
    loader_t ld;
    kz_config_t *cfg = loader_init(&ld, diag, file, p);

    load_file(&ld, file, NULL);
    return loader_finish(&ld, cfg, out);
}

apr_status_t kz_config_load_string(kz_config_t **out, kz_diag_t **diag, const char *name,
                                   const char *text, apr_pool_t *p)
{
    loader_t ld;
    kz_config_t *cfg = loader_init(&ld, diag, name, p);
    char *abs = NULL;

    apr_filepath_merge(&abs, NULL, name, 0, ld.pool);
    APR_ARRAY_PUSH(ld.chain, const char *) = abs ? abs : name;
    load_text(&ld, name, text, strlen(text));
    return loader_finish(&ld, cfg, out);
}
