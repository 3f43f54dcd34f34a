/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "domain/apikey.h"
#include "integration/harness.h"
#include "services/keycache.h"

static uint8_t pepper[PEPPER_LEN];

static void make(apikey *k, credential *c, int64_t id, int64_t account_id)
{
    uint8_t rnd[APIKEY_RANDOM_BYTES];
    randombytes_buf(rnd, sizeof rnd);
    cr_assert(apikey_generate(rnd, k));
    memset(c, 0, sizeof *c);
    c->id = id;
    c->account_id = account_id;
    strcpy(c->key_id, k->key_id);
    hash_secret(pepper, k->secret, APIKEY_SECRET_LEN, c->secret_hash);
}

static int auth(keycache *kc, const char *key, int64_t now, principal *p)
{
    app_err e;
    app_err_clear(&e);
    return keycache_authenticate(kc, pepper, slice_make(key, key ? strlen(key) : 0), now, p, &e);
}

Test(keycache, statuses_in_the_documented_order)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    randombytes_buf(pepper, sizeof pepper);
    keycache *kc = keycache_new();
    apikey k;
    credential c;
    make(&k, &c, 1, 10);
    keycache_put_account(kc, 10, ACCOUNT_ACTIVE);
    keycache_put_credential(kc, &c);
    principal p;
    cr_assert_eq(auth(kc, k.full, 1000, &p), 0);
    cr_assert_eq(p.account_id, 10);
    cr_assert_eq(p.credential_id, 1);
    cr_assert_eq(auth(kc, NULL, 1000, &p), APP_MISSING_API_KEY);
    cr_assert_eq(auth(kc, "nope", 1000, &p), APP_INVALID_API_KEY);

    c.expires_at = opt_some(2000);
    keycache_put_credential(kc, &c);
    cr_assert_eq(auth(kc, k.full, 1999, &p), 0);
    cr_assert_eq(auth(kc, k.full, 2000, &p), APP_EXPIRED_API_KEY);
    c.status = CREDENTIAL_REVOKED;
    keycache_put_credential(kc, &c);
    cr_assert_eq(auth(kc, k.full, 1000, &p), APP_REVOKED_API_KEY, "revoked wins over expired");

    apikey k2;
    credential c2;
    make(&k2, &c2, 2, 10);
    keycache_put_credential(kc, &c2);
    keycache_put_account(kc, 10, ACCOUNT_SUSPENDED);
    cr_assert_eq(auth(kc, k2.full, 1000, &p), APP_ACCOUNT_SUSPENDED);

    /* Knowing a key id is not enough to learn its status: a wrong secret is just invalid. */
    char forged[APIKEY_LEN + 1];
    strcpy(forged, k.full);
    forged[APIKEY_LEN - 1] = forged[APIKEY_LEN - 1] == 'A' ? 'B' : 'A';
    cr_assert_eq(auth(kc, forged, 1000, &p), APP_INVALID_API_KEY);
    keycache_free(kc);
}

Test(keycache, last_used_is_batched_and_only_moves_forward)
{
    cr_assert(sodium_init() >= 0);
    keycache *kc = keycache_new();
    apikey k;
    credential c;
    make(&k, &c, 7, 1);
    keycache_put_account(kc, 1, ACCOUNT_ACTIVE);
    keycache_put_credential(kc, &c);
    principal p;
    auth(kc, k.full, 5000, &p);
    auth(kc, k.full, 4000, &p);
    int64_t ids[4], at[4];
    cr_assert_eq(keycache_take_touched(kc, ids, at, 4), 1);
    cr_assert_eq(ids[0], 7);
    cr_assert_eq(at[0], 5000);
    cr_assert_eq(keycache_take_touched(kc, ids, at, 4), 0, "taken once");
    cr_assert_eq(keycache_last_used(kc, k.key_id).v, 5000);
    keycache_free(kc);
}

static keycache *shared;
static apikey keys[64];
static void *hammer(void *arg)
{
    (void)arg;
    principal p;
    for (int i = 0; i < 2000; i++)
        cr_assert_eq(auth(shared, keys[i % 64].full, i, &p), 0);
    return NULL;
}

Test(keycache, concurrent_lookups_while_keys_are_added)
{
    cr_assert(sodium_init() >= 0);
    shared = keycache_new();
    keycache_put_account(shared, 1, ACCOUNT_ACTIVE);
    credential c;
    for (int i = 0; i < 64; i++) {
        make(&keys[i], &c, i + 1, 1);
        keycache_put_credential(shared, &c);
    }
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 500; i++) { /* grows the table under the readers */
        apikey k;
        make(&k, &c, 1000 + i, 1);
        keycache_put_credential(shared, &c);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    keycache_free(shared);
}

/* The table grows by doubling while keys arrive: every key still answers after many growths, a
 * replacement updates in place (no duplicate), and lookups of ids that are not there miss. */
Test(keycache, many_keys_after_growth_and_replacement)
{
    cr_assert(sodium_init() >= 0);
    enum { N = 5000, ACCOUNTS = 50 };
    keycache *kc = keycache_new();
    for (int a = 1; a <= ACCOUNTS; a++)
        keycache_put_account(kc, a, ACCOUNT_ACTIVE);
    apikey *ks = calloc(N, sizeof *ks);
    credential c;
    for (int i = 0; i < N; i++) {
        make(&ks[i], &c, i + 1, 1 + i % ACCOUNTS);
        c.last_used_at = opt_some(100 + i);
        keycache_put_credential(kc, &c);
    }
    principal p;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(auth(kc, ks[i].full, 1000000, &p), 0, "key %d", i);
        cr_assert_eq(p.credential_id, i + 1);
        cr_assert_eq(p.account_id, 1 + i % ACCOUNTS);
        cr_assert_str_eq(p.key_id, ks[i].key_id);
        cr_assert_eq(strlen(p.key_id), KEY_ID_LEN);
    }
    /* Every key was used once: exactly N pending last-used times, each key once. */
    int64_t *ids = calloc(N + 1, sizeof *ids), *at = calloc(N + 1, sizeof *at);
    cr_assert_eq(keycache_take_touched(kc, ids, at, N + 1), N);
    cr_assert_eq(keycache_take_touched(kc, ids, at, N + 1), 0);

    /* Replace every other key: revoked, with an older last-used time that must not win. */
    for (int i = 0; i < N; i += 2) {
        memset(&c, 0, sizeof c);
        c.id = i + 1;
        c.account_id = 1 + i % ACCOUNTS;
        strcpy(c.key_id, ks[i].key_id);
        hash_secret(pepper, ks[i].secret, APIKEY_SECRET_LEN, c.secret_hash);
        c.status = CREDENTIAL_REVOKED;
        c.last_used_at = opt_some(1);
        keycache_put_credential(kc, &c);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(auth(kc, ks[i].full, 2000000, &p), i % 2 ? 0 : APP_REVOKED_API_KEY, "key %d", i);
        cr_assert_eq(keycache_last_used(kc, ks[i].key_id).v, i % 2 ? 2000000 : 1000000);
    }
    cr_assert_eq(keycache_take_touched(kc, ids, at, N + 1), N / 2, "replacement added no entry");

    cr_assert(!keycache_last_used(kc, "AAAAAAAAAAAA").present);
    cr_assert(!keycache_last_used(kc, "").present);
    cr_assert(!keycache_last_used(kc, "a-key-id-longer-than-twelve").present);
    char prefix[KEY_ID_LEN];
    memcpy(prefix, ks[1].key_id, KEY_ID_LEN - 1);
    prefix[KEY_ID_LEN - 1] = '\0';
    cr_assert(!keycache_last_used(kc, prefix).present, "a prefix of a key id is not that key id");
    free(ids);
    free(at);
    free(ks);
    keycache_free(kc);
}

/* Contracts keep their own limits, metering and time zone (time zone names are shared). */
Test(keycache, contracts_and_time_zones_per_account)
{
    cr_assert(sodium_init() >= 0);
    static const char *const zones[] = {"UTC", "Europe/Paris", "America/Argentina/ComodRivadavia", "Asia/Tokyo"};
    enum { ACCOUNTS = 200 };
    keycache *kc = keycache_new();
    apikey ks[ACCOUNTS];
    credential c;
    for (int a = 1; a <= ACCOUNTS; a++) {
        keycache_put_account(kc, a, ACCOUNT_ACTIVE);
        make(&ks[a - 1], &c, a, a);
        keycache_put_credential(kc, &c);
        if (a % 5 == 0)
            continue; /* no contract: plan defaults, UTC */
        limits l = keycache_default_limits();
        l.daily_limit = opt_some(a);
        keycache_put_contract(kc, a, &l, a % 2 == 0, zones[a % 4]);
    }
    principal p;
    for (int a = 1; a <= ACCOUNTS; a++) {
        cr_assert_eq(auth(kc, ks[a - 1].full, 1000, &p), 0);
        if (a % 5 == 0) {
            cr_assert(!p.has_contract);
            cr_assert(p.metered);
            cr_assert_str_eq(p.timezone, "UTC");
            cr_assert(!p.limits.daily_limit.present);
        } else {
            cr_assert(p.has_contract);
            cr_assert_eq(p.metered, a % 2 == 0);
            cr_assert_str_eq(p.timezone, zones[a % 4]);
            cr_assert_eq(p.limits.daily_limit.v, a);
        }
    }
    /* A later contract change moves the account to another zone; the others keep theirs. */
    limits l = keycache_default_limits();
    keycache_put_contract(kc, 1, &l, true, "Pacific/Chatham");
    cr_assert_eq(auth(kc, ks[0].full, 1000, &p), 0);
    cr_assert_str_eq(p.timezone, "Pacific/Chatham");
    cr_assert_eq(auth(kc, ks[1].full, 1000, &p), 0);
    cr_assert_str_eq(p.timezone, zones[2]);
    keycache_free(kc);
}

/* A reload from the store replaces the view: keys and accounts come from the store, last-used
 * times gathered here and not yet written survive it, and the result authenticates as before. */
Test(keycache, reload_from_the_store)
{
    cr_assert(sodium_init() >= 0);
    char dir[256], path[300];
    th_tmpdir(dir);
    snprintf(path, sizeof path, "%s/k.db", dir);
    app_err err;
    app_err_clear(&err);
    store *st = store_sqlite_open(path, &err);
    cr_assert_not_null(st);
    int applied;
    cr_assert_eq(store_migrate(st, &applied, &err), 0);
    enum { N = 600 }; /* more than two pages of the store's listing */
    apikey *ks = calloc(N, sizeof *ks);
    int64_t account_ids[3];
    for (int a = 0; a < 3; a++) {
        account acc = {.created_at = 1};
        snprintf(acc.name, sizeof acc.name, "acct %d", a);
        cr_assert_eq(store_account_create(st, &acc, NULL, &err), 0, "%s", err.message);
        account_ids[a] = acc.id;
    }
    for (int i = 0; i < N; i++) {
        credential c;
        make(&ks[i], &c, 0, account_ids[i % 3]);
        c.created_at = 1;
        cr_assert_eq(store_credential_create(st, &c, NULL, &err), 0, "%s", err.message);
    }
    keycache *kc = keycache_new();
    cr_assert_eq(keycache_reload(kc, st, &err), 0, "%s", err.message);
    principal p;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(auth(kc, ks[i].full, 5000 + i, &p), 0, "key %d", i);
        cr_assert_eq(p.account_id, account_ids[i % 3]);
    }
    cr_assert_eq(keycache_reload(kc, st, &err), 0, "%s", err.message);
    for (int i = 0; i < N; i++)
        cr_assert_eq(keycache_last_used(kc, ks[i].key_id).v, 5000 + i, "kept across the reload");
    int64_t ids[N + 1], at[N + 1];
    cr_assert_eq(keycache_take_touched(kc, ids, at, N + 1), N, "pending writes kept across the reload");
    free(ks);
    keycache_free(kc);
    store_close(st);
}
