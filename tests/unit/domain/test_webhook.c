/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "domain/webhook.h"

Test(webhook, urls_over_a_table)
{
    static const struct {
        const char *url;
        bool ok;
        const char *host;
        unsigned port;
        bool https;
    } cases[] = {
        {"https://hooks.example.com/starmeter", true, "hooks.example.com", 443, true},
        {"HTTP://Example.COM", true, "Example.COM", 80, false},
        {"http://example.com:8080/a?b=c", true, "example.com", 8080, false},
        {"https://[2001:db8::1]:8443/x", true, "2001:db8::1", 8443, true},
        {"http://127.0.0.1:9/hook", true, "127.0.0.1", 9, false},
        {"ftp://example.com/", false, NULL, 0, false},
        {"file:///etc/passwd", false, NULL, 0, false},
        {"gopher://example.com/", false, NULL, 0, false},
        {"https://", false, NULL, 0, false},
        {"https:///path", false, NULL, 0, false},
        {"https://user:pass@example.com/", false, NULL, 0, false},
        {"https://example.com@evil.com/", false, NULL, 0, false},
        {"https://exa mple.com/", false, NULL, 0, false},
        {"https://example.com/\r\nX-Injected: 1", false, NULL, 0, false},
        {"https://example.com/#frag", false, NULL, 0, false},
        {"https://example.com:0/", false, NULL, 0, false},
        {"https://example.com:65536/", false, NULL, 0, false},
        {"https://example.com:/", false, NULL, 0, false},
        {"https://example.com:80a/", false, NULL, 0, false},
        {"https://[::1/", false, NULL, 0, false},
        {"https://exa_mple.com/", false, NULL, 0, false},
        {"https://%65xample.com/", false, NULL, 0, false},
        {"https://ex\xc3\xa4mple.com/", false, NULL, 0, false},
        {"javascript:alert(1)", false, NULL, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        webhook_url u;
        char why[160] = "";
        bool ok = webhook_url_parse(cases[i].url, strlen(cases[i].url), &u, why);
        cr_assert_eq(ok, cases[i].ok, "%s: %s", cases[i].url, why);
        if (ok) {
            cr_assert_str_eq(u.host, cases[i].host);
            cr_assert_eq(u.port, cases[i].port, "%s", cases[i].url);
            cr_assert_eq(u.https, cases[i].https);
        } else {
            cr_assert(strlen(why) > 0);
        }
    }
    char long_url[2100];
    memset(long_url, 'a', sizeof long_url);
    memcpy(long_url, "https://example.com/", 20);
    webhook_url u;
    char why[160];
    cr_assert(webhook_url_parse(long_url, 2048, &u, why));
    cr_assert_not(webhook_url_parse(long_url, 2049, &u, why));
}

static bool public_addr(const char *text)
{
    uint8_t a[16];
    const char *why = NULL;
    if (inet_pton(AF_INET, text, a) == 1)
        return webhook_addr_is_public(a, 4, &why);
    cr_assert_eq(inet_pton(AF_INET6, text, a), 1, "%s", text);
    bool ok = webhook_addr_is_public(a, 16, &why);
    cr_assert(ok || why != NULL);
    return ok;
}

Test(webhook, addresses_over_a_table)
{
    static const char *const refused[] = {
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "::127.0.0.1",
        "fec0::1",
    };
    static const char *const allowed[] = {
        "93.184.216.34",   "8.8.8.8",        "172.32.0.1",     "100.128.0.1", "192.169.0.1",
        "2606:4700::1111", "::ffff:8.8.8.8", "172.15.255.255", "169.253.0.1",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_not(public_addr(refused[i]), "%s must be refused", refused[i]);
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        cr_assert(public_addr(allowed[i]), "%s must be allowed", allowed[i]);
}

Test(webhook, event_types)
{
    cr_assert(webhook_event_known("usage.threshold", 15));
    cr_assert_not(webhook_event_known("usage.thresholds", 16));
    cr_assert_not(webhook_event_known("usage", 5));
    cr_assert(webhook_events_include("usage.threshold", "usage.threshold"));
    cr_assert(webhook_events_include("a.b,usage.threshold", "usage.threshold"));
    cr_assert_not(webhook_events_include("usage.threshold2", "usage.threshold"));
    cr_assert_not(webhook_events_include("", "usage.threshold"));
    cr_assert(webhook_msg_id_valid("msg_p5jXN8AQM9LWM0D4loKWxJek"));
    cr_assert(webhook_msg_id_valid("thr.12.day.2026-12-01.80"));
    cr_assert_not(webhook_msg_id_valid(""));
    cr_assert_not(webhook_msg_id_valid("msg\r\nX-Evil: 1"));
    cr_assert_not(webhook_msg_id_valid("msg id"));
    char long_id[WEBHOOK_MSG_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    cr_assert_not(webhook_msg_id_valid(long_id));
    long_id[WEBHOOK_MSG_ID_MAX] = '\0';
    cr_assert(webhook_msg_id_valid(long_id));
}

Test(webhook, retries_back_off_with_full_jitter_within_the_window)
{
    webhook_retry_policy p = {.base_ms = 5000, .max_ms = 3600000, .window_ms = WEBHOOK_RETRY_WINDOW_MS};
    int64_t t0 = 1000000;
    /* The largest draw waits the whole ceiling: 5 s, 10 s, 20 s, ... capped at 1 h. */
    cr_assert_eq(webhook_retry_at(&p, 1, t0, t0, UINT32_MAX), t0 + 5000);
    cr_assert_eq(webhook_retry_at(&p, 2, t0, t0, UINT32_MAX), t0 + 10000);
    cr_assert_eq(webhook_retry_at(&p, 3, t0, t0, UINT32_MAX), t0 + 20000);
    cr_assert_eq(webhook_retry_at(&p, 30, t0, t0, UINT32_MAX), t0 + 3600000);
    cr_assert_eq(webhook_retry_at(&p, 1000000, t0, t0, UINT32_MAX), t0 + 3600000);
    /* The smallest still waits 1 ms; the middle draws half. */
    cr_assert_eq(webhook_retry_at(&p, 1, t0, t0, 0), t0 + 1);
    cr_assert_eq(webhook_retry_at(&p, 1, t0, t0, UINT32_C(1) << 31), t0 + 2500);
    /* Past the window: failed. */
    int64_t late = t0 + WEBHOOK_RETRY_WINDOW_MS - 100;
    cr_assert_eq(webhook_retry_at(&p, 20, t0, late, 0), late + 1);
    cr_assert_eq(webhook_retry_at(&p, 20, t0, late, UINT32_MAX), -1);
    cr_assert_eq(webhook_retry_at(&p, 20, t0, t0 + WEBHOOK_RETRY_WINDOW_MS, 0), -1);
}
