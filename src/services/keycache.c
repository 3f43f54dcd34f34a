/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/keycache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/apikey.h"

typedef struct entry {
    credential cred; /* secret_hash included; never leaves this file */
    _Atomic int64_t last_used;
    atomic_bool touched;
} entry;

typedef struct account_entry {
    int64_t id;
    account_status status;
    bool has_contract;
    limits limits;
    bool metered;
    char timezone[TIMEZONE_MAX_LEN + 1];
} account_entry;

struct keycache {
    pthread_rwlock_t lock;
    /* Bumped by every change made here, so a reload that read the store before a change cannot
     * swap in a view without it. Read and written under the lock. */
    unsigned long generation;
    entry **entries; /* owned */
    size_t nentries, capentries;
    size_t *index; /* open addressing over entries by key_id; SIZE_MAX is empty */
    size_t nindex; /* power of two */
    account_entry *accounts;
    size_t naccounts, capaccounts;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void index_rebuild(keycache *kc, size_t want)
{
    size_t n = 64;
    while (n < want * 2)
        n *= 2;
    free(kc->index);
    kc->index = xmalloc(n * sizeof *kc->index);
    kc->nindex = n;
    for (size_t i = 0; i < n; i++)
        kc->index[i] = SIZE_MAX;
    for (size_t e = 0; e < kc->nentries; e++) {
        size_t i = fnv1a(kc->entries[e]->cred.key_id) & (n - 1);
        while (kc->index[i] != SIZE_MAX)
            i = (i + 1) & (n - 1);
        kc->index[i] = e;
    }
}

static entry *find(keycache *kc, const char *key_id)
{
    if (kc->nindex == 0)
        return NULL;
    size_t i = fnv1a(key_id) & (kc->nindex - 1);
    while (kc->index[i] != SIZE_MAX) {
        entry *e = kc->entries[kc->index[i]];
        if (strcmp(e->cred.key_id, key_id) == 0)
            return e;
        i = (i + 1) & (kc->nindex - 1);
    }
    return NULL;
}

static account_entry *find_account(keycache *kc, int64_t id)
{
    /* Accounts are few next to requests; kept sorted by id for a binary search. */
    size_t lo = 0, hi = kc->naccounts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kc->accounts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < kc->naccounts && kc->accounts[lo].id == id ? &kc->accounts[lo] : NULL;
}

keycache *keycache_new(void)
{
    keycache *kc = xcalloc(1, sizeof *kc);
    pthread_rwlock_init(&kc->lock, NULL);
    index_rebuild(kc, 0);
    return kc;
}

static void clear(keycache *kc)
{
    for (size_t i = 0; i < kc->nentries; i++) {
        memset(kc->entries[i]->cred.secret_hash, 0, HASH_LEN);
        free(kc->entries[i]);
    }
    kc->nentries = 0;
    kc->naccounts = 0;
}

void keycache_free(keycache *kc)
{
    if (kc == NULL)
        return;
    clear(kc);
    free(kc->entries);
    free(kc->index);
    free(kc->accounts);
    pthread_rwlock_destroy(&kc->lock);
    free(kc);
}

/* With the write lock held. */
static void put_credential_locked(keycache *kc, const credential *c)
{
    kc->generation++;
    entry *e = find(kc, c->key_id);
    if (e != NULL) {
        int64_t lu = atomic_load(&e->last_used);
        e->cred = *c;
        if (c->last_used_at.present && c->last_used_at.v > lu)
            atomic_store(&e->last_used, c->last_used_at.v);
        return;
    }
    if (kc->nentries == kc->capentries) {
        kc->capentries = kc->capentries ? kc->capentries * 2 : 64;
        kc->entries = xrealloc(kc->entries, kc->capentries * sizeof *kc->entries);
    }
    e = xcalloc(1, sizeof *e);
    e->cred = *c;
    atomic_init(&e->last_used, c->last_used_at.present ? c->last_used_at.v : 0);
    atomic_init(&e->touched, false);
    kc->entries[kc->nentries++] = e;
    if (kc->nentries * 2 > kc->nindex)
        index_rebuild(kc, kc->nentries);
    else {
        size_t i = fnv1a(c->key_id) & (kc->nindex - 1);
        while (kc->index[i] != SIZE_MAX)
            i = (i + 1) & (kc->nindex - 1);
        kc->index[i] = kc->nentries - 1;
    }
}

limits keycache_default_limits(void)
{
    return (limits){.mode = LIMIT_BLOCK,
                    .rate_per_second = 50,
                    .burst = 100,
                    .credential_rate_per_second = 20,
                    .credential_burst = 40};
}

static account_entry *put_account_locked(keycache *kc, int64_t id, account_status status)
{
    kc->generation++;
    account_entry *a = find_account(kc, id);
    if (a != NULL) {
        a->status = status;
        return a;
    }
    if (kc->naccounts == kc->capaccounts) {
        kc->capaccounts = kc->capaccounts ? kc->capaccounts * 2 : 64;
        kc->accounts = xrealloc(kc->accounts, kc->capaccounts * sizeof *kc->accounts);
    }
    size_t i = kc->naccounts;
    while (i > 0 && kc->accounts[i - 1].id > id) {
        kc->accounts[i] = kc->accounts[i - 1];
        i--;
    }
    kc->accounts[i] = (account_entry){.id = id, .status = status, .limits = keycache_default_limits(), .metered = true};
    str_copy(kc->accounts[i].timezone, sizeof kc->accounts[i].timezone, "UTC");
    kc->naccounts++;
    return &kc->accounts[i];
}

static void put_contract_locked(keycache *kc, int64_t account_id, const limits *l, bool metered, const char *tz)
{
    kc->generation++;
    account_entry *a = find_account(kc, account_id);
    if (a == NULL)
        a = put_account_locked(kc, account_id, ACCOUNT_ACTIVE);
    a->has_contract = true;
    a->limits = *l;
    a->metered = metered;
    str_copy(a->timezone, sizeof a->timezone, tz);
}

void keycache_put_contract(keycache *kc, int64_t account_id, const limits *l, bool metered, const char *timezone)
{
    pthread_rwlock_wrlock(&kc->lock);
    put_contract_locked(kc, account_id, l, metered, timezone);
    pthread_rwlock_unlock(&kc->lock);
}

void keycache_put_credential(keycache *kc, const credential *c)
{
    pthread_rwlock_wrlock(&kc->lock);
    put_credential_locked(kc, c);
    pthread_rwlock_unlock(&kc->lock);
}

void keycache_put_account(keycache *kc, int64_t account_id, account_status status)
{
    pthread_rwlock_wrlock(&kc->lock);
    (void)put_account_locked(kc, account_id, status);
    pthread_rwlock_unlock(&kc->lock);
}

/* Every contract with its plan's limits applied. */
static int load_contracts(keycache *fresh, store *st, app_err *err)
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
    enum { PAGE = 256 };
    credential *creds = xmalloc(PAGE * sizeof *creds);
    account *accts = xmalloc(PAGE * sizeof *accts);
    keycache *fresh = keycache_new();
    int rc = 0;
    size_t n;
    int64_t after = 0;
    do {
        if ((rc = store_account_list(st, -1, after, accts, PAGE, &n, err)) != 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            (void)put_account_locked(fresh, accts[i].id, accts[i].status);
        if (n > 0)
            after = accts[n - 1].id;
    } while (n == PAGE);
    after = 0;
    do {
        if ((rc = store_credential_list(st, -1, after, creds, PAGE, &n, err)) != 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            put_credential_locked(fresh, &creds[i]);
        if (n > 0)
            after = creds[n - 1].id;
    } while (n == PAGE);

    if ((rc = load_contracts(fresh, st, err)) != 0)
        goto out;

    /* Swap the fresh view in, keeping last-used times not yet written. */
    pthread_rwlock_wrlock(&kc->lock);
    if (kc->generation != gen) { /* changed here meanwhile: this view may miss it, read again */
        pthread_rwlock_unlock(&kc->lock);
        goto out;
    }
    *swapped = true;
    for (size_t i = 0; i < kc->nentries; i++) {
        entry *old = kc->entries[i];
        entry *e = find(fresh, old->cred.key_id);
        if (e == NULL)
            continue;
        int64_t lu = atomic_load(&old->last_used);
        if (lu > atomic_load(&e->last_used))
            atomic_store(&e->last_used, lu);
        if (atomic_load(&old->touched))
            atomic_store(&e->touched, true);
    }
    keycache tmp = *kc;
    kc->entries = fresh->entries;
    kc->nentries = fresh->nentries;
    kc->capentries = fresh->capentries;
    kc->index = fresh->index;
    kc->nindex = fresh->nindex;
    kc->accounts = fresh->accounts;
    kc->naccounts = fresh->naccounts;
    kc->capaccounts = fresh->capaccounts;
    kc->generation++;
    pthread_rwlock_unlock(&kc->lock);
    fresh->entries = tmp.entries;
    fresh->nentries = tmp.nentries;
    fresh->index = tmp.index;
    fresh->accounts = tmp.accounts;
    fresh->naccounts = tmp.naccounts;
out:
    keycache_free(fresh);
    free(creds);
    free(accts);
    return rc;
}

int keycache_authenticate(keycache *kc, const uint8_t pepper[PEPPER_LEN], slice key, int64_t now_ms, principal *out,
                          app_err *err)
{
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
    entry *e = find(kc, parsed.key_id);
    if (e == NULL || !hash_equal(presented, e->cred.secret_hash)) {
        rc = app_err_set(err, APP_INVALID_API_KEY, NULL);
    } else if (e->cred.status == CREDENTIAL_REVOKED) {
        rc = app_err_set(err, APP_REVOKED_API_KEY, NULL);
    } else if (e->cred.expires_at.present && now_ms >= e->cred.expires_at.v) {
        rc = app_err_set(err, APP_EXPIRED_API_KEY, NULL);
    } else {
        account_entry *a = find_account(kc, e->cred.account_id);
        if (a == NULL || a->status != ACCOUNT_ACTIVE) {
            rc = app_err_set(err, APP_ACCOUNT_SUSPENDED, NULL);
        } else {
            out->account_id = e->cred.account_id;
            out->credential_id = e->cred.id;
            memcpy(out->key_id, e->cred.key_id, sizeof out->key_id);
            out->has_contract = a->has_contract;
            out->limits = a->limits;
            out->metered = a->metered;
            memcpy(out->timezone, a->timezone, sizeof out->timezone);
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
    entry *e = find(kc, key_id);
    if (e != NULL && atomic_load(&e->last_used) > 0)
        r = opt_some(atomic_load(&e->last_used));
    pthread_rwlock_unlock(&kc->lock);
    return r;
}

size_t keycache_take_touched(keycache *kc, int64_t *ids, int64_t *at, size_t cap)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&kc->lock);
    for (size_t i = 0; i < kc->nentries && n < cap; i++) {
        entry *e = kc->entries[i];
        if (atomic_exchange(&e->touched, false)) {
            ids[n] = e->cred.id;
            at[n] = atomic_load(&e->last_used);
            n++;
        }
    }
    pthread_rwlock_unlock(&kc->lock);
    return n;
}
