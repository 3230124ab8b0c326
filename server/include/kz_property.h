/*
 * The configuration values and property declarations that modules share with the core: a YAML
 * node as the loader read it (type, file, line, column), and a property (name, type, scopes,
 * default, owner, check function). A module declares the properties it owns with these, and the
 * core validates them at load exactly as its own.
 */
#ifndef KZ_PROPERTY_H
#define KZ_PROPERTY_H

#include <apr_pools.h>
#include <apr_tables.h>

/* ---- values ---------------------------------------------------------------------------- */

typedef enum kz_vtype { KZ_V_NULL, KZ_V_BOOL, KZ_V_INT, KZ_V_STR, KZ_V_LIST, KZ_V_MAP } kz_vtype_e;

typedef struct kz_value kz_value_t;

/** One key of a map value. */
typedef struct kz_pair {
    const char *key;
    kz_value_t *value;
    int line; /**< the key's position, 1-based (the value's file) */
    int col;
} kz_pair_t;

/**
 * A YAML node. Plain scalars are typed as YAML 1.2's core schema does (null, true/false,
 * integers); quoted scalars are always strings. `text` holds the scalar as written.
 */
struct kz_value {
    kz_vtype_e type;
    const char *file;
    int line; /**< 1-based */
    int col;  /**< 1-based */
    const char *text;
    apr_int64_t i;
    int b;
    apr_array_header_t *items; /**< KZ_V_LIST: kz_value_t *; KZ_V_MAP: kz_pair_t */
};

typedef enum kz_ptype {
    KZ_PT_BOOL,        /**< true/false */
    KZ_PT_INT,         /**< integer within [min, max] */
    KZ_PT_INT_OR_NULL, /**< integer within [min, max], or null (meaning "none") */
    KZ_PT_STRING,      /**< a string (a plain scalar such as 8080 is accepted as its text) */
    KZ_PT_LISTEN,      /**< integer port, or "address:port" / "[v6]:port" */
    KZ_PT_STRING_LIST, /**< list of strings (a single string is accepted as a list of one) */
    KZ_PT_STRING_MAP,  /**< map of string to string */
    KZ_PT_ANY          /**< anything; the property's check function validates it */
} kz_ptype_e;

#define KZ_SCOPE_GLOBAL   0x1 /**< the `global` block */
#define KZ_SCOPE_HOST     0x2 /**< an entry of `hosts` */
#define KZ_SCOPE_LOCATION 0x4 /**< an entry of a host's `locations` */
#define KZ_SCOPE_ERROR    0x8 /**< an entry of `errorConfig` */
#define KZ_SCOPE_ANY      0xF

/** Checks a value of a KZ_PT_ANY property (or extra rules); returns an error message or NULL. */
typedef const char *(*kz_property_check_fn)(const kz_value_t *value, apr_pool_t *p);

typedef struct kz_property {
    const char *name; /**< the configuration key, exactly as the original spells it */
    kz_ptype_e type;
    unsigned scopes;      /**< KZ_SCOPE_* bits where it may appear */
    const char *def;      /**< the default as documented ("-" for none) */
    const char *owner;    /**< "core" or a module name */
    apr_int64_t min, max; /**< for integers */
    const char *doc;      /**< one line for the README and `karpacz -p` */
    kz_property_check_fn check;
} kz_property_t;

#endif
