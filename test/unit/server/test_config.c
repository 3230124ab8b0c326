/*
 * Tests of server/config.c, server/config_yaml.c and server/properties.c: YAML typing and
 * positions, the property registry, validation messages (exact file:line:col), merging of
 * global/host/location, include, the compiled fields, and host/location selection.
 * Fixtures live in test/unit/data/config/.
 */
#include "config.h"
#include "kz_os.h"
#include "kz_test.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include <string.h>

#ifndef KZ_SOURCE_DIR
#define KZ_SOURCE_DIR "."
#endif
#define DATA_DIR KZ_SOURCE_DIR "/test/unit/data/config/"

static const char *data_path(const char *rel)
{
    return apr_pstrcat(kz_test_pool, DATA_DIR, rel, NULL);
}

static kz_config_t *load_str(const char *text, kz_diag_t **diag, apr_status_t *rv)
{
    kz_config_t *cfg = NULL;

    *rv = kz_config_load_string(&cfg, diag, "t.yaml", text, kz_test_pool);
    return cfg;
}

static const char *msg_at(const apr_array_header_t *arr, int i)
{
    return i < arr->nelts ? APR_ARRAY_IDX(arr, i, const char *) : "(none)";
}

static void dump(const char *what, const apr_array_header_t *arr)
{
    for (int i = 0; i < arr->nelts; i++) {
        fprintf(stderr, "  %s[%d] %s\n", what, i, msg_at(arr, i));
    }
}

/* ---- YAML reader ----------------------------------------------------------------------- */

static void test_yaml_scalar_types(void)
{
    static const struct {
        const char *label, *yaml;
        kz_vtype_e type;
        const char *text;
        apr_int64_t i;
    } rows[] = {
        {"empty is null", "v:\n", KZ_V_NULL, "", 0},
        {"tilde is null", "v: ~\n", KZ_V_NULL, "~", 0},
        {"Null is null", "v: Null\n", KZ_V_NULL, "Null", 0},
        {"true", "v: true\n", KZ_V_BOOL, "true", 1},
        {"TRUE", "v: TRUE\n", KZ_V_BOOL, "TRUE", 1},
        {"False", "v: False\n", KZ_V_BOOL, "False", 0},
        {"yes stays a string (YAML 1.2)", "v: yes\n", KZ_V_STR, "yes", 0},
        {"decimal", "v: 8080\n", KZ_V_INT, "8080", 8080},
        {"negative", "v: -12\n", KZ_V_INT, "-12", -12},
        {"plus sign", "v: +7\n", KZ_V_INT, "+7", 7},
        {"int64 max", "v: 9223372036854775807\n", KZ_V_INT, "9223372036854775807", APR_INT64_MAX},
        {"int64 min", "v: -9223372036854775808\n", KZ_V_INT, "-9223372036854775808", APR_INT64_MIN},
        {"overflow stays a string", "v: 9223372036854775808\n", KZ_V_STR, "9223372036854775808", 0},
        {"hex stays a string", "v: 0x10\n", KZ_V_STR, "0x10", 0},
        {"float stays a string", "v: 1.5\n", KZ_V_STR, "1.5", 0},
        {"single-quoted number", "v: '80'\n", KZ_V_STR, "80", 0},
        {"double-quoted true", "v: \"true\"\n", KZ_V_STR, "true", 0},
        {"quoted empty", "v: \"\"\n", KZ_V_STR, "", 0},
        {"tagged", "v: !!str 5\n", KZ_V_STR, "5", 0},
        {"block literal", "v: |\n  12\n", KZ_V_STR, "12\n", 0},
        {"escapes", "v: \"a\\tb\"\n", KZ_V_STR, "a\tb", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_diag_t diag = {apr_array_make(kz_test_pool, 1, sizeof(char *)),
                          apr_array_make(kz_test_pool, 1, sizeof(char *))};
        kz_value_t *root = NULL;
        apr_status_t rv =
            kz_yaml_parse(&root, &diag, "y.yaml", rows[i].yaml, strlen(rows[i].yaml), kz_test_pool);
        const kz_value_t *v;

        CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
        CU_ASSERT_EQUAL_FATAL(root->type, KZ_V_MAP);
        v = APR_ARRAY_IDX(root->items, 0, kz_pair_t).value;
        if (v->type != rows[i].type || strcmp(v->text, rows[i].text) != 0) {
            fprintf(stderr, "row '%s': type %d text '%s'\n", rows[i].label, v->type, v->text);
        }
        CU_ASSERT_EQUAL(v->type, rows[i].type);
        CU_ASSERT_STRING_EQUAL(v->text, rows[i].text);
        if (rows[i].type == KZ_V_INT) {
            CU_ASSERT_EQUAL(v->i, rows[i].i);
        } else if (rows[i].type == KZ_V_BOOL) {
            CU_ASSERT_EQUAL(v->b, (int)rows[i].i);
        }
    }
}

static void test_yaml_positions(void)
{
    static const char text[] = "# comment\n"
                               "global:\n"
                               "  port: 80\n"
                               "  list:\n"
                               "    - a\n"
                               "    - {k: v}\n";
    kz_diag_t diag = {apr_array_make(kz_test_pool, 1, sizeof(char *)),
                      apr_array_make(kz_test_pool, 1, sizeof(char *))};
    kz_value_t *root, *global, *list, *flow;
    kz_pair_t *port;

    CU_ASSERT_EQUAL_FATAL(kz_yaml_parse(&root, &diag, "p.yaml", text, strlen(text), kz_test_pool),
                          APR_SUCCESS);
    global = APR_ARRAY_IDX(root->items, 0, kz_pair_t).value;
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(root->items, 0, kz_pair_t).key, "global");
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(root->items, 0, kz_pair_t).line, 2);
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(root->items, 0, kz_pair_t).col, 1);
    port = &APR_ARRAY_IDX(global->items, 0, kz_pair_t);
    CU_ASSERT_EQUAL(port->line, 3);
    CU_ASSERT_EQUAL(port->col, 3);
    CU_ASSERT_EQUAL(port->value->line, 3);
    CU_ASSERT_EQUAL(port->value->col, 9);
    CU_ASSERT_STRING_EQUAL(port->value->file, "p.yaml");
    list = APR_ARRAY_IDX(global->items, 1, kz_pair_t).value;
    CU_ASSERT_EQUAL(list->type, KZ_V_LIST);
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(list->items, 0, kz_value_t *)->line, 5);
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(list->items, 0, kz_value_t *)->col, 7);
    flow = APR_ARRAY_IDX(list->items, 1, kz_value_t *);
    CU_ASSERT_EQUAL(flow->type, KZ_V_MAP);
    CU_ASSERT_EQUAL(flow->line, 6);
    CU_ASSERT_EQUAL(flow->col, 7);
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(flow->items, 0, kz_pair_t).col, 8);
}

static void test_yaml_documents(void)
{
    static const char two[] = "a: 1\n---\nb: [unclosed\n";
    kz_diag_t diag = {apr_array_make(kz_test_pool, 1, sizeof(char *)),
                      apr_array_make(kz_test_pool, 1, sizeof(char *))};
    kz_value_t *root;

    /* Only the first document is read: the broken second one is never parsed. */
    CU_ASSERT_EQUAL(kz_yaml_parse(&root, &diag, "d.yaml", two, strlen(two), kz_test_pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(root->items->nelts, 1);
    CU_ASSERT_EQUAL(diag.errors->nelts, 0);
    /* An empty text is a null document. */
    CU_ASSERT_EQUAL(kz_yaml_parse(&root, &diag, "d.yaml", "", 0, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(root->type, KZ_V_NULL);
    /* A repeated key warns and the later value wins, in the first key's place. */
    CU_ASSERT_EQUAL(kz_yaml_parse(&root, &diag, "d.yaml", "a: 1\nb: 2\na: 3\n", 15, kz_test_pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(root->items->nelts, 2);
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(root->items, 0, kz_pair_t).value->i, 3);
    CU_ASSERT_EQUAL(diag.warnings->nelts, 1);
    CU_ASSERT_STRING_EQUAL(msg_at(diag.warnings, 0),
                           "d.yaml:3:1: warning: key 'a' is repeated; the later value wins");
}

static void test_yaml_nesting_bound(void)
{
    kz_diag_t diag = {apr_array_make(kz_test_pool, 1, sizeof(char *)),
                      apr_array_make(kz_test_pool, 1, sizeof(char *))};
    char *text = apr_palloc(kz_test_pool, 2 * 10000 + 1);
    kz_value_t *root;

    /* 10000 nested flow lists: refused at depth 65, without deep recursion. */
    memset(text, '[', 10000);
    memset(text + 10000, ']', 10000);
    text[20000] = '\0';
    CU_ASSERT_EQUAL(kz_yaml_parse(&root, &diag, "n.yaml", text, 20000, kz_test_pool), APR_EINVAL);
    CU_ASSERT_STRING_EQUAL(msg_at(diag.errors, 0),
                           "n.yaml:1:66: error: nesting deeper than 64 levels");
}

/* ---- registry -------------------------------------------------------------------------- */

static void test_registry_core(void)
{
    static const struct {
        const char *name;
        kz_ptype_e type;
        unsigned scopes;
        const char *def, *owner;
        apr_int64_t min, max;
    } rows[] = {
        {"port", KZ_PT_LISTEN, KZ_SCOPE_GLOBAL, "80", "core", 0, 65535},
        {"timeout", KZ_PT_INT_OR_NULL, KZ_SCOPE_GLOBAL, "300000", "core", 0, APR_INT32_MAX},
        {"wwwroot", KZ_PT_STRING, KZ_SCOPE_ANY, "-", "core", 0, 0},
        {"customHeaders", KZ_PT_STRING_MAP, KZ_SCOPE_ANY, "-", "core", 0, 0},
        {"maximumRequestHeadersSize", KZ_PT_INT, KZ_SCOPE_GLOBAL, "16384", "core", 1024, 4194304},
        {"maximumRequestBodySize", KZ_PT_INT, KZ_SCOPE_GLOBAL, "10485760", "core", 0,
         (apr_int64_t)1 << 53},
        {"domain", KZ_PT_STRING, KZ_SCOPE_HOST, "-", "core", 0, 0},
        {"path", KZ_PT_STRING, KZ_SCOPE_LOCATION, "-", "core", 0, 0},
        {"scode", KZ_PT_INT, KZ_SCOPE_ERROR, "-", "core", 100, 599},
        {"sport", KZ_PT_LISTEN, KZ_SCOPE_GLOBAL, "443", "tls", 0, 65535},
        {"proxyTo", KZ_PT_STRING_LIST, KZ_SCOPE_ANY, "-", "rproxy", 0, 0},
        {"cgiScriptExtensions", KZ_PT_STRING_LIST, KZ_SCOPE_ANY, "-", "cgi", 0, 0},
        {"enableETag", KZ_PT_BOOL, KZ_SCOPE_ANY, "true", "core", 0, 0},
        {"forwardedAuthCopyHeaders", KZ_PT_STRING_LIST, KZ_SCOPE_ANY, "-", "fauth", 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const kz_property_t *prop = kz_property_find(rows[i].name);

        CU_ASSERT_PTR_NOT_NULL_FATAL(prop);
        CU_ASSERT_STRING_EQUAL(prop->name, rows[i].name);
        CU_ASSERT_EQUAL(prop->type, rows[i].type);
        CU_ASSERT_EQUAL(prop->scopes, rows[i].scopes);
        CU_ASSERT_STRING_EQUAL(prop->def, rows[i].def);
        CU_ASSERT_STRING_EQUAL(prop->owner, rows[i].owner);
        if (rows[i].max) {
            CU_ASSERT_EQUAL(prop->min, rows[i].min);
            CU_ASSERT_EQUAL(prop->max, rows[i].max);
        }
    }
    CU_ASSERT_PTR_NULL(kz_property_find("Port"));
    CU_ASSERT_PTR_NULL(kz_property_find("nonexistent"));
}

static void count_prop(const kz_property_t *prop, void *baton)
{
    int *n = baton;

    /* Every entry is complete enough for the README table. */
    CU_ASSERT(prop->name && prop->doc && *prop->doc && prop->owner && prop->def);
    n[0]++;
    if (!strcmp(prop->owner, "core")) {
        n[1]++;
    }
}

static void test_registry_register(void)
{
    const kz_property_t *orig = kz_property_find("proxyTo");
    static const kz_property_t mine[] = {
        {"proxyTo", KZ_PT_STRING_LIST, KZ_SCOPE_ANY, "-", "rproxy2", 0, 0, "taken over", NULL},
        {"testOnlyProperty", KZ_PT_BOOL, KZ_SCOPE_GLOBAL, "false", "test", 0, 0, "test", NULL},
    };
    int before[2] = {0, 0}, after[2] = {0, 0};

    kz_property_each(count_prop, before);
    CU_ASSERT(before[0] > 80);
    CU_ASSERT_EQUAL(before[1], 52); /* every property the core itself implements */
    kz_property_register(mine, 2);
    CU_ASSERT_PTR_EQUAL(kz_property_find("proxyTo"), &mine[0]);
    CU_ASSERT_PTR_EQUAL(kz_property_find("testOnlyProperty"), &mine[1]);
    kz_property_each(count_prop, after);
    /* A repeated name replaces in place; only the new name adds an entry. */
    CU_ASSERT_EQUAL(after[0], before[0] + 1);
    kz_property_register(orig, 1);
    CU_ASSERT_PTR_EQUAL(kz_property_find("proxyTo"), orig);
}

static void test_registry_print_table(void)
{
    FILE *f = tmpfile();
    char buf[65536];
    size_t len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    kz_property_print_table(f);
    rewind(f);
    len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[len] = '\0';
    fclose(f);
    CU_ASSERT(!strncmp(buf,
                       "| Property | Scope | Type | Default | Owner | Description |\n"
                       "|---|---|---|---|---|---|\n",
                       85));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(buf, "| `port` | global | port or \"address:port\" | 80 | core |"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(buf, "| `maximumRequestHeaderCount` | global | integer 1–10000 | 100 | core |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "| `proxyTo` | any | list of strings | - | rproxy |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "| `errorConfig` | global, host, location | "));
}

static void test_listen_parse(void)
{
    static const struct {
        const char *yaml;
        const char *host;
        int port;
        const char *error;
    } rows[] = {
        {"v: 8080", NULL, 8080, NULL},
        {"v: 0", NULL, 0, NULL},
        {"v: '8443'", NULL, 8443, NULL},
        {"v: 127.0.0.1:8080", "127.0.0.1", 8080, NULL},
        {"v: \"[::1]:443\"", "::1", 443, NULL},
        {"v: \"*:80\"", NULL, 80, NULL},
        {"v: localhost:65535", "localhost", 65535, NULL},
        {"v: 65536", NULL, 0, "value 65536 is out of range [0, 65535]"},
        {"v: -1", NULL, 0, "value -1 is out of range [0, 65535]"},
        {"v: \"::1:80\"", NULL, 0, "invalid listen address '::1:80'"},
        {"v: \"[::1]\"", NULL, 0, "invalid listen address '[::1]'"},
        {"v: \"[]:80\"", NULL, 0, "invalid listen address '[]:80'"},
        {"v: host:99999", NULL, 0, "expected a port number in [0, 65535]"},
        {"v: \"host:\"", NULL, 0, "expected a port number in [0, 65535]"},
        {"v: \":80\"", NULL, 0, "invalid listen address ':80'"},
        {"v: true", NULL, 0, "expected a port or \"address:port\", got 'true'"},
        {"v: [80]", NULL, 0, "expected a port or \"address:port\", got a list"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kz_diag_t diag = {apr_array_make(kz_test_pool, 1, sizeof(char *)),
                          apr_array_make(kz_test_pool, 1, sizeof(char *))};
        kz_value_t *root;
        kz_listen_addr_t addr;
        const char *err;

        CU_ASSERT_EQUAL_FATAL(
            kz_yaml_parse(&root, &diag, "l.yaml", rows[i].yaml, strlen(rows[i].yaml), kz_test_pool),
            APR_SUCCESS);
        err = kz_listen_parse(&addr, APR_ARRAY_IDX(root->items, 0, kz_pair_t).value, kz_test_pool);
        if (rows[i].error) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(err);
            CU_ASSERT_STRING_EQUAL(err, rows[i].error);
            continue;
        }
        CU_ASSERT_PTR_NULL_FATAL(err);
        CU_ASSERT_EQUAL(addr.port, rows[i].port);
        if (rows[i].host) {
            CU_ASSERT_STRING_EQUAL(addr.host, rows[i].host);
        } else {
            CU_ASSERT_PTR_NULL(addr.host);
        }
    }
}

/* ---- messages -------------------------------------------------------------------------- */

typedef struct diag_row {
    const char *label;
    const char *yaml;
    int error; /* 1: the load fails with exactly this error; 0: it loads with this warning */
    const char *message;
} diag_row_t;

static const diag_row_t diag_rows[] = {
    {"wrong type: bool", "global:\n  allowDoubleSlashes: yes\n", 1,
     "t.yaml:2:23: error: property 'allowDoubleSlashes': expected a boolean (true or false), got "
     "'yes'"},
    {"wrong type: quoted integer", "global:\n  maximumRequestHeaderCount: \"50\"\n", 1,
     "t.yaml:2:30: error: property 'maximumRequestHeaderCount': expected an integer, got '50'"},
    {"wrong type: map for a string", "hosts:\n  - domain: a.example\n    wwwroot: {a: b}\n", 1,
     "t.yaml:3:14: error: property 'wwwroot': expected a string, got a map"},
    {"wrong type: int or null", "global:\n  timeout: never\n", 1,
     "t.yaml:2:12: error: property 'timeout': expected an integer or null, got 'never'"},
    {"wrong type: list item", "global:\n  cgiScriptExtensions:\n    - .php\n    - [x]\n", 1,
     "t.yaml:4:7: error: property 'cgiScriptExtensions': expected a string in the list, got a "
     "list"},
    {"wrong type: port", "global:\n  port: [80]\n", 1,
     "t.yaml:2:9: error: property 'port': expected a port or \"address:port\", got a list"},
    {"out of range: below", "global:\n  maximumRequestHeaderCount: 0\n", 1,
     "t.yaml:2:30: error: property 'maximumRequestHeaderCount': value 0 is out of range [1, "
     "10000]"},
    {"out of range: above", "global:\n  keepAliveTimeout: 3600001\n", 1,
     "t.yaml:2:21: error: property 'keepAliveTimeout': value 3600001 is out of range [0, "
     "3600000]"},
    {"out of range: port", "global:\n  port: 70000\n", 1,
     "t.yaml:2:9: error: property 'port': value 70000 is out of range [0, 65535]"},
    {"global-only in a host", "hosts:\n  - domain: a.example\n    port: 80\n", 1,
     "t.yaml:3:5: error: property 'port': only allowed in 'global'"},
    {"global-only in a location",
     "hosts:\n  - domain: a.example\n    locations:\n      - path: /x\n        timeout: 5\n", 1,
     "t.yaml:5:9: error: property 'timeout': only allowed in 'global'"},
    {"global-only in errorConfig",
     "hosts:\n  - domain: a.example\n    errorConfig:\n      - scode: 404\n        workers: 2\n", 1,
     "t.yaml:5:9: error: property 'workers': only allowed in 'global'"},
    {"host key in global", "global:\n  domain: a.example\n", 1,
     "t.yaml:2:3: error: property 'domain': only allowed in 'hosts'"},
    {"location key in a host", "hosts:\n  - domain: a.example\n    path: /x\n", 1,
     "t.yaml:3:5: error: property 'path': only allowed in 'locations'"},
    {"locations nested in a location",
     "hosts:\n  - domain: a\n    locations:\n      - path: /x\n        locations: []\n", 1,
     "t.yaml:5:9: error: property 'locations': only allowed in 'hosts'"},
    {"unknown property", "global:\n  fooBar: 1\n", 0,
     "t.yaml:2:3: warning: property 'fooBar': unknown property"},
    {"unknown property in a location",
     "hosts:\n  - domain: a\n    locations:\n      - path: /x\n        wwwRoot: /y\n", 0,
     "t.yaml:5:9: warning: property 'wwwRoot': unknown property"},
    {"unknown top-level key", "globals:\n  port: 80\n", 0,
     "t.yaml:1:1: warning: unknown top-level key 'globals'"},
    {"not supported yet", "global:\n  secure: true\n", 0,
     "t.yaml:2:3: warning: property 'secure': not supported by this build yet; ignored"},
    {"module not available", "global:\n  loadModules: fproxy\n", 0,
     "t.yaml:2:16: warning: property 'loadModules': module 'fproxy' is not available in this "
     "build yet"},
    {"host without domain or ip", "hosts:\n  - wwwroot: /x\n", 1,
     "t.yaml:2:5: error: a host needs 'domain' or 'ip'"},
    {"host not a map", "hosts:\n  - a.example\n", 1, "t.yaml:2:5: error: a host must be a map"},
    {"hosts not a list", "hosts:\n  domain: a\n", 1,
     "t.yaml:2:3: error: 'hosts' must be a list of maps"},
    {"global not a map", "global: [port]\n", 1, "t.yaml:1:9: error: 'global' must be a map"},
    {"top level not a map", "- global\n", 1, "t.yaml:1:1: error: the top level must be a map"},
    {"location without path", "hosts:\n  - domain: a\n    locations:\n      - wwwroot: /x\n", 1,
     "t.yaml:4:9: error: a location needs 'path'"},
    {"location path not absolute", "hosts:\n  - domain: a\n    locations:\n      - path: x/y\n", 1,
     "t.yaml:4:15: error: property 'path': must start with '/'"},
    {"locations not a list", "hosts:\n  - domain: a\n    locations: {path: /x}\n", 1,
     "t.yaml:3:16: error: property 'locations': expected a list of maps"},
    {"scode out of range", "hosts:\n  - domain: a\n    errorConfig:\n      - scode: 600\n", 1,
     "t.yaml:4:16: error: property 'scode': value 600 is out of range [100, 599]"},
    {"bad YAML syntax", "global:\n  port: [8080\nhosts: []\n", 1,
     "t.yaml:3:6: error: while parsing a flow sequence did not find expected ',' or ']'"},
    {"bad YAML: tab indentation", "global:\n\tport: 80\n", 1,
     "t.yaml:2:1: error: while scanning for the next token found character that cannot start "
     "any token"},
    {"bad YAML: invalid UTF-8", "global:\n  serverHeader: \"\xff\"\n", 1,
     "t.yaml:2:18: error: invalid leading UTF-8 octet"},
    {"alias refused",
     "global:\n  customHeaders: &h\n    X-A: b\nhosts:\n  - domain: a\n"
     "    customHeaders: *h\n",
     1, "t.yaml:6:20: error: YAML aliases (*h) are not supported"},
    {"NUL in a string", "global:\n  serverHeader: \"a\\0b\"\n", 1,
     "t.yaml:2:17: error: a NUL character is not allowed in a string"},
    {"map key not a scalar", "global:\n  [a]: 1\n", 1,
     "t.yaml:2:3: error: a map key must be a scalar"},
    {"bad customHeaders name", "global:\n  customHeaders:\n    X-Ok: a\n    \"Bad Name\": b\n", 1,
     "t.yaml:4:5: error: property 'customHeaders': invalid header name 'Bad Name'"},
    {"customHeaders empty name", "global:\n  customHeaders:\n    \"\": b\n", 1,
     "t.yaml:3:5: error: property 'customHeaders': invalid header name ''"},
    {"customHeaders CRLF injection",
     "global:\n  customHeaders:\n    X-A: \"a\\r\\nSet-Cookie: x\"\n", 1,
     "t.yaml:3:5: error: property 'customHeaders': the value of header 'X-A' has a control "
     "character"},
    {"customHeaders framing", "global:\n  customHeaders:\n    transfer-encoding: chunked\n", 1,
     "t.yaml:3:5: error: property 'customHeaders': header 'transfer-encoding' is set by the "
     "server only"},
    {"customHeaders value not a string", "global:\n  customHeaders:\n    X-A: [1]\n", 1,
     "t.yaml:3:10: error: property 'customHeaders': expected a string as the value, got a list"},
    {"unknown module", "global:\n  loadModules: [cgi, foo]\n", 1,
     "t.yaml:2:22: error: property 'loadModules': module 'foo': no library mod_foo.so in "},
    {"module listed twice", "global:\n  loadModules: [cgi, cgi]\n", 1,
     "t.yaml:2:16: error: property 'loadModules': module 'cgi' is listed twice"},
    {"workers not auto", "global:\n  workers: many\n", 1,
     "t.yaml:2:12: error: property 'workers': expected an integer in [0, 256] or \"auto\""},
    {"serverHeader control char", "global:\n  serverHeader: \"a\\nb\"\n", 1,
     "t.yaml:2:17: error: property 'serverHeader': must not contain control characters"},
    {"wwwroot empty", "global:\n  wwwroot: \"\"\n", 1,
     "t.yaml:2:12: error: property 'wwwroot': must not be empty"},
    {"domain with a slash", "hosts:\n  - domain: a.example/x\n", 1,
     "t.yaml:2:13: error: property 'domain': invalid domain 'a.example/x'"},
    {"tlsMinVersion", "global:\n  tlsMinVersion: TLSv1.0\n", 1,
     "t.yaml:2:18: error: property 'tlsMinVersion': expected \"TLSv1.2\" or \"TLSv1.3\""},
    {"header field larger than the head", "global:\n  maximumRequestHeaderFieldSize: 20000\n", 1,
     "t.yaml:2:34: error: property 'maximumRequestHeaderFieldSize': 20000 exceeds "
     "maximumRequestHeadersSize (16384)"},
    {"head smaller than the default field",
     "global:\n  maximumRequestHeadersSize: 4096\n  maximumRequestLineLength: 4096\n", 1,
     "t.yaml:2:30: error: property 'maximumRequestHeadersSize': 4096 is below "
     "maximumRequestHeaderFieldSize (8192)"},
    {"request line larger than the head", "global:\n  maximumRequestLineLength: 65536\n", 1,
     "t.yaml:2:29: error: property 'maximumRequestLineLength': 65536 exceeds "
     "maximumRequestHeadersSize (16384)"},
    {"include not a string", "include: [5]\n", 1,
     "t.yaml:1:11: error: include: expected a glob string, got 5"},
    {"include matches nothing", "include: no-such-dir/*.yaml\n", 0,
     "t.yaml:1:10: warning: include 'no-such-dir/*.yaml' matches no file"},
};

static void test_messages(void)
{
    for (size_t i = 0; i < sizeof(diag_rows) / sizeof(diag_rows[0]); i++) {
        const diag_row_t *row = &diag_rows[i];
        kz_diag_t *diag;
        apr_status_t rv;
        kz_config_t *cfg = load_str(row->yaml, &diag, &rv);
        const apr_array_header_t *arr = row->error ? diag->errors : diag->warnings;
        int ok = row->error ? (rv == APR_EINVAL && !cfg && diag->errors->nelts == 1)
                            : (rv == APR_SUCCESS && cfg && diag->errors->nelts == 0 &&
                               diag->warnings->nelts == 1);

        /* A message ending in a space is a prefix (the rest names build directories). */
        if (row->message[strlen(row->message) - 1] == ' ') {
            ok = ok && !strncmp(msg_at(arr, 0), row->message, strlen(row->message));
        } else {
            ok = ok && !strcmp(msg_at(arr, 0), row->message);
        }
        if (!ok) {
            fprintf(stderr, "\nrow '%s' (rv %d):\n", row->label, rv);
            dump("error", diag->errors);
            dump("warning", diag->warnings);
        }
        CU_ASSERT(ok);
    }
}

/* Every problem is reported, not only the first. */
static void test_messages_collected(void)
{
    static const char text[] = "global:\n"
                               "  port: x:y\n"
                               "  unknownOne: 1\n"
                               "  keepAliveTimeout: -5\n"
                               "hosts:\n"
                               "  - wwwroot: /a\n"
                               "    maximumConnections: 5\n"
                               "  - domain: ok.example\n"
                               "    allowDoubleSlashes: 1\n";
    static const char *const errors[] = {
        "t.yaml:2:9: error: property 'port': expected a port number in [0, 65535]",
        "t.yaml:4:21: error: property 'keepAliveTimeout': value -5 is out of range [0, 3600000]",
        "t.yaml:7:5: error: property 'maximumConnections': only allowed in 'global'",
        "t.yaml:6:5: error: a host needs 'domain' or 'ip'",
        "t.yaml:9:25: error: property 'allowDoubleSlashes': expected a boolean (true or false), "
        "got '1'",
    };
    kz_diag_t *diag;
    apr_status_t rv;
    kz_config_t *cfg = load_str(text, &diag, &rv);

    CU_ASSERT_EQUAL(rv, APR_EINVAL);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL(diag->errors->nelts, 5);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_STRING_EQUAL(msg_at(diag->errors, i), errors[i]);
    }
    CU_ASSERT_EQUAL(diag->warnings->nelts, 1);
    CU_ASSERT_STRING_EQUAL(msg_at(diag->warnings, 0),
                           "t.yaml:3:3: warning: property 'unknownOne': unknown property");
}

/* ---- files ----------------------------------------------------------------------------- */

static void test_sample_project_karpacz(void)
{
    const char *file = data_path("project-karpacz.yaml");
    const char *warnings[] = {
        "module 'cgi' is not available in this build yet",
        "property 'cgiScriptExtensions': not supported by this build yet; ignored",
    };
    const char *where[] = {":7:7: warning: property 'loadModules': ", ":10:3: warning: "};
    kz_config_t *cfg;
    kz_diag_t *diag;
    const kz_listen_addr_t *addr;

    CU_ASSERT_EQUAL_FATAL(kz_config_load(&cfg, &diag, file, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(diag->errors->nelts, 0);
    CU_ASSERT_EQUAL_FATAL(diag->warnings->nelts, 2);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_STRING_EQUAL(msg_at(diag->warnings, i),
                               apr_pstrcat(kz_test_pool, file, where[i], warnings[i], NULL));
    }
    CU_ASSERT_EQUAL_FATAL(cfg->global.listen->nelts, 1);
    addr = &APR_ARRAY_IDX(cfg->global.listen, 0, kz_listen_addr_t);
    CU_ASSERT_PTR_NULL(addr->host);
    CU_ASSERT_EQUAL(addr->port, 8080);
    CU_ASSERT_STRING_EQUAL(cfg->global.log_path, data_path("access.log"));
    CU_ASSERT_STRING_EQUAL(cfg->global.error_log_path, data_path("error.log"));
    CU_ASSERT_STRING_EQUAL(cfg->global_conf->wwwroot, data_path("wwwroot"));
    CU_ASSERT_EQUAL_FATAL(cfg->global.load_modules->nelts, 1);
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(cfg->global.load_modules, 0, const char *), "cgi");
    CU_ASSERT_EQUAL(cfg->vhosts->nelts, 0);
    CU_ASSERT_EQUAL(kz_conf_get(cfg->global_conf, "enableDirectoryListing")->b, 1);
    /* No host matches, so every request gets the global configuration. */
    CU_ASSERT_PTR_EQUAL(kz_config_select(cfg, "any.example", 11, "::1", "/"), cfg->global_conf);
}

static void test_original_full(void)
{
    kz_config_t *cfg;
    kz_diag_t *diag;
    apr_status_t rv = kz_config_load(&cfg, &diag, data_path("original-full.yaml"), kz_test_pool);

    if (rv != APR_SUCCESS) {
        dump("error", diag->errors);
    }
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT_EQUAL(diag->errors->nelts, 0);
    /* Only "not yet" warnings: nothing the original accepts is unknown or refused. */
    for (int i = 0; i < diag->warnings->nelts; i++) {
        const char *w = msg_at(diag->warnings, i);
        CU_ASSERT(strstr(w, "not supported by this build yet") ||
                  strstr(w, "not available in this build yet"));
    }
    CU_ASSERT_EQUAL(diag->warnings->nelts, 36); /* TLS, HTTP/2-3, ACME and the modules to come */
    CU_ASSERT_EQUAL(cfg->vhosts->nelts, 2);
    CU_ASSERT_EQUAL(cfg->global.request_timeout, 0);
    /* proxyTo was a single string: it is stored as a list of one. */
    CU_ASSERT_EQUAL(kz_conf_get(APR_ARRAY_IDX(cfg->vhosts, 0, kz_vhost_t).conf, "proxyTo")->type,
                    KZ_V_LIST);
}

static void test_defaults(void)
{
    kz_diag_t *diag;
    apr_status_t rv;
    kz_config_t *cfg = load_str("", &diag, &rv);
    const kz_global_t *g;

    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    g = &cfg->global;
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(g->listen, 0, kz_listen_addr_t).port, 80);
    CU_ASSERT_PTR_NULL(APR_ARRAY_IDX(g->listen, 0, kz_listen_addr_t).host);
    CU_ASSERT_PTR_NULL(g->log_path);
    CU_ASSERT_PTR_NULL(g->error_log_path);
    CU_ASSERT_PTR_NULL(g->mime_types_file);
    CU_ASSERT_STRING_EQUAL(g->server_header, "Karpacz");
    CU_ASSERT_EQUAL(g->request_timeout, apr_time_from_sec(300));
    CU_ASSERT_EQUAL(g->header_timeout, apr_time_from_sec(20));
    CU_ASSERT_EQUAL(g->body_timeout, apr_time_from_sec(60));
    CU_ASSERT_EQUAL(g->keepalive_timeout, apr_time_from_sec(30));
    CU_ASSERT_EQUAL(g->shutdown_timeout, apr_time_from_sec(10));
    CU_ASSERT_EQUAL(g->max_request_line, 8192);
    CU_ASSERT_EQUAL(g->max_header_field, 8192);
    CU_ASSERT_EQUAL(g->max_head, 16384);
    CU_ASSERT_EQUAL(g->max_headers, 100);
    CU_ASSERT_EQUAL(g->max_body, 10485760);
    CU_ASSERT_EQUAL(g->max_keepalive_requests, 1000);
    CU_ASSERT_EQUAL(g->max_connections, 16384);
    CU_ASSERT_EQUAL(g->workers, kz_os_ncpu());
    CU_ASSERT_EQUAL(g->load_modules->nelts, 0);
    CU_ASSERT_PTR_NULL(cfg->global_conf->wwwroot);
    CU_ASSERT_PTR_NULL(cfg->global_conf->admin_email);
    CU_ASSERT_EQUAL(cfg->global_conf->custom_headers->nelts, 0);
    CU_ASSERT_EQUAL(cfg->global_conf->allow_double_slashes, 0);
    CU_ASSERT_EQUAL(cfg->global_conf->allow_symlinks_outside, 0);
    CU_ASSERT_EQUAL(diag->warnings->nelts, 0);
}

static void test_global_fields(void)
{
    static const char text[] = "global:\n"
                               "  port: \"[::1]:0\"\n"
                               "  timeout: null\n"
                               "  keepAliveTimeout: 0\n"
                               "  serverHeader: \"\"\n"
                               "  workers: 3\n"
                               "  maximumRequestBodySize: 9007199254740992\n"
                               "  maximumKeepAliveRequests: 0\n"
                               "  mimeTypesFile: /etc/mime.types\n"
                               "  wwwroot: /srv/www///\n"
                               "  allowSymlinksOutsideWwwroot: true\n";
    kz_diag_t *diag;
    apr_status_t rv;
    kz_config_t *cfg = load_str(text, &diag, &rv);
    const kz_global_t *g;

    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    g = &cfg->global;
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(g->listen, 0, kz_listen_addr_t).host, "::1");
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(g->listen, 0, kz_listen_addr_t).port, 0);
    CU_ASSERT_EQUAL(g->request_timeout, 0);
    CU_ASSERT_EQUAL(g->keepalive_timeout, 0);
    CU_ASSERT_STRING_EQUAL(g->server_header, "");
    CU_ASSERT_EQUAL(g->workers, 3);
    CU_ASSERT_EQUAL(g->max_body, (apr_off_t)1 << 53);
    CU_ASSERT_EQUAL(g->max_keepalive_requests, 0);
    CU_ASSERT_STRING_EQUAL(g->mime_types_file, "/etc/mime.types");
    CU_ASSERT_STRING_EQUAL(cfg->global_conf->wwwroot, "/srv/www");
    CU_ASSERT_EQUAL(cfg->global_conf->allow_symlinks_outside, 1);
    /* "auto" and 0 both mean one loop per processor. */
    cfg = load_str("global:\n  workers: auto\n", &diag, &rv);
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT_EQUAL(cfg->global.workers, kz_os_ncpu());
    cfg = load_str("global:\n  workers: 0\n", &diag, &rv);
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT_EQUAL(cfg->global.workers, kz_os_ncpu());
}

static void assert_list(const kz_value_t *v, const char *const *want, int n)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL_FATAL(v->type, KZ_V_LIST);
    CU_ASSERT_EQUAL_FATAL(v->items->nelts, n);
    for (int i = 0; i < n; i++) {
        CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(v->items, i, kz_value_t *)->text, want[i]);
    }
}

static void assert_headers(const kz_conf_t *c, const char *const *want, int n)
{
    CU_ASSERT_EQUAL_FATAL(c->custom_headers->nelts, n);
    for (int i = 0; i < n; i++) {
        const kz_header_pair_t *h = &APR_ARRAY_IDX(c->custom_headers, i, kz_header_pair_t);
        CU_ASSERT_STRING_EQUAL(h->name, want[2 * i]);
        CU_ASSERT_STRING_EQUAL(h->value, want[2 * i + 1]);
    }
}

static void test_merge(void)
{
    static const char *const host_ext[] = {".php", ".cgi"};
    static const char *const loc_ext[] = {".php", ".cgi", ".pl"};
    static const char *const global_hdr[] = {"X-A", "global", "X-B", "global"};
    static const char *const host_hdr[] = {"X-A", "global", "X-B", "host", "X-C", "host"};
    static const char *const loc_hdr[] = {"X-A", "global", "X-B", "host", "X-C", "location"};
    kz_config_t *cfg;
    kz_diag_t *diag;
    const kz_vhost_t *vh;
    const kz_location_t *loc;

    CU_ASSERT_EQUAL_FATAL(kz_config_load(&cfg, &diag, data_path("merge.yaml"), kz_test_pool),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(cfg->vhosts->nelts, 1);
    vh = &APR_ARRAY_IDX(cfg->vhosts, 0, kz_vhost_t);
    CU_ASSERT_EQUAL_FATAL(vh->locations->nelts, 1);
    loc = &APR_ARRAY_IDX(vh->locations, 0, kz_location_t);
    /* Scalars: the nearer scope replaces. */
    CU_ASSERT_STRING_EQUAL(cfg->global_conf->wwwroot, "/srv/global");
    CU_ASSERT_STRING_EQUAL(vh->conf->wwwroot, "/srv/host");
    CU_ASSERT_STRING_EQUAL(loc->conf->wwwroot, "/srv/location");
    CU_ASSERT_STRING_EQUAL(loc->conf->admin_email, "global@example.com");
    CU_ASSERT_EQUAL(vh->conf->allow_double_slashes, 0);
    CU_ASSERT_EQUAL(loc->conf->allow_double_slashes, 1);
    /* Lists: concatenated, outer scope first (a single string counts as a list of one). */
    assert_list(kz_conf_get(vh->conf, "cgiScriptExtensions"), host_ext, 2);
    assert_list(kz_conf_get(loc->conf, "cgiScriptExtensions"), loc_ext, 3);
    /* Maps: merged key by key, the nearer scope wins; the original order is kept. */
    assert_headers(cfg->global_conf, global_hdr, 2);
    assert_headers(vh->conf, host_hdr, 3);
    assert_headers(loc->conf, loc_hdr, 3);
    /* The location's path loses its trailing slash; locations are not a property of a host. */
    CU_ASSERT_STRING_EQUAL(loc->path, "/sub");
    CU_ASSERT_EQUAL(loc->path_len, 4);
    CU_ASSERT_PTR_NULL(kz_conf_get(vh->conf, "locations"));
    CU_ASSERT_STRING_EQUAL(kz_conf_get(vh->conf, "domain")->text, "merge.example");
    /* The global block itself is untouched by the merges. */
    assert_list(kz_conf_get(cfg->global_conf, "cgiScriptExtensions"), host_ext, 1);
}

static void test_include(void)
{
    static const char *const hdr[] = {"X-Main", "main", "X-First", "first"};
    const char *file = data_path("include/main.yaml");
    static const char *const order[] = {"main.example", "first.example", "second.example"};
    kz_config_t *cfg;
    kz_diag_t *diag;
    apr_status_t rv = kz_config_load(&cfg, &diag, file, kz_test_pool);

    if (rv != APR_SUCCESS) {
        dump("error", diag->errors);
    }
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    /* .hidden.yaml (an invalid port) is not matched by '*'. */
    CU_ASSERT_EQUAL(diag->errors->nelts, 0);
    CU_ASSERT_EQUAL(diag->warnings->nelts, 0);
    /* The included global merges over the main one: scalar replaced, map merged. */
    CU_ASSERT_EQUAL(APR_ARRAY_IDX(cfg->global.listen, 0, kz_listen_addr_t).port, 8081);
    assert_headers(cfg->global_conf, hdr, 2);
    /* Hosts: the file's own, then each included file's in sorted name order. */
    CU_ASSERT_EQUAL_FATAL(cfg->vhosts->nelts, 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(cfg->vhosts, i, kz_vhost_t).domain, order[i]);
    }
    /* A relative wwwroot is relative to the file that wrote it. */
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(cfg->vhosts, 2, kz_vhost_t).conf->wwwroot,
                           data_path("include/conf.d/www"));
    /* Included hosts inherit the merged global. */
    assert_headers(APR_ARRAY_IDX(cfg->vhosts, 1, kz_vhost_t).conf, hdr, 2);
}

static void test_include_problems(void)
{
    const char *a = data_path("cycle/a.yaml");
    kz_config_t *cfg;
    kz_diag_t *diag;

    CU_ASSERT_EQUAL(kz_config_load(&cfg, &diag, a, kz_test_pool), APR_EINVAL);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL_FATAL(diag->errors->nelts, 1);
    CU_ASSERT_STRING_EQUAL(msg_at(diag->errors, 0),
                           apr_pstrcat(kz_test_pool, data_path("cycle/b.yaml"),
                                       ":3:11: error: include cycle: '", a,
                                       "' is already being read", NULL));

    CU_ASSERT_EQUAL(kz_config_load(&cfg, &diag, data_path("include/missing.yaml"), kz_test_pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(diag->warnings->nelts, 1);
    CU_ASSERT_STRING_EQUAL(msg_at(diag->warnings, 0),
                           apr_pstrcat(kz_test_pool, data_path("include/missing.yaml"),
                                       ":2:5: warning: include 'nothing/*.yaml' matches no file",
                                       NULL));

    CU_ASSERT_EQUAL(kz_config_load(&cfg, &diag, "/nonexistent/karpacz.yaml", kz_test_pool),
                    APR_EINVAL);
    CU_ASSERT_EQUAL_FATAL(diag->errors->nelts, 1);
    CU_ASSERT(
        !strncmp(msg_at(diag->errors, 0), "/nonexistent/karpacz.yaml: error: cannot read: ", 47));
}

/* A chain of 18 files, each including the next: the 17th include is refused. */
static void test_include_depth(void)
{
    const char *tmp = NULL;
    char *dir;
    kz_config_t *cfg;
    kz_diag_t *diag;

    CU_ASSERT_EQUAL_FATAL(apr_temp_dir_get(&tmp, kz_test_pool), APR_SUCCESS);
    dir = apr_psprintf(kz_test_pool, "%s/kz_cfg_depth_%" APR_TIME_T_FMT, tmp, apr_time_now());
    CU_ASSERT_EQUAL_FATAL(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, kz_test_pool), APR_SUCCESS);
    for (int i = 0; i < 18; i++) {
        apr_file_t *f;
        char *name = apr_psprintf(kz_test_pool, "%s/f%d.yaml", dir, i);
        CU_ASSERT_EQUAL_FATAL(apr_file_open(&f, name, APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                                            APR_FPROT_OS_DEFAULT, kz_test_pool),
                              APR_SUCCESS);
        apr_file_printf(f, "include: f%d.yaml\n", i + 1);
        apr_file_close(f);
    }
    CU_ASSERT_EQUAL(
        kz_config_load(&cfg, &diag, apr_pstrcat(kz_test_pool, dir, "/f0.yaml", NULL), kz_test_pool),
        APR_EINVAL);
    CU_ASSERT_EQUAL(diag->errors->nelts, 1);
    CU_ASSERT_STRING_EQUAL(msg_at(diag->errors, 0),
                           apr_psprintf(kz_test_pool,
                                        "%s/f15.yaml:1:10: error: include nesting deeper than 16 "
                                        "files",
                                        dir));
    for (int i = 0; i < 18; i++) {
        apr_file_remove(apr_psprintf(kz_test_pool, "%s/f%d.yaml", dir, i), kz_test_pool);
    }
    apr_dir_remove(dir, kz_test_pool);
}

/* ---- selection ------------------------------------------------------------------------- */

static void test_select(void)
{
    static const struct {
        const char *label, *host, *local_ip, *path, *want;
    } rows[] = {
        {"exact", "exact.example", "203.0.113.9", "/", "exact"},
        {"exact, any case, port stripped", "EXACT.Example:80", "203.0.113.9", "/", "exact"},
        {"exact with a trailing dot", "exact.example.", "203.0.113.9", "/", "exact"},
        {"a longer name is not exact", "xexact.example", "203.0.113.9", "/", "catch-all"},
        {"wildcard: the bare domain", "wild.example", "203.0.113.9", "/", "wild"},
        {"wildcard: one label", "a.wild.example", "203.0.113.9", "/", "wild"},
        {"wildcard: two labels", "a.b.WILD.example:443", "203.0.113.9", "/", "wild"},
        {"wildcard: not a label boundary", "xwild.example", "203.0.113.9", "/", "catch-all"},
        {"domain with a port: same port", "port.example:8080", "203.0.113.9", "/", "port"},
        {"domain with a port: other port", "port.example:80", "203.0.113.9", "/", "catch-all"},
        {"domain with a port: no port", "port.example", "203.0.113.9", "/", "catch-all"},
        {"IPv6 literal, port stripped", "[::1]:8080", "203.0.113.9", "/", "v6"},
        {"IPv6 literal", "[::1]", "203.0.113.9", "/", "v6"},
        {"localhost means ::1", "ipd.example", "::1", "/", "ipd"},
        {"localhost means 127.0.0.1", "ipd.example", "127.0.0.1", "/", "ipd"},
        {"IPv4-mapped loopback", "ipd.example", "::ffff:127.0.0.1", "/", "ipd"},
        {"ip must match too", "ipd.example", "203.0.113.9", "/", "catch-all"},
        {"no local ip skips the ip test", "ipd.example", NULL, "/", "ipd"},
        {"first match wins", "first.example", "203.0.113.9", "/", "first"},
        {"location: equal", "loc.example", "203.0.113.9", "/a", "loc-a"},
        {"location: trailing slash", "loc.example", "203.0.113.9", "/a/", "loc-a"},
        {"location: child", "loc.example", "203.0.113.9", "/a/b/c", "loc-a"},
        {"location: /ab is not under /a", "loc.example", "203.0.113.9", "/ab", "loc-root"},
        {"location: root", "loc.example", "203.0.113.9", "/", "loc-root"},
        {"no path: the host", "loc.example", "203.0.113.9", NULL, "loc"},
        {"ip-only host", "whatever.example", "192.0.2.1", "/", "ip-only"},
        {"ip-only host, mapped", "whatever.example", "::ffff:192.0.2.1", "/", "ip-only"},
        {"catch-all", "other.example", "203.0.113.9", "/", "catch-all"},
        {"no Host header: only '*'", NULL, "203.0.113.9", "/", "catch-all"},
    };
    kz_config_t *cfg;
    kz_diag_t *diag;

    CU_ASSERT_EQUAL_FATAL(kz_config_load(&cfg, &diag, data_path("select.yaml"), kz_test_pool),
                          APR_SUCCESS);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *host = rows[i].host;
        /* The Host value is not NUL-terminated in a request buffer: pass it with junk after. */
        const char *buf = host ? apr_pstrcat(kz_test_pool, host, "junk", NULL) : NULL;
        const kz_conf_t *c =
            kz_config_select(cfg, buf, host ? strlen(host) : 0, rows[i].local_ip, rows[i].path);
        const char *got = c && c->admin_email ? c->admin_email : "(global)";

        if (strcmp(got, rows[i].want) != 0) {
            fprintf(stderr, "\nrow '%s': got %s\n", rows[i].label, got);
        }
        CU_ASSERT_STRING_EQUAL(got, rows[i].want);
    }
}

static void test_select_global_fallback(void)
{
    static const char text[] = "global:\n"
                               "  serverAdministratorEmail: g\n"
                               "hosts:\n"
                               "  - domain: a.example\n"
                               "    serverAdministratorEmail: a\n";
    kz_diag_t *diag;
    apr_status_t rv;
    kz_config_t *cfg = load_str(text, &diag, &rv);

    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(kz_config_select(cfg, "a.example", 9, NULL, "/")->admin_email, "a");
    CU_ASSERT_PTR_EQUAL(kz_config_select(cfg, "b.example", 9, NULL, "/"), cfg->global_conf);
    CU_ASSERT_PTR_EQUAL(kz_config_select(cfg, NULL, 0, NULL, "/"), cfg->global_conf);
    CU_ASSERT_PTR_EQUAL(kz_config_select(cfg, "", 0, NULL, "/"), cfg->global_conf);
    CU_ASSERT_STRING_EQUAL(kz_config_select(cfg, "b.example", 9, NULL, "/")->admin_email, "g");
}

static const kz_test_case_t cases[] = {
    {"yaml scalar types", test_yaml_scalar_types},
    {"yaml positions", test_yaml_positions},
    {"yaml documents", test_yaml_documents},
    {"yaml nesting bound", test_yaml_nesting_bound},
    {"registry core", test_registry_core},
    {"registry register", test_registry_register},
    {"registry print table", test_registry_print_table},
    {"listen parse", test_listen_parse},
    {"messages", test_messages},
    {"messages collected", test_messages_collected},
    {"sample project-karpacz.yaml", test_sample_project_karpacz},
    {"original full", test_original_full},
    {"defaults", test_defaults},
    {"global fields", test_global_fields},
    {"merge", test_merge},
    {"include", test_include},
    {"include problems", test_include_problems},
    {"include depth", test_include_depth},
    {"select", test_select},
    {"select global fallback", test_select_global_fallback},
    {NULL, NULL},
};

KZ_TEST_SUITE(config, cases)
