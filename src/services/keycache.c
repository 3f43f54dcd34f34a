/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/keycache.h"

#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/apikey.h"

/*
 * A credential as authentication needs it, and nothing more: the label, creation and revocation
 * times stay in the store. 80 bytes, held by value in one array (100,000 keys: 8 MB), where the
 * whole credential record with its 513-byte label used to take 672 bytes of heap each.
 */
typedef struct entry {
    int64_t id;
    int64_t account_id;
    int64_t expires_at;            /* NEVER: no expiry */
    _Atomic int64_t last_used;     /* Unix ms; 0: never used */
    uint8_t secret_hash[HASH_LEN]; /* never leaves this file */
    char key_id[KEY_ID_LEN];       /* zero-padded, not NUL-terminated */
    uint8_t status;                /* credential_status */
    atomic_bool touched;
} entry;
_Static_assert(sizeof(entry) <= 80, "a key cache entry stays compact: 100,000 keys in 8 MB");

#define NEVER INT64_MAX
#define EMPTY UINT32_MAX /* a free slot of the index */

/* Account statuses and contracts; the contract's time zone is interned (a handful of distinct names). */
typedef struct account_entry {
    int64_t id;
    limits limits;
    uint32_t zone;  /* index into view.zones */
    uint8_t status; /* account_status */
    bool has_contract;
    bool metered;
} account_entry;

/* Everything a reload replaces at once. */
typedef struct view {
    entry *entries; /* by value; pointers into it are valid only under the lock */
    size_t nentries, capentries;
    uint32_t *index;         /* open addressing over entries by key_id; EMPTY is free */
    size_t nindex;           /* power of two, at least twice nentries */
    account_entry *accounts; /* sorted by id */
    size_t naccounts, capaccounts;
    char **zones; /* owned, interned time zone names */
    size_t nzones, capzones;
} view;

struct keycache {
    pthread_rwlock_t lock;
    /* Bumped by every change made here, so a reload that read the store before a change cannot
     * swap in a view without it. Read and written under the lock. */
    unsigned long generation;
    view v;
};

/* The fixed-width form of a key id; false when it cannot be one (too long). */
static bool key_pack(const char *key_id, char out[KEY_ID_LEN])
{
    size_t n = strnlen(key_id, KEY_ID_LEN + 1);
    if (n > KEY_ID_LEN)
        return false;
    memset(out, 0, KEY_ID_LEN);
    memcpy(out, key_id, n);
    return true;
}

static uint64_t key_hash(const char k[KEY_ID_LEN])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < KEY_ID_LEN; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static void index_insert(view *v, uint32_t e)
{
    size_t i = key_hash(v->entries[e].key_id) & (v->nindex - 1);
    while (v->index[i] != EMPTY)
        i = (i + 1) & (v->nindex - 1);
    v->index[i] = e;
}

static void index_rebuild(view *v, size_t want)
{
    size_t n = 64;
    while (n < want * 2)
        n *= 2;
    free(v->index);
    v->index = xmalloc(n * sizeof *v->index);
    v->nindex = n;
    for (size_t i = 0; i < n; i++)
        v->index[i] = EMPTY;
    for (size_t e = 0; e < v->nentries; e++)
        index_insert(v, (uint32_t)e);
}

static entry *find_packed(view *v, const char k[KEY_ID_LEN])
{
    size_t i = key_hash(k) & (v->nindex - 1);
    while (v->index[i] != EMPTY) {
        entry *e = &v->entries[v->index[i]];
        if (memcmp(e->key_id, k, KEY_ID_LEN) == 0)
            return e;
        i = (i + 1) & (v->nindex - 1);
    }
    return NULL;
}

static entry *find(view *v, const char *key_id)
{
    char k[KEY_ID_LEN];
    return key_pack(key_id, k) ? find_packed(v, k) : NULL;
}

static account_entry *find_account(view *v, int64_t id)
{
    /* Accounts are few next to requests; kept sorted by id for a binary search. */
    size_t lo = 0, hi = v->naccounts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->accounts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->naccounts && v->accounts[lo].id == id ? &v->accounts[lo] : NULL;
}

/* The index of time zone `name` in the view's table, added if new. */
static uint32_t zone_intern(view *v, const char *name)
{
    for (size_t i = 0; i < v->nzones; i++)
        if (strcmp(v->zones[i], name) == 0)
            return (uint32_t)i;
    if (v->nzones == v->capzones) {
        v->capzones = v->capzones ? v->capzones * 2 : 8;
        v->zones = xrealloc(v->zones, v->capzones * sizeof *v->zones);
    }
    char tz[TIMEZONE_MAX_LEN + 1];
    str_copy(tz, sizeof tz, name);
    v->zones[v->nzones] = xstrdup(tz);
    return (uint32_t)v->nzones++;
}

static void view_init(view *v)
{
    memset(v, 0, sizeof *v);
    index_rebuild(v, 0);
    (void)zone_intern(v, "UTC"); /* zone 0: accounts without a contract */
}

static void view_cleanup(view *v)
{
    if (v->entries != NULL)
        sodium_memzero(v->entries, v->capentries * sizeof *v->entries);
    free(v->entries);
    free(v->index);
    free(v->accounts);
    for (size_t i = 0; i < v->nzones; i++)
        free(v->zones[i]);
    free(v->zones);
    memset(v, 0, sizeof *v);
}

keycache *keycache_new(void)
{
    keycache *kc = xcalloc(1, sizeof *kc);
    pthread_rwlock_init(&kc->lock, NULL);
    view_init(&kc->v);
    return kc;
}

void keycache_free(keycache *kc)
{
    if (kc == NULL)
        return;
    view_cleanup(&kc->v);
    pthread_rwlock_destroy(&kc->lock);
    free(kc);
}

static void entry_set(entry *e, const credential *c)
{
    e->id = c->id;
    e->account_id = c->account_id;
    e->expires_at = c->expires_at.present ? c->expires_at.v : NEVER;
    memcpy(e->secret_hash, c->secret_hash, HASH_LEN);
    e->status = (uint8_t)c->status;
}

/* With the write lock held (or on a view nobody else sees). */
static void put_credential_locked(view *v, const credential *c)
{
    char k[KEY_ID_LEN];
    if (!key_pack(c->key_id, k))
        return; /* the store holds no such key id: apikey_parse would refuse it anyway */
    entry *e = find_packed(v, k);
    if (e != NULL) {
        entry_set(e, c);
        if (c->last_used_at.present && c->last_used_at.v > atomic_load(&e->last_used))
            atomic_store(&e->last_used, c->last_used_at.v);
        return;
    }
    if (v->nentries == v->capentries) {
        v->capentries = v->capentries ? v->capentries * 2 : 64;
        assert(v->capentries < EMPTY);
        v->entries = xrealloc(v->entries, v->capentries * sizeof *v->entries);
    }
    e = &v->entries[v->nentries];
    memset(e, 0, sizeof *e);
    memcpy(e->key_id, k, KEY_ID_LEN);
    entry_set(e, c);
    atomic_init(&e->last_used, c->last_used_at.present ? c->last_used_at.v : 0);
    atomic_init(&e->touched, false);
    v->nentries++;
    if (v->nentries * 2 > v->nindex)
        index_rebuild(v, v->nentries);
    else
        index_insert(v, (uint32_t)(v->nentries - 1));
}

limits keycache_default_limits(void)
{
    return (limits){.mode = LIMIT_BLOCK,
                    .rate_per_second = 50,
                    .burst = 100,
                    .credential_rate_per_second = 20,
                    .credential_burst = 40,
                    .alerts = alert_set_default()};
}

static account_entry *put_account_locked(view *v, int64_t id, account_status status)
{
    account_entry *a = find_account(v, id);
    if (a != NULL) {
        a->status = (uint8_t)status;
        return a;
    }
    if (v->naccounts == v->capaccounts) {
        v->capaccounts = v->capaccounts ? v->capaccounts * 2 : 64;
        v->accounts = xrealloc(v->accounts, v->capaccounts * sizeof *v->accounts);
    }
    size_t i = v->naccounts; /* a reload adds them in id order: no move */
    while (i > 0 && v->accounts[i - 1].id > id) {
        v->accounts[i] = v->accounts[i - 1];
        i--;
    }
    v->accounts[i] = (account_entry){
        .id = id, .status = (uint8_t)status, .limits = keycache_default_limits(), .zone = 0, .metered = true};
    v->naccounts++;
    return &v->accounts[i];
}

static void put_contract_locked(view *v, int64_t account_id, const limits *l, bool metered, const char *tz)
{
    account_entry *a = find_account(v, account_id);
    if (a == NULL)
        a = put_account_locked(v, account_id, ACCOUNT_ACTIVE);
    a->has_contract = true;
    a->limits = *l;
    a->metered = metered;
    a->zone = zone_intern(v, tz);
}

void keycache_put_contract(keycache *kc, int64_t account_id, const limits *l, bool metered, const char *timezone)
{
    pthread_rwlock_wrlock(&kc->lock);
    kc->generation++;
    put_contract_locked(&kc->v, account_id, l, metered, timezone);
    pthread_rwlock_unlock(&kc->lock);
}

void keycache_put_credential(keycache *kc, const credential *c)
{
    pthread_rwlock_wrlock(&kc->lock);
    kc->generation++;
    put_credential_locked(&kc->v, c);
    pthread_rwlock_unlock(&kc->lock);
}

void keycache_put_account(keycache *kc, int64_t account_id, account_status status)
{
    pthread_rwlock_wrlock(&kc->lock);
    kc->generation++;
    (void)put_account_locked(&kc->v, account_id, status);
    pthread_rwlock_unlock(&kc->lock);
}

/* Every contract with its plan's limits applied. */
static int load_contracts(view *fresh, store *st, app_err *err)
{
    enum { PAGE = 256 };
    plan *plans = NULL;
    size_t nplans = 0, n;
    int64_t after = 0;
    int rc = 0;
    do {
        plans = xrealloc(plans, (nplans + PAGE) * sizeof *plans);
        if ((rc = store_plan_list(st, after, plans + nplans, PAGE, &n, err)) != 0)
            goto out;
        nplans += n;
        if (n > 0)
            after = plans[nplans - 1].id;
    } while (n == PAGE);
    contract *cs = xmalloc(PAGE * sizeof *cs);
    after = 0;
    do {
        if ((rc = store_contract_list(st, after, cs, PAGE, &n, err)) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < nplans; j++) {
                if (plans[j].id == cs[i].plan_id) {
                    limits l = contract_effective_limits(&plans[j], &cs[i]);
                    put_contract_locked(fresh, cs[i].account_id, &l, plans[j].metered, cs[i].timezone);
                    break;
                }
            }
        }
        if (n > 0)
            after = cs[n - 1].account_id;
    } while (n == PAGE);
    free(cs);
out:
    free(plans);
    return rc;
}

static int reload_once(keycache *kc, store *st, bool *swapped, app_err *err);

int keycache_reload(keycache *kc, store *st, app_err *err)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        bool swapped = false;
        int rc = reload_once(kc, st, &swapped, err);
        if (rc != 0 || swapped)
            return rc;
    }
    return app_err_set(err, APP_INTERNAL_ERROR, "the key cache kept changing during its reload; retrying later");
}

static int reload_once(keycache *kc, store *st, bool *swapped, app_err *err)
{
    pthread_rwlock_rdlock(&kc->lock);
    unsigned long gen = kc->generation;
    pthread_rwlock_unlock(&kc->lock);
    /* The store is read a page at a time straight into the compact view: no copy of the whole
     * credential table is ever held. */
    enum { PAGE = 256 };
    credential *creds = xmalloc(PAGE * sizeof *creds);
    account *accts = xmalloc(PAGE * sizeof *accts);
    view fresh;
    view_init(&fresh);
    int rc = 0;
    size_t n;
    int64_t after = 0;
    do {
        if ((rc = store_account_list(st, -1, after, accts, PAGE, &n, err)) != 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            (void)put_account_locked(&fresh, accts[i].id, accts[i].status);
        if (n > 0)
            after = accts[n - 1].id;
    } while (n == PAGE);
    after = 0;
    do {
        if ((rc = store_credential_list(st, -1, after, creds, PAGE, &n, err)) != 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            put_credential_locked(&fresh, &creds[i]);
        if (n > 0)
            after = creds[n - 1].id;
    } while (n == PAGE);

    if ((rc = load_contracts(&fresh, st, err)) != 0)
        goto out;
    /* Growth by doubling leaves up to half of the array unused: give it back. */
    if (fresh.nentries > 0 && fresh.nentries < fresh.capentries) {
        fresh.entries = xrealloc(fresh.entries, fresh.nentries * sizeof *fresh.entries);
        fresh.capentries = fresh.nentries;
    }

    /* Swap the fresh view in, keeping last-used times not yet written. */
    pthread_rwlock_wrlock(&kc->lock);
    if (kc->generation != gen) { /* changed here meanwhile: this view may miss it, read again */
        pthread_rwlock_unlock(&kc->lock);
        goto out;
    }
    *swapped = true;
    for (size_t i = 0; i < kc->v.nentries; i++) {
        entry *old = &kc->v.entries[i];
        entry *e = find_packed(&fresh, old->key_id);
        if (e == NULL)
            continue;
        int64_t lu = atomic_load(&old->last_used);
        if (lu > atomic_load(&e->last_used))
            atomic_store(&e->last_used, lu);
        if (atomic_load(&old->touched))
            atomic_store(&e->touched, true);
    }
    view old = kc->v;
    kc->v = fresh;
    fresh = old;
    kc->generation++;
    pthread_rwlock_unlock(&kc->lock);
out:
    view_cleanup(&fresh);
    sodium_memzero(creds, PAGE * sizeof *creds);
    free(creds);
    free(accts);
    return rc;
}

int keycache_authenticate(keycache *kc, const uint8_t pepper[PEPPER_LEN], slice key, int64_t now_ms, principal *out,
                          app_err *err)
{
    out->account_id = 0;
    out->key_id[0] = '\0';
    if (key.ptr == NULL || key.len == 0)
        return app_err_set(err, APP_MISSING_API_KEY, NULL);
    apikey parsed;
    if (!apikey_parse(key.ptr, key.len, &parsed))
        return app_err_set(err, APP_INVALID_API_KEY, NULL);
    uint8_t presented[HASH_LEN];
    hash_secret(pepper, parsed.secret, APIKEY_SECRET_LEN, presented);
    memset(&parsed.secret, 0, sizeof parsed.secret);
    memset(&parsed.full, 0, sizeof parsed.full);

    int rc = 0;
    pthread_rwlock_rdlock(&kc->lock);
    entry *e = find(&kc->v, parsed.key_id);
    if (e != NULL) {
        /* Known on failure too, for the audit of failed authentications; the id is public. */
        out->account_id = e->account_id;
        memcpy(out->key_id, e->key_id, KEY_ID_LEN);
        out->key_id[KEY_ID_LEN] = '\0';
    }
    if (e == NULL || !hash_equal(presented, e->secret_hash)) {
        rc = app_err_set(err, APP_INVALID_API_KEY, NULL);
    } else if (e->status == CREDENTIAL_REVOKED) {
        rc = app_err_set(err, APP_REVOKED_API_KEY, NULL);
    } else if (now_ms >= e->expires_at) {
        rc = app_err_set(err, APP_EXPIRED_API_KEY, NULL);
    } else {
        account_entry *a = find_account(&kc->v, e->account_id);
        if (a == NULL || a->status != ACCOUNT_ACTIVE) {
            rc = app_err_set(err, APP_ACCOUNT_SUSPENDED, NULL);
        } else {
            out->account_id = e->account_id;
            out->credential_id = e->id;
            memcpy(out->key_id, e->key_id, KEY_ID_LEN);
            out->key_id[KEY_ID_LEN] = '\0';
            out->has_contract = a->has_contract;
            out->limits = a->limits;
            out->metered = a->metered;
            str_copy(out->timezone, sizeof out->timezone, kc->v.zones[a->zone]);
            /* Only move forward: a request that read the clock earlier may finish later. */
            int64_t prev = atomic_load(&e->last_used);
            while (prev < now_ms && !atomic_compare_exchange_weak(&e->last_used, &prev, now_ms))
                ;
            if (!atomic_load_explicit(&e->touched, memory_order_relaxed))
                atomic_store(&e->touched, true);
        }
    }
    pthread_rwlock_unlock(&kc->lock);
    return rc;
}

opt_i64 keycache_last_used(keycache *kc, const char *key_id)
{
    opt_i64 r = opt_none();
    pthread_rwlock_rdlock(&kc->lock);
    entry *e = find(&kc->v, key_id);
    if (e != NULL && atomic_load(&e->last_used) > 0)
        r = opt_some(atomic_load(&e->last_used));
    pthread_rwlock_unlock(&kc->lock);
    return r;
}

size_t keycache_take_touched(keycache *kc, int64_t *ids, int64_t *at, size_t cap)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&kc->lock);
    for (size_t i = 0; i < kc->v.nentries && n < cap; i++) {
        entry *e = &kc->v.entries[i];
        if (atomic_load_explicit(&e->touched, memory_order_relaxed) && atomic_exchange(&e->touched, false)) {
            ids[n] = e->id;
            at[n] = atomic_load(&e->last_used);
            n++;
        }
    }
    pthread_rwlock_unlock(&kc->lock);
    return n;
}
