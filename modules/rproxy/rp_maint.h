/*
 * Background upkeep of a configuration's backends, on one thread per configuration (never on an
 * event loop): names re-resolved on a schedule (kz_upstream_resolve), and active health probes
 * (GET path; 2xx/3xx = up) whose results go to the load balancer (kz_lb_probe).
 */
#ifndef KZ_RP_MAINT_H
#define KZ_RP_MAINT_H

#include "balancer.h"
#include "upstream.h"

/** How often names are resolved again. */
#define KZ_RP_RESOLVE_INTERVAL apr_time_from_sec(30)

/**
 * Registers a set of backends of one scope with the configuration whose pool is pconf (called
 * at load, from create_conf). path NULL or "": no probes for this set (names are still
 * re-resolved). timeout bounds each probe's connect and answer.
 */
void kz_rp_maint_add(apr_pool_t *pconf, kz_lb_t *lb, kz_upstream_target_t *const *targets, int n,
                     const char *path, apr_interval_time_t interval, apr_interval_time_t timeout);

/**
 * Starts the upkeep thread for the configuration (called when it is about to serve, from the
 * module's init); a cleanup in pconf stops and joins it before the configuration is freed.
 * Returns APR_SUCCESS when there is nothing to do.
 */
apr_status_t kz_rp_maint_start(apr_pool_t *pconf);

#endif
