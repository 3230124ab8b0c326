/*
 * wwwredirect (karpacz-behaviour.md §1): a request for a bare domain is answered with 301 to the
 * same target on "www." + the domain (RFC 9110 §15.4.2), port kept. Addresses and localhost
 * have no www. form and are served as they are.
 */
#include "rewrite.h"
#include "core.h"
#include "kz_net.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

/* Whether the host name (without port) names no domain: an IP literal, an IPv4 address, or
 * localhost. */
static int is_address(const char *name, apr_size_t len)
{
    unsigned char addr[16];

    if (len > 0 && name[0] == '[') {
        return 1;
    }
    if (len == 9 && strncasecmp(name, "localhost", 9) == 0) {
        return 1;
    }
    if (len > 10 && strncasecmp(name + len - 10, ".localhost", 10) == 0) {
        return 1;
    }
    return kz_ip_parse(name, len, addr, NULL);
}

/* The path and query of a request target; an absolute-form one loses scheme and authority. */
static const char *origin_form(const char *target)
{
    const char *auth;

    if (target[0] == '/') {
        return target;
    }
    auth = strstr(target, "://");
    if (!auth || !(target = strchr(auth + 3, '/'))) {
        return "/";
    }
    return target;
}

const char *kz_www_location(const char *host, const char *target, apr_pool_t *p)
{
    const char *colon;
    apr_size_t name_len;
    char *lower;

    /* An absolute-form target's authority is not checked as Host is: refuse anything but a
     * plain name and port, so userinfo ("a@elsewhere") can never steer the Location. */
    if (!host || !*host || !target ||
        host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:[]")]) {
        return NULL;
    }
    colon = host[0] == '[' ? NULL : strchr(host, ':');
    name_len = colon ? (apr_size_t)(colon - host) : strlen(host);
    /* An absolute-form authority may also have an empty name (":80"): there is nothing to
     * prefix. */
    if (name_len == 0 || strncasecmp(host, "www.", 4) == 0 || is_address(host, name_len)) {
        return NULL;
    }
    lower = apr_pstrdup(p, host);
    for (char *s = lower; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    return apr_pstrcat(p, "http://www.", lower, origin_form(target), NULL);
}

int kz_redirect_stage(kz_request_t *r)
{
    const char *loc;

    if (!r->conf->www_redirect || !(loc = kz_www_location(r->host, r->head.target, r->pool))) {
        return KZ_DECLINED;
    }
    kz_response_error(r, 301);
    kz_response_header(r, "Location", loc);
    return KZ_DONE;
}
