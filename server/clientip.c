/*
 * enableIPSpoofing (karpacz-behaviour.md §1, §2): behind a trusted proxy, the first address of
 * X-Forwarded-For becomes the client's for the access log and every later stage; a value whose
 * first element is not an address is answered with 400. Addresses are parsed strictly (IPv4
 * dotted quads, IPv6 per RFC 4291 §2.2) and written in canonical form (RFC 5952), both by
 * kz_net.h, so one client has one spelling in logs and address sets.
 */
#include "rewrite.h"
#include "core.h"
#include "kz_net.h"

#include <apr_strings.h>
#include <string.h>

int kz_ip_canonical(char *out, const char *text, apr_size_t len)
{
    unsigned char addr[16];
    int v4;

    if (!kz_ip_parse(text, len, addr, &v4)) {
        return 0;
    }
    /* A mapped address is shown as its IPv4 form, as peer addresses are. */
    return kz_ip_format(out, KZ_IP_TEXT_SIZE, addr, v4 || kz_ip_is_v4_mapped(addr)) > 0;
}

const char *kz_forwarded_for(const char *value, apr_pool_t *p)
{
    const char *end = strchr(value, ',');
    char buf[KZ_IP_TEXT_SIZE];

    end = end ? end : value + strlen(value);
    while (value < end && (*value == ' ' || *value == '\t')) {
        value++;
    }
    while (end > value && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    if (!kz_ip_canonical(buf, value, (apr_size_t)(end - value))) {
        return NULL;
    }
    return apr_pstrdup(p, buf);
}

int kz_clientip_stage(kz_request_t *r)
{
    const kz_http_field_t *f;
    const char *ip;

    if (!r->conf->ip_spoofing || !(f = kz_http_field(&r->head, "X-Forwarded-For"))) {
        return KZ_DECLINED;
    }
    if ((ip = kz_forwarded_for(f->value, r->pool)) == NULL) {
        return 400;
    }
    r->client_ip = ip;
    return KZ_DECLINED;
}
