/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "core/webhook_sign.h"

/* The published test vector of the Standard Webhooks specification (checked with Python's hmac). */
Test(webhook_sign, standard_webhooks_test_vector)
{
    static const char body[] = "{\"test\": 2432232314}";
    char sig[WEBHOOK_SIG_LEN];
    cr_assert(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                           strlen(body), sig));
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* The bare base64 of the key signs the same. */
    cr_assert(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                           strlen(body), sig));
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Any change of id, time or body changes it. */
    cr_assert(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
                           strlen(body), sig));
    cr_assert_str_neq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

Test(webhook_sign, secrets_round_trip_and_bad_ones_are_refused)
{
    cr_assert_geq(sodium_init(), 0);
    uint8_t key[WEBHOOK_SECRET_BYTES], back[64];
    randombytes_buf(key, sizeof key);
    char secret[80];
    cr_assert(webhook_secret_format(key, sizeof key, secret, sizeof secret));
    cr_assert_eq(strncmp(secret, "whsec_", 6), 0);
    cr_assert_eq(strlen(secret), 6 + 44);
    size_t len;
    cr_assert(webhook_secret_decode(secret, back, sizeof back, &len));
    cr_assert_eq(len, sizeof key);
    cr_assert_eq(memcmp(key, back, len), 0);
    cr_assert_not(webhook_secret_format(key, sizeof key, secret, 40), "too small a buffer is refused");
    cr_assert_not(webhook_secret_decode("whsec_not base64!", back, sizeof back, &len));
    cr_assert_not(webhook_secret_decode("whsec_", back, sizeof back, &len));
    char sig[WEBHOOK_SIG_LEN];
    cr_assert_not(webhook_sign("whsec_***", "m", 1, "", 0, sig));
    cr_assert_str_eq(sig, "");
}
