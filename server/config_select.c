/*
 * Selection of the configuration of a request (karpacz-behaviour.md §1, "Host selection"): the
 * first host in file order whose domain and ip match, then its first location whose path equals
 * the request path or is a parent of it. It runs for every request, so it allocates nothing,
 * copies nothing and compares case-insensitively in place.
 */
#include "config.h"

#include <apr_lib.h>

#include <string.h>

static int same_ci(const char *a, const char *b, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++) {
        if (apr_tolower(a[i]) != apr_tolower(b[i])) {
            return 0;
        }
    }
    return 1;
}

/* Splits "name:port", "[v6]:port", "name" or "[v6]"; a bare IPv6 address has no port. */
static void split_host(const char *h, apr_size_t len, apr_size_t *name_len, const char **port,
                       apr_size_t *port_len)
{
    const char *colon;

    *name_len = len;
    *port = NULL;
    *port_len = 0;
    if (len > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', len);
        colon = close && close + 1 < h + len && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(h, ':', len);
        if (colon && memchr(colon + 1, ':', len - (apr_size_t)(colon + 1 - h))) {
            colon = NULL;
        }
    }
    if (colon) {
        *name_len = (apr_size_t)(colon - h);
        *port = colon + 1;
        *port_len = len - *name_len - 1;
    }
}

static int domain_match(const kz_vhost_t *vh, const char *host, apr_size_t len)
{
    const char *d = vh->domain, *dport, *hport;
    apr_size_t dlen, dport_len, hlen, hport_len;

    if (d[0] == '*' && d[1] == '\0') {
        return 1;
    }
    if (len == 0) {
        return 0;
    }
    split_host(d, strlen(d), &dlen, &dport, &dport_len);
    split_host(host, len, &hlen, &hport, &hport_len);
    if (vh->domain_has_port &&
        (!hport || hport_len != dport_len || memcmp(hport, dport, hport_len))) {
        return 0;
    }
    if (hlen > 1 && host[hlen - 1] == '.') { /* "example.com." is the same name */
        hlen--;
    }
    if (dlen == 1 && d[0] == '*') {
        return hlen > 0;
    }
    if (dlen >= 2 && d[0] == '*' && d[1] == '.') {
        const char *suffix = d + 2;
        apr_size_t slen = dlen - 2;
        if (hlen == slen) {
            return same_ci(host, suffix, slen);
        }
        return hlen > slen && host[hlen - slen - 1] == '.' &&
               same_ci(host + hlen - slen, suffix, slen);
    }
    return hlen == dlen && same_ci(host, d, dlen);
}

static int ip_match(const char *want, const char *local)
{
    apr_size_t len;

    if (!strncmp(local, "::ffff:", 7) && strchr(local + 7, '.')) {
        local += 7;
    }
    if (!strcmp(want, "localhost")) {
        return !strcmp(local, "::1") || !strcmp(local, "127.0.0.1");
    }
    len = strlen(want);
    return strlen(local) == len && same_ci(want, local, len);
}

const kz_conf_t *kz_vhost_location(const kz_vhost_t *vh, const char *path)
{
    for (int i = 0; path && i < vh->locations->nelts; i++) {
        const kz_location_t *l = &APR_ARRAY_IDX(vh->locations, i, kz_location_t);

        if (!strncmp(path, l->path, l->path_len) &&
            (path[l->path_len] == '\0' || path[l->path_len] == '/' || l->path_len == 1)) {
            return l->conf;
        }
    }
    return vh->conf;
}

const kz_vhost_t *kz_config_vhost(const kz_config_t *config, const char *host, apr_size_t host_len,
                                  const char *local_ip)
{
    if (!host) {
        host_len = 0;
    }
    for (int i = 0; i < config->vhosts->nelts; i++) {
        const kz_vhost_t *vh = &APR_ARRAY_IDX(config->vhosts, i, kz_vhost_t);

        if (vh->ip && local_ip && !ip_match(vh->ip, local_ip)) {
            continue;
        }
        if (vh->domain && !domain_match(vh, host, host_len)) {
            continue;
        }
        return vh;
    }
    return NULL;
}

const kz_conf_t *kz_config_select(const kz_config_t *config, const char *host, apr_size_t host_len,
                                  const char *local_ip, const char *path)
{
    const kz_vhost_t *vh = kz_config_vhost(config, host, host_len, local_ip);

    return vh ? kz_vhost_location(vh, path) : config->global_conf;
}

const kz_value_t *kz_conf_get(const kz_conf_t *conf, const char *name)
{
    return apr_hash_get(conf->props, name, APR_HASH_KEY_STRING);
}
