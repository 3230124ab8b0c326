/*
 * blocklist (karpacz-behaviour.md §1): clients whose address is listed, singly or in a CIDR range
 * (RFC 4632, RFC 4291 §2.3), are answered with 403. The list is global only; it is compiled once
 * per configuration into an address set (ipset.c) and tested against the client address, which
 * is the X-Forwarded-For one when enableIPSpoofing put it there.
 */
#include "rewrite.h"
#include "core.h"
#include "ipset.h"
#include "stages.h"

const char *kz_blocklist_check(const kz_value_t *value, apr_pool_t *p)
{
    if (value->type != KZ_V_LIST) {
        return kz_ipset_check(value->text, p);
    }
    for (int i = 0; i < value->items->nelts; i++) {
        const char *err = kz_ipset_check(APR_ARRAY_IDX(value->items, i, kz_value_t *)->text, p);
        if (err) {
            return err;
        }
    }
    return NULL;
}

/*
 * Every scope's properties hold the global list (hosts cannot set it), as the same value; the
 * set is built for the first scope compiled and shared by the others.
 */
const struct kz_ipset *kz_blocklist_compile(const kz_conf_t *c, apr_pool_t *p)
{
    const kz_value_t *v = kz_conf_get(c, "blocklist");
    kz_ipset_t *set = NULL;
    const void *memo_key = NULL;

    if (!v || v->type != KZ_V_LIST || v->items->nelts == 0) {
        return NULL;
    }
    apr_pool_userdata_get((void **)&memo_key, "kz_blocklist_value", p);
    if (memo_key == v) {
        apr_pool_userdata_get((void **)&set, "kz_blocklist_set", p);
        return set;
    }
    set = kz_ipset_make(p);
    for (int i = 0; i < v->items->nelts; i++) {
        /* Checked at load: an entry that fails now is skipped rather than stopping the load. */
        kz_ipset_add(set, APR_ARRAY_IDX(v->items, i, kz_value_t *)->text, p);
    }
    apr_pool_userdata_setn(v, "kz_blocklist_value", NULL, p);
    apr_pool_userdata_setn(set, "kz_blocklist_set", NULL, p);
    return set;
}

/* Every scope holds the global set (kz_blocklist_compile), so the request's own scope is read. */
int kz_blocklist_stage(kz_request_t *r)
{
    if (!r->conf->blocklist || !r->client_ip ||
        !kz_ipset_contains(r->conf->blocklist, r->client_ip)) {
        return KZ_DECLINED;
    }
    return 403;
}
