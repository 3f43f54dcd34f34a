/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/sha1.h"
#include "core/str.h"

Test(err, table_codes_are_unique_and_statuses_are_http_errors)
{
    for (int i = 1; i < APP_CODE_COUNT; i++) {
        int st = app_code_status((app_code)i);
        cr_assert(st >= 400 && st <= 599, "%s has status %d", app_code_name((app_code)i), st);
        cr_assert(strlen(app_code_message((app_code)i)) > 0);
        for (int j = 1; j < i; j++)
            cr_assert_str_neq(app_code_name((app_code)i), app_code_name((app_code)j));
    }
    cr_assert_eq(app_code_status(APP_NOT_FOUND), 404);
    cr_assert_str_eq(app_code_name(APP_B2B_QUOTA_EXCEEDED), "b2b_quota_exceeded");
    cr_assert_eq(app_code_status(APP_STORE_UNAVAILABLE), 503);
}

Test(err, set_returns_the_code_and_escapes_control_characters)
{
    app_err e;
    app_err_clear(&e);
    cr_assert_eq(app_err_set(&e, APP_NOT_FOUND, "account %s not found", "a\nb\x1b"), APP_NOT_FOUND);
    cr_assert_str_eq(e.message, "account a\\x0ab\\x1b not found");
    app_err_set(&e, APP_FORBIDDEN, NULL);
    cr_assert_str_eq(e.message, app_code_message(APP_FORBIDDEN));
    cr_assert_eq(app_err_set(NULL, APP_INTERNAL_ERROR, "x"), APP_INTERNAL_ERROR);
}

Test(err, fields_accumulate_and_are_bounded)
{
    app_err e;
    app_err_clear(&e);
    for (int i = 0; i < APP_ERR_MAX_FIELDS + 5; i++)
        cr_assert_eq(app_err_field(&e, "name", "bad %d", i), APP_VALIDATION_ERROR);
    cr_assert_eq(e.code, APP_VALIDATION_ERROR);
    cr_assert_eq(e.nfields, APP_ERR_MAX_FIELDS);
    cr_assert_str_eq(e.fields[1].issue, "bad 1");
    char longkey[200];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    app_err_detail_str(&e, longkey, longkey);
    cr_assert_eq(strlen(e.details[0].key), sizeof e.details[0].key - 1);
}

Test(str, to_i64_accepts_exactly_the_integers_in_range)
{
    int64_t v = 7;
    cr_assert(str_to_i64(SLICE_LIT("0"), 0, 10, &v) && v == 0);
    cr_assert(str_to_i64(SLICE_LIT("-12"), -20, 0, &v) && v == -12);
    cr_assert(str_to_i64(SLICE_LIT("9223372036854775807"), INT64_MIN, INT64_MAX, &v) && v == INT64_MAX);
    cr_assert(str_to_i64(SLICE_LIT("-9223372036854775808"), INT64_MIN, INT64_MAX, &v) && v == INT64_MIN);
    v = 7;
    const char *bad[] = {"",   "-",  "+", "1a", " 1", "1 ", "0x10", "9223372036854775808", "-9223372036854775809",
                         "11", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!str_to_i64(slice_make(bad[i], strlen(bad[i])), -100, 10, &v), "accepted \"%s\"", bad[i]);
    cr_assert_eq(v, 7, "untouched on failure");
}

Test(str, to_id_accepts_only_canonical_decimal)
{
    int64_t v = 7;
    cr_assert(str_to_id(SLICE_LIT("0"), 0, INT64_MAX, &v) && v == 0);
    cr_assert(str_to_id(SLICE_LIT("10"), 1, INT64_MAX, &v) && v == 10);
    cr_assert(str_to_id(SLICE_LIT("9223372036854775807"), 1, INT64_MAX, &v) && v == INT64_MAX);
    v = 7;
    const char *bad[] = {"",    "+1",  "-1",  "01",  "00",  "0",  " 1", "1 ",
                         "1\t", "\t1", "0x1", "1e3", "1.0", "+0", "-0", "9223372036854775808",
                         "０"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!str_to_id(slice_make(bad[i], strlen(bad[i])), 1, INT64_MAX, &v), "accepted \"%s\"", bad[i]);
    cr_assert_eq(v, 7, "untouched on failure");
}

Test(str, copy_reports_truncation)
{
    char small[4];
    cr_assert_eq(str_copy(small, sizeof small, "abc"), 3);
    cr_assert_eq(str_copy(small, sizeof small, "abcd"), -1);
    cr_assert_str_eq(small, "abc");
}

Test(str, escape_never_overflows)
{
    char out[8];
    size_t n = str_escape_ctl(out, sizeof out, "\x01\x02\x03", 3);
    cr_assert_eq(n, 4, "only whole escapes fit");
    cr_assert_str_eq(out, "\\x01");
    n = str_escape_ctl(out, sizeof out, "abcdefghij", 10);
    cr_assert_eq(n, 7);
}

Test(str, slice_compare)
{
    cr_assert(slice_eq(SLICE_LIT("GET"), "GET"));
    cr_assert(!slice_eq(SLICE_LIT("GE"), "GET"));
    cr_assert(slice_eq_nocase(SLICE_LIT("Aries"), "aries"));
    cr_assert(!slice_eq_nocase(SLICE_LIT("arie"), "aries"));
}

Test(buf, grows_and_fails_sticky_at_cap)
{
    buf b;
    buf_init(&b, 10);
    buf_appends(&b, "hello");
    buf_appendf(&b, "%d", 1234);
    cr_assert(!buf_failed(&b));
    cr_assert_str_eq(b.data, "hello1234");
    buf_appends(&b, "xy");
    cr_assert(buf_failed(&b));
    buf_appends(&b, "");
    cr_assert(buf_failed(&b), "the error is sticky");
    cr_assert_str_eq(b.data, "hello1234", "nothing partial was written");
    buf_cleanup(&b);

    buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        buf_appendf(&b, "%0300d", i);
    cr_assert_eq(b.len, 300000);
    buf_cleanup(&b);
}

Test(clock, test_clock_moves_only_when_told)
{
    app_clock c;
    clock_test_init(&c, 1000);
    cr_assert_eq(clock_now_ms(&c), 1000);
    clock_test_advance(&c, 500);
    cr_assert_eq(clock_now_ms(&c), 1500);
    clock_test_set(&c, 42);
    cr_assert_eq(clock_now_ms(&c), 42);
    cr_assert_gt(clock_now_ms(clock_system()), 1700000000000LL);
}

Test(clock, rfc3339_format)
{
    char out[32];
    clock_format_rfc3339_ms(1774017953123LL, out);
    cr_assert_str_eq(out, "2026-03-20T14:45:53.123Z");
    clock_format_rfc3339_ms(0, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
}

/* FIPS 180 examples, and lengths around the padding's block boundary. */
Test(sha1, the_published_vectors)
{
    char out[41];
    sha1_hex("", 0, out);
    cr_assert_str_eq(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    sha1_hex("abc", 3, out);
    cr_assert_str_eq(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two padding blocks */
    sha1_hex(two, strlen(two), out);
    cr_assert_str_eq(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char a[1000];
    memset(a, 'a', sizeof a);
    sha1_hex(a, 64, out);
    cr_assert_str_eq(out, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    sha1_hex(a, 1000, out);
    cr_assert_str_eq(out, "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}
