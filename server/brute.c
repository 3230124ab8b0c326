/*
 * Brute-force protection for HTTP Basic authentication (brute.h), as the original counts it:
 * each failure of a client address is counted and restarts its 300-second window; an address
 * with 10 counted failures is blocked (429) until 300 seconds after its last failure. The
 * table is shared by every loop, guarded by one mutex, and bounded: at most KZ_BRUTE_MAX
 * addresses (about 350 KiB, allocated on the first failure). When it is full, expired entries
 * are dropped first; if none has expired, the entry whose last failure is oldest is evicted.
 */
#include "brute.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <string.h>

#define KZ_BRUTE_LIMIT   10
#define KZ_BRUTE_WINDOW  apr_time_from_sec(300)
#define KZ_BRUTE_MAX     4096
#define KZ_BRUTE_BUCKETS 8192 /* a power of two */

typedef struct brute_entry {
    char ip[64];
    apr_time_t last; /* the last counted failure */
    int count;
    int next; /* next entry in the bucket, or in the free list; -1 ends */
} brute_entry_t;

struct kz_brute {
    apr_thread_mutex_t *mutex;
    apr_pool_t *pool;       /* only this table allocates from it, under the mutex */
    brute_entry_t *entries; /* KZ_BRUTE_MAX, allocated on first use */
    int *buckets;           /* index of the first entry, -1 when empty */
    int free_head;
};

kz_brute_t *kz_brute_create(apr_pool_t *p)
{
    kz_brute_t *b = apr_pcalloc(p, sizeof(*b));

    if (apr_pool_create(&b->pool, p) != APR_SUCCESS ||
        apr_thread_mutex_create(&b->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL; /* no table: nothing is ever blocked */
    }
    return b;
}

static void table_init(kz_brute_t *b)
{
    b->entries = apr_palloc(b->pool, KZ_BRUTE_MAX * sizeof(*b->entries));
    b->buckets = apr_palloc(b->pool, KZ_BRUTE_BUCKETS * sizeof(*b->buckets));
    memset(b->buckets, 0xff, KZ_BRUTE_BUCKETS * sizeof(*b->buckets));
    for (int i = 0; i < KZ_BRUTE_MAX; i++) {
        b->entries[i].next = i + 1 < KZ_BRUTE_MAX ? i + 1 : -1;
    }
    b->free_head = 0;
}

static unsigned bucket_of(const char *ip)
{
    unsigned h = 2166136261u;

    for (; *ip; ip++) {
        h = (h ^ (unsigned char)*ip) * 16777619u;
    }
    return h & (KZ_BRUTE_BUCKETS - 1);
}

static int expired(const brute_entry_t *e, apr_time_t now)
{
    return now - e->last >= KZ_BRUTE_WINDOW;
}

static int find(const kz_brute_t *b, const char *ip)
{
    int i = b->entries ? b->buckets[bucket_of(ip)] : -1;

    while (i >= 0 && strcmp(b->entries[i].ip, ip) != 0) {
        i = b->entries[i].next;
    }
    return i;
}

static void unlink_entry(kz_brute_t *b, int idx)
{
    int *link = &b->buckets[bucket_of(b->entries[idx].ip)];

    while (*link != idx) {
        link = &b->entries[*link].next;
    }
    *link = b->entries[idx].next;
    b->entries[idx].next = b->free_head;
    b->free_head = idx;
}

/* The table is full: drop every expired entry, or else the one whose last failure is oldest. */
static void make_room(kz_brute_t *b, apr_time_t now)
{
    int oldest = 0;

    for (int i = 0; i < KZ_BRUTE_MAX; i++) {
        if (b->entries[oldest].last > b->entries[i].last) {
            oldest = i;
        }
    }
    for (int i = 0; i < KZ_BRUTE_MAX; i++) {
        if (expired(&b->entries[i], now)) {
            unlink_entry(b, i);
        }
    }
    if (b->free_head < 0) {
        unlink_entry(b, oldest);
    }
}

static int insert(kz_brute_t *b, const char *ip, apr_time_t now)
{
    int idx;
    unsigned bucket;

    if (!b->entries) {
        table_init(b);
    }
    if (b->free_head < 0) {
        make_room(b, now);
    }
    idx = b->free_head;
    b->free_head = b->entries[idx].next;
    apr_cpystrn(b->entries[idx].ip, ip, sizeof(b->entries[idx].ip));
    b->entries[idx].count = 0;
    bucket = bucket_of(b->entries[idx].ip);
    b->entries[idx].next = b->buckets[bucket];
    b->buckets[bucket] = idx;
    return idx;
}

int kz_brute_blocked(kz_brute_t *b, const char *ip, apr_time_t now)
{
    int seconds = 0, i;

    if (!b || !ip) {
        return 0;
    }
    apr_thread_mutex_lock(b->mutex);
    i = find(b, ip);
    if (i >= 0 && b->entries[i].count >= KZ_BRUTE_LIMIT && !expired(&b->entries[i], now)) {
        apr_interval_time_t left = b->entries[i].last + KZ_BRUTE_WINDOW - now;
        seconds = (int)((left + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC); /* rounded up */
    }
    apr_thread_mutex_unlock(b->mutex);
    return seconds;
}

void kz_brute_fail(kz_brute_t *b, const char *ip, apr_time_t now)
{
    int i;

    if (!b || !ip) {
        return;
    }
    apr_thread_mutex_lock(b->mutex);
    i = find(b, ip);
    if (i < 0) {
        i = insert(b, ip, now);
    } else if (expired(&b->entries[i], now)) {
        b->entries[i].count = 0;
    }
    if (b->entries[i].count < KZ_BRUTE_LIMIT) {
        b->entries[i].count++;
    }
    b->entries[i].last = now;
    apr_thread_mutex_unlock(b->mutex);
}
