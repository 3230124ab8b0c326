/*
 * The property registry: every configuration key Karpacz knows, with its type, scopes, default,
 * owner and one line of documentation (karpacz-behaviour.md §1, "Properties"). The core's own
 * properties are built in; the properties of modules and features still to be written are
 * registered as placeholders under their owner's name, so the original's configurations load
 * with warnings instead of "unknown property". Also type-checks values and prints the table.
 */
#include "config.h"
#include "errors.h"
#include "ncodes.h"
#include "rewrite.h"
#include "rproxy.h"
#include "static.h"

#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <string.h>

#define G    KZ_SCOPE_GLOBAL
#define H    KZ_SCOPE_ANY
#define TODO " (not implemented yet)"

/* ---- check functions ------------------------------------------------------------------- */

static int is_scalar(const kz_value_t *v)
{
    return v->type == KZ_V_STR || v->type == KZ_V_INT || v->type == KZ_V_BOOL;
}

static const char *check_nonempty(const kz_value_t *v, apr_pool_t *p)
{
    return *v->text ? NULL : "must not be empty";
}

static int is_tchar(int c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int has_ctl(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            return 1;
        }
    }
    return 0;
}

/* RFC 9110 §5.1 and §5.5: a field name is a token; a value has no control characters. */
static const char *check_custom_headers(const kz_value_t *v, apr_pool_t *p)
{
    for (int i = 0; i < v->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(v->items, i, kz_pair_t);
        const char *s = pair->key;

        for (; *s && is_tchar((unsigned char)*s); s++) {
        }
        if (!*pair->key || *s) {
            return apr_psprintf(p, "invalid header name '%s'", pair->key);
        }
        /* The server frames every response itself; a configured length would corrupt it. */
        if (!apr_cstr_casecmp(pair->key, "Content-Length") ||
            !apr_cstr_casecmp(pair->key, "Transfer-Encoding")) {
            return apr_psprintf(p, "header '%s' is set by the server only", pair->key);
        }
        if (has_ctl(pair->value->text)) {
            return apr_psprintf(p, "the value of header '%s' has a control character", pair->key);
        }
    }
    return NULL;
}

static const char *check_header_value(const kz_value_t *v, apr_pool_t *p)
{
    return has_ctl(v->text) ? "must not contain control characters" : NULL;
}

/* Module names become file names (mod_NAME.so), so they are plain words. */
static const char *check_load_modules(const kz_value_t *v, apr_pool_t *p)
{
    int n = v->type == KZ_V_LIST ? v->items->nelts : 1;

    for (int i = 0; i < n; i++) {
        const char *name =
            v->type == KZ_V_LIST ? APR_ARRAY_IDX(v->items, i, kz_value_t *)->text : v->text;
        const char *c = name;

        for (; *c && (apr_isalnum(*c) || *c == '_'); c++) {
        }
        if (!*name || *c || strlen(name) > 64) {
            return apr_psprintf(p, "invalid module name '%s' (letters, digits and '_')", name);
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(name, APR_ARRAY_IDX(v->items, j, kz_value_t *)->text)) {
                return apr_psprintf(p, "module '%s' is listed twice", name);
            }
        }
    }
    return NULL;
}

static const char *check_workers(const kz_value_t *v, apr_pool_t *p)
{
    if (v->type == KZ_V_INT && v->i >= 0 && v->i <= 256) {
        return NULL;
    }
    if (v->type == KZ_V_STR && !strcmp(v->text, "auto")) {
        return NULL;
    }
    return "expected an integer in [0, 256] or \"auto\"";
}

static const char *check_location_path(const kz_value_t *v, apr_pool_t *p)
{
    return v->text[0] == '/' ? NULL : "must start with '/'";
}

/* "*", "*.name", "name", each optionally with ":port"; "[v6]" literals too. */
static const char *check_domain(const kz_value_t *v, apr_pool_t *p)
{
    const char *s = v->text;

    if (s[0] == '*' && (s[1] == '\0' || s[1] == '.' || s[1] == ':')) {
        s++;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("-._:[]", *s)) {
            return apr_psprintf(p, "invalid domain '%s'", v->text);
        }
    }
    return *v->text ? NULL : "must not be empty";
}

static const char *check_tls_version(const kz_value_t *v, apr_pool_t *p)
{
    if (!strcmp(v->text, "TLSv1.2") || !strcmp(v->text, "TLSv1.3")) {
        return NULL;
    }
    return "expected \"TLSv1.2\" or \"TLSv1.3\"";
}

static const char *check_map(const kz_value_t *v, apr_pool_t *p)
{
    return v->type == KZ_V_MAP ? NULL : "expected a map";
}

static const char *check_list_of_maps(const kz_value_t *v, apr_pool_t *p)
{
    if (v->type != KZ_V_LIST) {
        return "expected a list of maps";
    }
    for (int i = 0; i < v->items->nelts; i++) {
        if (APR_ARRAY_IDX(v->items, i, kz_value_t *)->type != KZ_V_MAP) {
            return "expected a list of maps";
        }
    }
    return NULL;
}

static const char *check_map_of_maps(const kz_value_t *v, apr_pool_t *p)
{
    if (v->type != KZ_V_MAP) {
        return "expected a map of maps";
    }
    for (int i = 0; i < v->items->nelts; i++) {
        if (APR_ARRAY_IDX(v->items, i, kz_pair_t).value->type != KZ_V_MAP) {
            return "expected a map of maps";
        }
    }
    return NULL;
}

/* {".ext": [argv...] or null}: null deletes a built-in entry. */
static const char *check_interpreters(const kz_value_t *v, apr_pool_t *p)
{
    if (v->type != KZ_V_MAP) {
        return "expected a map of extension to a list of strings or null";
    }
    for (int i = 0; i < v->items->nelts; i++) {
        const kz_value_t *argv = APR_ARRAY_IDX(v->items, i, kz_pair_t).value;

        if (argv->type == KZ_V_NULL) {
            continue;
        }
        if (argv->type != KZ_V_LIST || argv->items->nelts == 0) {
            return "expected a map of extension to a list of strings or null";
        }
        for (int j = 0; j < argv->items->nelts; j++) {
            if (!is_scalar(APR_ARRAY_IDX(argv->items, j, kz_value_t *))) {
                return "expected a map of extension to a list of strings or null";
            }
        }
    }
    return NULL;
}

/* ---- the built-in table ---------------------------------------------------------------- */

#define MS_MAX 3600000
#define SZ_MAX ((apr_int64_t)1 << 53)

static const kz_property_t core_properties[] = {
    /* Structure keys, registered so that they are not "unknown". */
    {"domain", KZ_PT_STRING, KZ_SCOPE_HOST, "-", "core", 0, 0,
     "Host name this host answers (`*`, `*.example.com`, optional `:port`)", check_domain},
    {"ip", KZ_PT_STRING, KZ_SCOPE_HOST, "-", "core", 0, 0,
     "Local address this host answers on (`localhost` means either loopback)", check_nonempty},
    {"locations", KZ_PT_ANY, KZ_SCOPE_HOST, "-", "core", 0, 0,
     "Per-path overrides: a list of maps, each with `path`", check_list_of_maps},
    {"path", KZ_PT_STRING, KZ_SCOPE_LOCATION, "-", "core", 0, 0,
     "Path of a location; it matches itself and everything below it", check_location_path},
    {"errorConfig", KZ_PT_ANY, G | KZ_SCOPE_HOST | KZ_SCOPE_LOCATION, "-", "core", 0, 0,
     "Overrides used when a request ends in an error: a list of maps, `scode` optional",
     check_list_of_maps},
    {"scode", KZ_PT_INT, KZ_SCOPE_ERROR, "-", "core", 100, 599,
     "Status code an errorConfig entry applies to (all when absent)", NULL},
    /* Listening and logging. */
    {"port", KZ_PT_LISTEN, G, "80", "core", 0, 65535,
     "Port, or `address:port` / `[v6]:port`, of the HTTP listener; 0 picks a free port", NULL},
    {"logFilePath", KZ_PT_STRING, G, "-", "core", 0, 0,
     "Access log file (Combined Log Format), relative to the configuration file", check_nonempty},
    {"errorLogFilePath", KZ_PT_STRING, G, "-", "core", 0, 0,
     "Error log file, relative to the configuration file", check_nonempty},
    /* Running as a daemon (karpacz -d) and dropping privileges. */
    {"pidFile", KZ_PT_STRING, G, "-", "core", 0, 0,
     "With -d: file holding the supervisor's process id, relative to the configuration file "
     "(none by default; the package uses /run/karpacz/karpacz.pid)",
     check_nonempty},
    {"user", KZ_PT_STRING, G, "-", "core", 0, 0,
     "User to switch to once the listening sockets are bound and the logs open (root only)",
     check_nonempty},
    {"group", KZ_PT_STRING, G, "-", "core", 0, 0,
     "Group to switch to with `user` (default: that user's primary group)", check_nonempty},
    {"loadModules", KZ_PT_STRING_LIST, G, "-", "core", 0, 0,
     "Modules to run, in this order: built-in names, or mod_NAME shared libraries",
     check_load_modules},
    {"moduleDirectory", KZ_PT_STRING, G, "-", "core", 0, 0,
     "Where mod_NAME libraries are looked up, relative to the configuration file (default: "
     "`modules/` beside the executable, then the installed module directory)",
     check_nonempty},
    {"serverHeader", KZ_PT_STRING, G, "Karpacz", "core", 0, 0,
     "Value of the Server response field; \"\" sends none", check_header_value},
    {"mimeTypesFile", KZ_PT_STRING, G, "-", "core", 0, 0,
     "mime.types file replacing the built-in table, relative to the configuration file",
     check_nonempty},
    {"workers", KZ_PT_ANY, G, "auto", "core", 0, 256,
     "Event loops (threads), 1 to 256; 0 or \"auto\" runs one per processor", check_workers},
    /* Limits and timeouts (milliseconds). */
    {"timeout", KZ_PT_INT_OR_NULL, G, "300000", "core", 0, APR_INT32_MAX,
     "Deadline for receiving and handling a request, in milliseconds; null or 0 disables it", NULL},
    {"requestHeaderTimeout", KZ_PT_INT, G, "20000", "core", 100, MS_MAX,
     "Time allowed to receive a request head, in milliseconds", NULL},
    {"requestBodyTimeout", KZ_PT_INT, G, "60000", "core", 100, MS_MAX,
     "Time allowed between two reads of a request body, in milliseconds", NULL},
    {"keepAliveTimeout", KZ_PT_INT, G, "30000", "core", 0, MS_MAX,
     "Idle time before a kept-alive connection closes, in milliseconds; 0 disables keep-alive",
     NULL},
    {"gracefulShutdownTimeout", KZ_PT_INT, G, "10000", "core", 0, MS_MAX,
     "Time given to requests in flight when stopping or reloading, in milliseconds", NULL},
    {"maximumRequestLineLength", KZ_PT_INT, G, "8192", "core", 256, 1048576,
     "Longest request line, in bytes (longer: 414)", NULL},
    {"maximumRequestHeaderFieldSize", KZ_PT_INT, G, "8192", "core", 256, 1048576,
     "Longest header field line, in bytes (longer: 431)", NULL},
    {"maximumRequestHeadersSize", KZ_PT_INT, G, "16384", "core", 1024, 4194304,
     "Largest request head, request line included, in bytes (larger: 431)", NULL},
    {"maximumRequestHeaderCount", KZ_PT_INT, G, "100", "core", 1, 10000,
     "Most header fields in one request (more: 431)", NULL},
    {"maximumRequestBodySize", KZ_PT_INT, G, "10485760", "core", 0, SZ_MAX,
     "Largest request body, in bytes (larger: 413)", NULL},
    {"maximumKeepAliveRequests", KZ_PT_INT, G, "1000", "core", 0, 1000000000,
     "Requests served on one connection before it closes; 0 means no limit", NULL},
    {"maximumConnections", KZ_PT_INT, G, "16384", "core", 1, 1000000,
     "Open client connections at most; beyond it accepting pauses", NULL},
    /* Per host and location. */
    {"wwwroot", KZ_PT_STRING, H, "-", "core", 0, 0, "Web root, relative to the configuration file",
     check_nonempty},
    {"serverAdministratorEmail", KZ_PT_STRING, H, "-", "core", 0, 0,
     "Shown on the 500 page; SERVER_ADMIN for CGI", NULL},
    {"customHeaders", KZ_PT_STRING_MAP, H, "-", "core", 0, 0,
     "Response header fields added when the response lacks them", check_custom_headers},
    {"allowDoubleSlashes", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "Keep `//` in request paths instead of collapsing them", NULL},
    {"allowSymlinksOutsideWwwroot", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "Serve files reached through symbolic links that leave the web root", NULL},
};

/* The original's properties for features this build does not have yet. */
static const kz_property_t later_properties[] = {
    {"secure", KZ_PT_BOOL, G, "false", "tls", 0, 0, "Turns on the HTTPS listener" TODO, NULL},
    {"sport", KZ_PT_LISTEN, G, "443", "tls", 0, 65535,
     "Port, or `address:port`, of the HTTPS listener" TODO, NULL},
    {"disableNonEncryptedServer", KZ_PT_BOOL, G, "false", "tls", 0, 0, "Serve HTTPS only" TODO,
     NULL},
    {"cert", KZ_PT_STRING, G, "-", "tls", 0, 0, "Fallback certificate (PEM)" TODO, NULL},
    {"key", KZ_PT_STRING, G, "-", "tls", 0, 0, "Private key of `cert` (PEM)" TODO, NULL},
    {"sni", KZ_PT_ANY, G, "-", "tls", 0, 0, "Certificates per host name: {host: {cert, key}}" TODO,
     check_map_of_maps},
    {"enableHTTP2", KZ_PT_BOOL, G, "true", "http2", 0, 0, "Offer HTTP/2 through ALPN" TODO, NULL},
    {"http2Settings", KZ_PT_ANY, G, "-", "http2", 0, 0,
     "initialWindowSize, maxFrameSize, maxConcurrentStreams, maxHeaderListSize, "
     "enableConnectProtocol" TODO,
     check_map},
    {"enableHTTP3", KZ_PT_BOOL, G, "false", "http3", 0, 0, "HTTP/3 on the UDP sport" TODO, NULL},
    {"tlsMinVersion", KZ_PT_STRING, G, "TLSv1.2", "tls", 0, 0, "Oldest TLS version" TODO,
     check_tls_version},
    {"tlsMaxVersion", KZ_PT_STRING, G, "TLSv1.3", "tls", 0, 0, "Newest TLS version" TODO,
     check_tls_version},
    {"cipherSuite", KZ_PT_STRING_LIST, G, "-", "tls", 0, 0, "TLS cipher suites" TODO, NULL},
    {"ecdhCurve", KZ_PT_STRING_LIST, G, "-", "tls", 0, 0, "Key exchange groups" TODO, NULL},
    {"useClientCertificate", KZ_PT_BOOL, G, "false", "tls", 0, 0,
     "Require client certificates (mTLS)" TODO, NULL},
    {"enableOCSPStapling", KZ_PT_BOOL, G, "true", "tls", 0, 0, "Staple OCSP responses" TODO, NULL},
    {"enableAutomaticTLS", KZ_PT_BOOL, G, "false", "acme", 0, 0,
     "Certificates from Let's Encrypt for the hosts' domains" TODO, NULL},
    {"automaticTLSContactEmail", KZ_PT_STRING, G, "-", "acme", 0, 0, "ACME contact" TODO, NULL},
    {"automaticTLSContactCacheDirectory", KZ_PT_STRING, G, "-", "acme", 0, 0,
     "ACME cache directory (memory only when unset)" TODO, NULL},
    {"automaticTLSLetsEncryptProduction", KZ_PT_BOOL, G, "true", "acme", 0, 0,
     "Use the production ACME directory" TODO, NULL},
    {"useAutomaticTLSHTTPChallenge", KZ_PT_BOOL, G, "false", "acme", 0, 0,
     "Use HTTP-01 instead of TLS-ALPN-01" TODO, NULL},
    {"blocklist", KZ_PT_STRING_LIST, G, "-", "core", 0, 0,
     "Client addresses or CIDR ranges (IPv4, IPv6) answered with 403", kz_blocklist_check},
    {"environmentVariables", KZ_PT_STRING_MAP, G, "-", "env", 0, 0,
     "Variables set in the server process" TODO, NULL},
    {"maximumCacheEntries", KZ_PT_INT_OR_NULL, G, "-", "cache", 0, 1000000000,
     "Most cached responses; null means no limit" TODO, NULL},
    {"loadBalancerHealthCheckWindow", KZ_PT_INT, G, "5000", "rproxy", 0, MS_MAX,
     "Milliseconds in which backend failures are counted (from the first one)", NULL},
    {"disableToHTTPSRedirect", KZ_PT_BOOL, H, "false", "tls", 0, 0,
     "Do not redirect plain HTTP to HTTPS" TODO, NULL},
    {"wwwredirect", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "Redirect (301) a domain without `www.` to `www.` + the domain, port and target kept", NULL},
    {"enableIPSpoofing", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "Take the client address from the first X-Forwarded-For element (invalid: 400)", NULL},
    {"rewriteMap", KZ_PT_ANY, H, "-", "core", 0, 0,
     "URL rewrite rules (PCRE2, `$1` references): [{regex, replacement, isNotFile, "
     "isNotDirectory, allowDoubleSlashes, last}]",
     kz_rewrite_check},
    {"enableRewriteLogging", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "Log each rewrite (\"rewrote A to B\") to the error log", NULL},
    {"disableTrailingSlashRedirects", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "Do not redirect a directory named without its trailing slash (serve its index there)", NULL},
    {"enableDirectoryListing", KZ_PT_BOOL, H, "false", "core", 0, 0,
     "List directories that have no index file", NULL},
    {"enableETag", KZ_PT_BOOL, H, "true", "core", 0, 0,
     "Strong ETags on static files, one per content coding", NULL},
    {"enableCompression", KZ_PT_BOOL, H, "true", "core", 0, 0,
     "Compress static files (br, zstd, gzip) as Accept-Encoding allows", NULL},
    {"enablePrecompressedFiles", KZ_PT_BOOL, H, "true", "core", 0, 0,
     "With enableCompression, send file.br, file.zst or file.gz when not older than file", NULL},
    {"compressionMinimumSize", KZ_PT_INT, H, "256", "core", 0, SZ_MAX,
     "Smallest static file compressed on the fly, in bytes", NULL},
    {"compressionCacheSize", KZ_PT_INT, G, "16777216", "core", 0, SZ_MAX,
     "Bytes of compressed static files kept in memory by each worker; 0 keeps none", NULL},
    {"maximumRanges", KZ_PT_INT, H, "16", "core", 1, 1000,
     "Most ranges in one Range request (more: 416); overlapping ranges are merged", NULL},
    {"defaultCharset", KZ_PT_STRING, H, "utf-8", "core", 0, 0,
     "Charset added to text, script, JSON and XML content types; \"\" adds none",
     kz_static_check_charset},
    {"extraMimeTypes", KZ_PT_STRING_MAP, H, "-", "core", 0, 0,
     "Media types by file extension, over the MIME table: {md: text/markdown}",
     kz_static_check_mime_map},
    {"users", KZ_PT_ANY, H, "-", "core", 0, 0,
     "Basic authentication users: [{name, pass}], pass a PHC hash (Argon2, scrypt, PBKDF2)",
     kz_users_check},
    {"nonStandardCodes", KZ_PT_ANY, H, "-", "core", 0, 0,
     "Redirects, authentication and fixed statuses by URL or regex", kz_ncodes_check},
    {"errorPages", KZ_PT_ANY, H, "-", "core", 0, 0,
     "Files served as error pages: [{scode, path}], paths relative to the configuration file",
     kz_errors_check_pages},
    {"proxyTo", KZ_PT_STRING_LIST, H, "-", "rproxy", 0, 0,
     "Backend URL(s) to proxy to: http://host:port[/base], https://..., unix:///path.sock",
     kz_rproxy_check_urls},
    {"secureProxyTo", KZ_PT_STRING_LIST, H, "-", "rproxy", 0, 0,
     "Backend URL(s) for requests that came over TLS (preferred to proxyTo for them)",
     kz_rproxy_check_urls},
    {"loadBalancerMethod", KZ_PT_STRING, H, "random", "rproxy", 0, 0,
     "How a backend is picked: random, round_robin, least_conn, two_random",
     kz_rproxy_check_method},
    {"enableLoadBalancerHealthCheck", KZ_PT_BOOL, H, "false", "rproxy", 0, 0,
     "Skip backends that failed more than loadBalancerHealthCheckMaximumFails times in the window",
     NULL},
    {"loadBalancerHealthCheckMaximumFails", KZ_PT_INT, H, "3", "rproxy", 0, 1000000,
     "Failures within loadBalancerHealthCheckWindow a backend may have and still be picked", NULL},
    {"loadBalancerHealthCheckPath", KZ_PT_STRING, H, "", "rproxy", 0, 0,
     "Path probed with GET on every backend (2xx/3xx: up); \"\" for no active probes", NULL},
    {"loadBalancerHealthCheckInterval", KZ_PT_INT, H, "5000", "rproxy", 100, MS_MAX,
     "Milliseconds between active probes", NULL},
    {"proxyConnectTimeout", KZ_PT_INT, H, "5000", "rproxy", 1, MS_MAX,
     "Milliseconds to connect to a backend (and finish TLS); then 504", NULL},
    {"proxyResponseTimeout", KZ_PT_INT, H, "60000", "rproxy", 1, MS_MAX,
     "Milliseconds from the request sent to the backend's response head; then 504", NULL},
    {"proxyIdleTimeout", KZ_PT_INT, H, "60000", "rproxy", 1, MS_MAX,
     "Milliseconds a backend connection may make no progress (upload, download)", NULL},
    {"proxyKeepaliveConnections", KZ_PT_INT, H, "32", "rproxy", 0, 100000,
     "Idle connections kept per backend and event loop (0: none)", NULL},
    {"proxyKeepaliveTimeout", KZ_PT_INT, H, "15000", "rproxy", 1, MS_MAX,
     "Milliseconds an idle backend connection is kept", NULL},
    {"proxyUpgradeIdleTimeout", KZ_PT_INT, H, "600000", "rproxy", 1, MS_MAX,
     "Milliseconds a WebSocket (or other upgraded) connection may stay silent", NULL},
    {"proxyPreserveHost", KZ_PT_BOOL, H, "false", "rproxy", 0, 0,
     "Send the client's Host to the backend instead of the backend's", NULL},
    {"disableProxyCertificateVerification", KZ_PT_BOOL, H, "false", "rproxy", 0, 0,
     "Do not verify https backends' certificates (chain and host name)", NULL},
    {"proxyInterceptErrors", KZ_PT_BOOL, H, "false", "rproxy", 0, 0,
     "Replace backend 4xx/5xx answers with the server's error pages", NULL},
    {"disableProxyXForwarded", KZ_PT_BOOL, H, "false", "rproxy", 0, 0,
     "Send no X-Forwarded-* to backends, and drop the client's own", NULL},
    {"cacheVaryHeaders", KZ_PT_STRING_LIST, H, "-", "cache", 0, 0,
     "Request headers added to the cache key" TODO, NULL},
    {"cacheIgnoreHeaders", KZ_PT_STRING_LIST, H, "-", "cache", 0, 0,
     "Response headers not stored in the cache" TODO, NULL},
    {"maximumCacheResponseSize", KZ_PT_INT_OR_NULL, H, "-", "cache", 0, SZ_MAX,
     "Largest cached response, in bytes; null means no limit" TODO, NULL},
    {"maximumCachedResponseSize", KZ_PT_INT_OR_NULL, H, "-", "cache", 0, SZ_MAX,
     "The spelling the original's cache read; same as maximumCacheResponseSize" TODO, NULL},
    {"cgiScriptExtensions", KZ_PT_STRING_LIST, H, "-", "cgi", 0, 0,
     "Extensions run as CGI outside /cgi-bin" TODO, NULL},
    {"cgiScriptInterpreters", KZ_PT_ANY, H, "-", "cgi", 0, 0,
     "Interpreter per extension: {\".ext\": [argv] or null}" TODO, check_interpreters},
    {"fcgiTo", KZ_PT_STRING, H, "tcp://localhost:4000/", "fcgi", 0, 0,
     "FastCGI backend (`tcp://host:port/` or `unix:///path`)" TODO, NULL},
    {"fcgiPath", KZ_PT_STRING, H, "-", "fcgi", 0, 0, "URL prefix sent to FastCGI" TODO, NULL},
    {"fcgiScriptExtensions", KZ_PT_STRING_LIST, H, "-", "fcgi", 0, 0,
     "Extensions sent to FastCGI" TODO, NULL},
    {"scgiTo", KZ_PT_STRING, H, "tcp://localhost:4000/", "scgi", 0, 0,
     "SCGI backend (`tcp://host:port/` or `unix:///path`)" TODO, NULL},
    {"scgiPath", KZ_PT_STRING, H, "-", "scgi", 0, 0, "URL prefix sent to SCGI" TODO, NULL},
    {"authTo", KZ_PT_STRING, H, "-", "fauth", 0, 0, "Forward-authentication URL" TODO, NULL},
    {"forwardedAuthCopyHeaders", KZ_PT_STRING_LIST, H, "-", "fauth", 0, 0,
     "Headers copied from the authentication response" TODO, NULL},
};

/* ---- the registry ---------------------------------------------------------------------- */

#define KZ_PROPERTY_MAX   1024
#define KZ_PROPERTY_SLOTS 2048 /* a power of two, twice the maximum */

static const kz_property_t *registry[KZ_PROPERTY_MAX];
static int nregistry;
static short slots[KZ_PROPERTY_SLOTS]; /* index + 1 into registry; 0 = empty */
static int core_done;

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

/* Returns the slot holding name, or the empty slot where it would go. */
static short *find_slot(const char *name)
{
    unsigned i = name_hash(name) & (KZ_PROPERTY_SLOTS - 1);

    while (slots[i] && strcmp(registry[slots[i] - 1]->name, name) != 0) {
        i = (i + 1) & (KZ_PROPERTY_SLOTS - 1);
    }
    return &slots[i];
}

static void add_properties(const kz_property_t *props, int count)
{
    for (int i = 0; i < count; i++) {
        short *slot = find_slot(props[i].name);

        if (*slot) {
            registry[*slot - 1] = &props[i];
        } else if (nregistry < KZ_PROPERTY_MAX) {
            registry[nregistry++] = &props[i];
            *slot = (short)nregistry;
        }
    }
}

static void ensure_core(void)
{
    if (!core_done) {
        core_done = 1;
        add_properties(core_properties, sizeof(core_properties) / sizeof(*core_properties));
        add_properties(later_properties, sizeof(later_properties) / sizeof(*later_properties));
    }
}

void kz_property_register(const kz_property_t *props, int count)
{
    ensure_core();
    add_properties(props, count);
}

const kz_property_t *kz_property_find(const char *name)
{
    short *slot;

    ensure_core();
    slot = find_slot(name);
    return *slot ? registry[*slot - 1] : NULL;
}

void kz_property_each(void (*fn)(const kz_property_t *prop, void *baton), void *baton)
{
    ensure_core();
    for (int i = 0; i < nregistry; i++) {
        fn(registry[i], baton);
    }
}

/* ---- validation ------------------------------------------------------------------------ */

static const char *describe(const kz_value_t *v, apr_pool_t *p)
{
    switch (v->type) {
    case KZ_V_NULL:
        return "null";
    case KZ_V_LIST:
        return "a list";
    case KZ_V_MAP:
        return "a map";
    default:
        return apr_psprintf(p, "'%s'", v->text);
    }
}

static const char *check_range(const kz_property_t *prop, const kz_value_t *v, apr_pool_t *p)
{
    if (v->i < prop->min || v->i > prop->max) {
        return apr_psprintf(p,
                            "value %" APR_INT64_T_FMT " is out of range [%" APR_INT64_T_FMT
                            ", %" APR_INT64_T_FMT "]",
                            v->i, prop->min, prop->max);
    }
    return NULL;
}

static const char *check_items(const kz_value_t *v, const kz_value_t **at, const char *what,
                               apr_pool_t *p)
{
    for (int i = 0; i < v->items->nelts; i++) {
        const kz_value_t *item = v->type == KZ_V_LIST ? APR_ARRAY_IDX(v->items, i, kz_value_t *)
                                                      : APR_ARRAY_IDX(v->items, i, kz_pair_t).value;
        if (!is_scalar(item)) {
            *at = item;
            return apr_psprintf(p, "expected %s, got %s", what, describe(item, p));
        }
    }
    return NULL;
}

static const char *check_type(const kz_property_t *prop, const kz_value_t *v, const kz_value_t **at,
                              apr_pool_t *p)
{
    const char *what = NULL;

    switch (prop->type) {
    case KZ_PT_BOOL:
        what = v->type == KZ_V_BOOL ? NULL : "a boolean (true or false)";
        break;
    case KZ_PT_INT:
        if (v->type == KZ_V_INT) {
            return check_range(prop, v, p);
        }
        what = "an integer";
        break;
    case KZ_PT_INT_OR_NULL:
        if (v->type == KZ_V_INT) {
            return check_range(prop, v, p);
        }
        what = v->type == KZ_V_NULL ? NULL : "an integer or null";
        break;
    case KZ_PT_STRING:
        what = is_scalar(v) ? NULL : "a string";
        break;
    case KZ_PT_LISTEN: {
        kz_listen_addr_t addr;
        return kz_listen_parse(&addr, v, p);
    }
    case KZ_PT_STRING_LIST:
        if (v->type == KZ_V_LIST) {
            return check_items(v, at, "a string in the list", p);
        }
        what = is_scalar(v) ? NULL : "a string or a list of strings";
        break;
    case KZ_PT_STRING_MAP:
        if (v->type == KZ_V_MAP) {
            return check_items(v, at, "a string as the value", p);
        }
        what = "a map of strings";
        break;
    case KZ_PT_ANY:
        break;
    }
    return what ? apr_psprintf(p, "expected %s, got %s", what, describe(v, p)) : NULL;
}

static kz_value_t *empty(const kz_value_t *v, apr_pool_t *p)
{
    kz_value_t *none = apr_pmemdup(p, v, sizeof(*v));

    none->items = apr_array_make(p, 1, v->items->elt_size);
    return none;
}

/* A copy of container v holding only item i, placed where that item (or its key) is. */
static kz_value_t *one_item(const kz_value_t *v, int i, apr_pool_t *p)
{
    kz_value_t *one = apr_pmemdup(p, v, sizeof(*v));

    one->items = apr_array_make(p, 1, v->items->elt_size);
    if (v->type == KZ_V_LIST) {
        kz_value_t *item = APR_ARRAY_IDX(v->items, i, kz_value_t *);
        APR_ARRAY_PUSH(one->items, kz_value_t *) = item;
        one->line = item->line;
        one->col = item->col;
    } else {
        const kz_pair_t *pair = &APR_ARRAY_IDX(v->items, i, kz_pair_t);
        APR_ARRAY_PUSH(one->items, kz_pair_t) = *pair;
        one->line = pair->line;
        one->col = pair->col;
    }
    return one;
}

const char *kz_property_validate(const kz_property_t *prop, const kz_value_t *value,
                                 const kz_value_t **at, apr_pool_t *p)
{
    const char *msg;

    *at = value;
    if ((msg = check_type(prop, value, at, p)) != NULL || !prop->check) {
        return msg;
    }
    if (!(msg = prop->check(value, p))) {
        return NULL;
    }
    /*
     * Point at the first item that fails alone. A failure that an empty container shares (a
     * wrong container type) or that needs several items stays on the whole value.
     */
    if ((value->type == KZ_V_LIST || value->type == KZ_V_MAP) && !prop->check(empty(value, p), p)) {
        for (int i = 0; i < value->items->nelts; i++) {
            kz_value_t *one = one_item(value, i, p);
            const char *item_msg = prop->check(one, p);

            if (item_msg) {
                *at = one;
                return item_msg;
            }
        }
    }
    return msg;
}

/* ---- listen values --------------------------------------------------------------------- */

static const char *parse_port(const char *s, apr_port_t *port)
{
    apr_int64_t n = 0;
    const char *d = s;

    for (; apr_isdigit(*d) && d - s < 6; d++) {
        n = n * 10 + (*d - '0');
    }
    if (d == s || *d || n > 65535) {
        return "expected a port number in [0, 65535]";
    }
    *port = (apr_port_t)n;
    return NULL;
}

const char *kz_listen_parse(kz_listen_addr_t *out, const kz_value_t *v, apr_pool_t *p)
{
    const char *s = v->text;
    const char *colon;

    out->host = NULL;
    if (v->type == KZ_V_INT) {
        if (v->i < 0 || v->i > 65535) {
            return apr_psprintf(p, "value %" APR_INT64_T_FMT " is out of range [0, 65535]", v->i);
        }
        out->port = (apr_port_t)v->i;
        return NULL;
    }
    if (v->type != KZ_V_STR) {
        return apr_psprintf(p, "expected a port or \"address:port\", got %s", describe(v, p));
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1 || close[1] != ':' || !memchr(s, ':', close - s)) {
            return apr_psprintf(p, "invalid listen address '%s'", s);
        }
        out->host = apr_pstrmemdup(p, s + 1, close - s - 1);
        return parse_port(close + 2, &out->port);
    }
    colon = strchr(s, ':');
    if (!colon) {
        return parse_port(s, &out->port);
    }
    if (colon == s || strchr(colon + 1, ':') || strcspn(s, " \t/[]") < (size_t)(colon - s)) {
        return apr_psprintf(p, "invalid listen address '%s'", s);
    }
    if (colon - s != 1 || s[0] != '*') {
        out->host = apr_pstrmemdup(p, s, colon - s);
    }
    return parse_port(colon + 1, &out->port);
}

/* ---- the Markdown table ---------------------------------------------------------------- */

static const char *scope_text(unsigned scopes, apr_pool_t *p)
{
    static const char *const names[] = {"global", "host", "location", "error"};
    const char *out = NULL;

    if (scopes == KZ_SCOPE_ANY) {
        return "any";
    }
    for (int i = 0; i < 4; i++) {
        if (scopes & (1u << i)) {
            out = out ? apr_pstrcat(p, out, ", ", names[i], NULL) : names[i];
        }
    }
    return out ? out : "none";
}

static const char *type_text(const kz_property_t *prop, apr_pool_t *p)
{
    switch (prop->type) {
    case KZ_PT_BOOL:
        return "boolean";
    case KZ_PT_INT:
        return apr_psprintf(p, "integer %" APR_INT64_T_FMT "–%" APR_INT64_T_FMT, prop->min,
                            prop->max);
    case KZ_PT_INT_OR_NULL:
        return apr_psprintf(p, "integer %" APR_INT64_T_FMT "–%" APR_INT64_T_FMT " or null",
                            prop->min, prop->max);
    case KZ_PT_STRING:
        return "string";
    case KZ_PT_LISTEN:
        return "port or \"address:port\"";
    case KZ_PT_STRING_LIST:
        return "list of strings";
    case KZ_PT_STRING_MAP:
        return "map of strings";
    default:
        return "see description";
    }
}

/* Markdown cells: a '|' would end the cell. */
static const char *cell(const char *s, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(s) * 2 + 1);
    char *o = out;

    for (; *s; s++) {
        if (*s == '|') {
            *o++ = '\\';
        }
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

typedef struct print_baton {
    FILE *out;
    apr_pool_t *p;
} print_baton_t;

static void print_row(const kz_property_t *prop, void *data)
{
    print_baton_t *b = data;

    fprintf(b->out, "| `%s` | %s | %s | %s | %s | %s |\n", prop->name,
            scope_text(prop->scopes, b->p), cell(type_text(prop, b->p), b->p),
            cell(prop->def, b->p), prop->owner, cell(prop->doc, b->p));
}

void kz_property_print_table(FILE *out)
{
    print_baton_t b = {out, NULL};

    /* An unmanaged pool: the caller may have none (`karpacz -p` runs before anything else). */
    apr_pool_create_unmanaged(&b.p);
    fprintf(out, "| Property | Scope | Type | Default | Owner | Description |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    kz_property_each(print_row, &b);
    apr_pool_destroy(b.p);
}
