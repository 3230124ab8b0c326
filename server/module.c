/*
 * The module registry and the shared-library loader (see module.h and kz_module.h). Libraries
 * are opened with apr_dso_load into a process-lifetime pool and never closed. Every check a
 * broken library can fail (missing file, missing symbol, wrong magic, wrong ABI version, wrong
 * name, a property that another owner has) gives a message naming the module and the fault.
 * Loading happens on the main thread only (start, -t, reload), before loops see the result.
 */
#include "module.h"

#include "config.h"
#include "kz_os.h"
#include "rproxy.h"

#include <apr_dso.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include <string.h>

#ifndef KZ_MODULE_DIR
#define KZ_MODULE_DIR "/usr/local/lib/karpacz/modules"
#endif

/* Compiled-in modules: none has landed yet; each joins this table when it does. */
static const kz_module_t *const builtin_modules[] = {&kz_rproxy_module, NULL};

/* The original's built-in modules; a name here that is not compiled in is "not available". */
static const char *const planned_modules[] = {"cache", "cgi", "fcgi", "scgi", "fproxy"};

static const kz_module_t *loaded[KZ_MODULES_MAX];
static int nloaded;
static apr_pool_t *registry_pool; /* lives as long as the process: the libraries stay mapped */

static void registry_init(void)
{
    if (!registry_pool) {
        apr_pool_create(&registry_pool, NULL);
        apr_pool_tag(registry_pool, "kz_modules");
    }
}

int kz_module_is_planned(const char *name)
{
    for (apr_size_t i = 0; i < sizeof(planned_modules) / sizeof(*planned_modules); i++) {
        if (!strcmp(name, planned_modules[i])) {
            return kz_module_find(name) == NULL;
        }
    }
    return 0;
}

const kz_module_t *kz_module_find(const char *name)
{
    for (int i = 0; i < nloaded; i++) {
        if (!strcmp(loaded[i]->name, name)) {
            return loaded[i];
        }
    }
    return NULL;
}

int kz_module_index(const kz_module_t *m)
{
    for (int i = 0; i < nloaded; i++) {
        if (loaded[i] == m) {
            return i;
        }
    }
    return -1;
}

int kz_module_count(void)
{
    return nloaded;
}

const char *kz_module_default_dirs(apr_pool_t *p)
{
    const char *exe = kz_os_exe_dir(p);

    return exe ? apr_pstrcat(p, exe, "/modules, " KZ_MODULE_DIR, NULL) : KZ_MODULE_DIR;
}

/* The interface version, name and property table of a module, before anything is registered. */
static const char *check_header(const kz_module_t *m, const char *name, apr_pool_t *p)
{
    if (m->magic != KZ_MODULE_MAGIC) {
        return apr_psprintf(p, "module '%s' is not a Karpacz module (bad magic 0x%08x)", name,
                            m->magic);
    }
    if (m->abi != KZ_MODULE_ABI) {
        return apr_psprintf(p,
                            "module '%s' was built for module ABI %u; this server has ABI %u "
                            "(rebuild it against this server's headers)",
                            name, m->abi, KZ_MODULE_ABI);
    }
    if (!m->name || strcmp(m->name, name) != 0) {
        return apr_psprintf(p, "module '%s' calls itself '%s'", name, m->name ? m->name : "");
    }
    if (m->nproperties < 0 || m->nproperties > 256 || (m->nproperties > 0 && !m->properties)) {
        return apr_psprintf(p, "module '%s' has an invalid property table", name);
    }
    for (int i = 0; i < m->nproperties; i++) {
        const kz_property_t *mine = &m->properties[i];
        const kz_property_t *other = mine->name ? kz_property_find(mine->name) : NULL;

        if (!mine->name || !*mine->name || !mine->scopes) {
            return apr_psprintf(p, "module '%s' has a property without a name or scope", name);
        }
        if (other && strcmp(other->owner, name) != 0) {
            return apr_psprintf(p, "module '%s' declares property '%s', which '%s' owns", name,
                                mine->name, other->owner);
        }
    }
    return NULL;
}

/* Copies the module's properties with the module as their owner, then registers them. */
static void register_properties(const kz_module_t *m)
{
    kz_property_t *props;

    if (m->nproperties == 0) {
        return;
    }
    props = apr_pmemdup(registry_pool, m->properties,
                        (apr_size_t)m->nproperties * sizeof(kz_property_t));
    for (int i = 0; i < m->nproperties; i++) {
        props[i].owner = m->name;
        props[i].def = props[i].def ? props[i].def : "-";
        props[i].doc = props[i].doc ? props[i].doc : "";
    }
    kz_property_register(props, m->nproperties);
}

static const char *add_module(const kz_module_t *m, const char *name, apr_pool_t *p)
{
    const char *err = check_header(m, name, p);

    if (err) {
        return err;
    }
    if (nloaded == KZ_MODULES_MAX) {
        return apr_psprintf(p, "module '%s': too many modules (at most %d)", name, KZ_MODULES_MAX);
    }
    register_properties(m);
    loaded[nloaded++] = m;
    return NULL;
}

const char *kz_module_add(const kz_module_t *m, apr_pool_t *p)
{
    if (kz_module_find(m->name)) {
        return kz_module_find(m->name) == m
                   ? NULL
                   : apr_psprintf(p, "module '%s' exists already", m->name);
    }
    registry_init();
    return add_module(m, m->name, p);
}

/* The library's path: in dir, or the first default directory that has the file. */
static const char *library_path(const char *name, const char *dir, apr_pool_t *p)
{
    const char *file = kz_os_module_file(name, p);
    const char *exe = kz_os_exe_dir(p);
    const char *candidates[2];
    apr_finfo_t fi;
    char *path;

    if (dir) {
        return apr_filepath_merge(&path, dir, file, 0, p) == APR_SUCCESS ? path : NULL;
    }
    candidates[0] = exe ? apr_pstrcat(p, exe, "/modules", NULL) : NULL;
    candidates[1] = KZ_MODULE_DIR;
    for (int i = 0; i < 2; i++) {
        if (candidates[i] && apr_filepath_merge(&path, candidates[i], file, 0, p) == APR_SUCCESS &&
            apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS) {
            return path;
        }
    }
    return NULL;
}

static const char *load_library(const kz_module_t **out, apr_dso_handle_t **dso_out,
                                const char *name, const char *dir, apr_pool_t *p)
{
    const char *path = library_path(name, dir, p);
    apr_dso_handle_t *dso;
    apr_dso_handle_sym_t sym;
    apr_finfo_t fi;
    const char *symbol;
    char buf[256];

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, p) != APR_SUCCESS) {
        return apr_psprintf(p, "module '%s': no library %s in %s", name, kz_os_module_file(name, p),
                            dir ? dir : kz_module_default_dirs(p));
    }
    if (apr_dso_load(&dso, path, registry_pool) != APR_SUCCESS) {
        return apr_psprintf(p, "module '%s': cannot load %s: %s", name, path,
                            apr_dso_error(dso, buf, sizeof(buf)));
    }
    symbol = apr_pstrcat(p, KZ_MODULE_SYMBOL_PREFIX, name, NULL);
    if (apr_dso_sym(&sym, dso, symbol) != APR_SUCCESS) {
        apr_dso_unload(dso);
        return apr_psprintf(p, "module '%s': %s does not export the symbol '%s'", name, path,
                            symbol);
    }
    *out = (const kz_module_t *)sym;
    *dso_out = dso;
    return NULL;
}

const char *kz_module_load(const kz_module_t **out, const char *name, const char *dir,
                           apr_pool_t *p)
{
    const kz_module_t *m = kz_module_find(name);
    apr_dso_handle_t *dso = NULL;
    const char *err;

    *out = NULL;
    if (m) {
        *out = m;
        return NULL;
    }
    registry_init();
    for (apr_size_t i = 0; builtin_modules[i]; i++) {
        if (!strcmp(builtin_modules[i]->name, name)) {
            m = builtin_modules[i];
        }
    }
    if (!m && (err = load_library(&m, &dso, name, dir, p)) != NULL) {
        return err;
    }
    if ((err = add_module(m, name, p)) != NULL) {
        if (dso) {
            apr_dso_unload(dso); /* refused: nothing refers to it, so it need not stay mapped */
        }
        return err;
    }
    *out = m;
    return NULL;
}
