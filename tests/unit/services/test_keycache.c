/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "domain/apikey.h"
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
