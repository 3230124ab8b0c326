/*
 * Configuration: Karpacz's YAML schema (global, hosts, locations, include) read with libyaml into
 * a tree of values that remember file, line and column; one registry of properties (name, type,
 * scopes, default, owner) that validates every value once at load; the merge rules of the
 * original (a scalar replaces, a list concatenates global-then-host, a map merges key by key);
 * and the selection of a host and a location for a request.
 */
#ifndef KZ_CONFIG_H
#define KZ_CONFIG_H

#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <stdio.h>

#include "kz_property.h"

/* ---- the property registry ------------------------------------------------------------- */

/**
 * Adds properties to the registry (the core's are built in; modules add theirs at start). A name
 * registered again replaces the earlier entry in place, so a module takes over the placeholder
 * the core registers for its properties. Not thread-safe: call before loading configurations.
 */
void kz_property_register(const kz_property_t *props, int count);

/** Looks a property up by exact name; NULL when unknown. */
const kz_property_t *kz_property_find(const char *name);

/** Calls fn for every registered property, in registration order. */
void kz_property_each(void (*fn)(const kz_property_t *prop, void *baton), void *baton);

/**
 * Checks value against prop: its type, its integer range, then its check function. Returns NULL
 * when valid, else the message (without position or property name) and sets *at to the node at
 * fault: value itself, one of its items, or a one-item copy of value positioned at the failing
 * list item or map key (found by running the check function on each item alone).
 */
const char *kz_property_validate(const kz_property_t *prop, const kz_value_t *value,
                                 const kz_value_t **at, apr_pool_t *p);

/** Writes every property as a Markdown table: name | scope | type | default | owner | doc. */
void kz_property_print_table(FILE *out);

/* ---- diagnostics ----------------------------------------------------------------------- */

/** Errors and warnings found while loading: "FILE:LINE:COL: error: property 'x': message". */
typedef struct kz_diag {
    apr_array_header_t *errors;   /**< const char * */
    apr_array_header_t *warnings; /**< const char * */
} kz_diag_t;

/**
 * Parses the first document of a YAML text into a value tree allocated in p; `name` goes into
 * every node as its file. Plain scalars are typed (null, ~ and empty → null; true/false in
 * lower, title or upper case → bool; decimal integers that fit 64 bits → int); anything quoted,
 * tagged or block-styled is a string. Aliases are refused (no billion laughs), so are NUL
 * characters, non-scalar map keys and nesting deeper than 64; a key repeated in one map is a
 * warning and the later value wins. An empty text yields a null value. Messages go to diag
 * (allocated in the pool of diag->errors). Returns APR_SUCCESS or APR_EINVAL.
 */
apr_status_t kz_yaml_parse(kz_value_t **out, kz_diag_t *diag, const char *name, const char *text,
                           apr_size_t len, apr_pool_t *p);

/* ---- the loaded configuration ---------------------------------------------------------- */

/** One address to listen on, from `port`. */
typedef struct kz_listen_addr {
    const char *host; /**< NULL for every address (the original binds [::]) */
    apr_port_t port;  /**< 0 asks the system for a free port */
} kz_listen_addr_t;

/**
 * Parses a listen value (KZ_PT_LISTEN): an integer port, or a string "port", "address:port",
 * "[v6]:port" or "*:port". Returns NULL, or an error message.
 */
const char *kz_listen_parse(kz_listen_addr_t *out, const kz_value_t *value, apr_pool_t *p);

/** A customHeaders entry. */
typedef struct kz_header_pair {
    const char *name;
    const char *value;
} kz_header_pair_t;

/**
 * The effective properties of one scope (global, a host, a location): the merged values plus
 * the core's properties compiled into fields, so the request path reads fields, not maps.
 */
typedef struct kz_conf {
    apr_hash_t *props;       /**< name → kz_value_t *, merged */
    const char *wwwroot;     /**< absolute, no trailing '/'; NULL when unset */
    struct kz_root *root;    /**< wwwroot opened (server.c, when the configuration goes live) */
    const char *admin_email; /**< serverAdministratorEmail or NULL */
    apr_array_header_t *custom_headers; /**< kz_header_pair_t */
    int custom_headers_path;            /**< some value has the `{path}` placeholder */
    int allow_symlinks_outside;         /**< allowSymlinksOutsideWwwroot */
    int allow_double_slashes;           /**< allowDoubleSlashes */
    int ip_spoofing;                    /**< enableIPSpoofing */
    int www_redirect;                   /**< wwwredirect */
    int rewrite_logging;                /**< enableRewriteLogging */
    /* Compiled by the features that own them (stages.c calls each; NULL when unset). */
    const struct kz_rewrite *rewrite;     /**< rewriteMap (rewrite.c) */
    const struct kz_ncodes *ncodes;       /**< nonStandardCodes + users (ncodes.c) */
    const struct kz_ipset *blocklist;     /**< blocklist, global only (blocklist.c) */
    const struct kz_static_conf *statics; /**< static-file settings (static.c) */
    const struct kz_errors *errors;       /**< errorPages + errorConfig (errors.c) */
    void **module_confs;                  /**< per loaded module, by its index (module.c) */
    int nmodule_confs;                    /**< modules loaded when this scope was compiled */
    apr_array_header_t *error_confs;      /**< kz_error_conf_t: errorConfig entries, or NULL */
} kz_conf_t;

/** An errorConfig entry compiled on top of the scope it belongs to. */
typedef struct kz_error_conf {
    int scode; /**< the status it applies to; 0 for every error */
    kz_conf_t *conf;
} kz_error_conf_t;

/** Global-only settings, compiled from the `global` block. */
typedef struct kz_global {
    apr_array_header_t *listen;            /**< kz_listen_addr_t, from `port` */
    const char *log_path;                  /**< logFilePath or NULL */
    const char *error_log_path;            /**< errorLogFilePath or NULL */
    const char *server_header;             /**< serverHeader; "" sends no Server field */
    const char *mime_types_file;           /**< mimeTypesFile or NULL for the built-in table */
    apr_interval_time_t request_timeout;   /**< timeout (whole request); 0 = none */
    apr_interval_time_t header_timeout;    /**< requestHeaderTimeout */
    apr_interval_time_t body_timeout;      /**< requestBodyTimeout */
    apr_interval_time_t keepalive_timeout; /**< keepAliveTimeout */
    apr_interval_time_t shutdown_timeout;  /**< gracefulShutdownTimeout */
    apr_size_t max_request_line;           /**< maximumRequestLineLength */
    apr_size_t max_header_field;           /**< maximumRequestHeaderFieldSize */
    apr_size_t max_head;                   /**< maximumRequestHeadersSize */
    int max_headers;                       /**< maximumRequestHeaderCount */
    apr_off_t max_body;                    /**< maximumRequestBodySize */
    int max_keepalive_requests;            /**< maximumKeepAliveRequests; 0 = unlimited */
    int max_connections;                   /**< maximumConnections */
    int workers;                           /**< workers; resolved: never 0 */
    apr_array_header_t *load_modules;      /**< const char *, in order */
} kz_global_t;

typedef struct kz_location {
    const char *path; /**< decoded, no trailing '/' except for "/" itself */
    apr_size_t path_len;
    kz_conf_t *conf; /**< global + host + location */
} kz_location_t;

typedef struct kz_vhost {
    const char *domain;  /**< lowercased; NULL matches any; "*", "*.example.com" wildcards */
    int domain_has_port; /**< the domain names a port, so the Host header's port is compared */
    const char *ip;      /**< the server's local address to match, or NULL */
    kz_conf_t *conf;     /**< global + host */
    apr_array_header_t *locations; /**< kz_location_t, in file order */
} kz_vhost_t;

typedef struct kz_config {
    apr_pool_t *pool; /**< everything of this configuration lives here */
    const char *file;
    kz_global_t global;
    kz_conf_t *global_conf;      /**< used when no host matches */
    apr_array_header_t *vhosts;  /**< kz_vhost_t, in file order */
    kz_value_t *root;            /**< the merged document (after include) */
    apr_array_header_t *modules; /**< const struct kz_module *: loadModules, in handler order */
} kz_config_t;

/**
 * Reads FILE (and the files its `include` globs name, relative to FILE's directory), validates
 * every property against the registry and compiles the result into *out, allocated in a new
 * subpool of p. Every problem is appended to diag (which the function creates in p). Returns
 * APR_SUCCESS when there is no error (warnings allowed), APR_EINVAL otherwise (then *out is NULL
 * and the subpool is destroyed).
 */
apr_status_t kz_config_load(kz_config_t **out, kz_diag_t **diag, const char *file, apr_pool_t *p);

/** The same from YAML text in memory; `name` stands for the file name in messages. */
apr_status_t kz_config_load_string(kz_config_t **out, kz_diag_t **diag, const char *name,
                                   const char *text, apr_pool_t *p);

/**
 * Picks the effective configuration for a request: the first host (in file order) whose domain
 * matches `host` (the Host header, any case, with or without ":port"; its port is ignored unless
 * the host's domain names one) and whose ip equals local_ip (NULL skips the ip test); then, in
 * that host, the first location whose path equals `path` or is a parent of it ("/a" matches
 * "/a", "/a/" and "/a/b" but not "/ab"). No host matched → the global configuration.
 */
const kz_conf_t *kz_config_select(const kz_config_t *config, const char *host, apr_size_t host_len,
                                  const char *local_ip, const char *path);

/**
 * The two halves of kz_config_select(), for a caller that needs the host's configuration before
 * it knows the path: the first matching host (NULL: none, use config->global_conf), then the
 * configuration of its location for path.
 */
const kz_vhost_t *kz_config_vhost(const kz_config_t *config, const char *host, apr_size_t host_len,
                                  const char *local_ip);
const kz_conf_t *kz_vhost_location(const kz_vhost_t *vhost, const char *path);

/** The value of key in a map value, or NULL (also when map is NULL or not a map). */
kz_value_t *kz_value_map_get(const kz_value_t *map, const char *key);

/**
 * A path written in a configuration file, made absolute against that file's directory (no
 * trailing '/'); the text itself if that fails.
 */
const char *kz_value_path(const kz_value_t *v, apr_pool_t *p);

/**
 * The merged value of a property in conf, or NULL when unset. A KZ_PT_STRING_LIST property
 * written as one string reads as a list of one.
 */
const kz_value_t *kz_conf_get(const kz_conf_t *conf, const char *name);

#endif
