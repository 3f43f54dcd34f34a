/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/webhook.h"

#include <stdio.h>
#include <string.h>

static const char *const webhook_status_names[] = {"active", "disabled"};
static const char *const delivery_status_names[] = {"pending", "delivered", "failed"};

const char *webhook_status_name(webhook_status s)
{
    return webhook_status_names[s == WEBHOOK_DISABLED];
}

const char *delivery_status_name(delivery_status s)
{
    return s <= DELIVERY_FAILED ? delivery_status_names[s] : "pending";
}

/* One row per event type; the data of each is documented in docs/openapi.yaml (WebhookEvent). */
const char *const webhook_event_types[] = {"usage.threshold", NULL};

bool webhook_event_known(const char *name, size_t len)
{
    for (size_t i = 0; webhook_event_types[i] != NULL; i++)
        if (strlen(webhook_event_types[i]) == len && memcmp(webhook_event_types[i], name, len) == 0)
            return true;
    return false;
}

bool webhook_events_include(const char *events, const char *type)
{
    size_t tl = strlen(type);
    for (const char *p = events; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == tl && memcmp(p, type, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* ---- URLs ---- */

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool webhook_msg_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > WEBHOOK_MSG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_alnum(id[i]) || id[i] == '_' || id[i] == '-' || id[i] == '.'))
            return false;
    return true;
}

static bool prefix_nocase(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

static bool fail(char why[160], const char *msg)
{
    snprintf(why, 160, "%s", msg);
    return false;
}

bool webhook_url_parse(const char *url, size_t len, webhook_url *out, char why[160])
{
    memset(out, 0, sizeof *out);
    if (len > WEBHOOK_URL_MAX)
        return fail(why, "must be at most 2048 bytes");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return fail(why, "must be printable ASCII without spaces (percent-encode anything else)");
    size_t at;
    if (prefix_nocase(url, len, "https://")) {
        out->https = true;
        at = 8;
    } else if (prefix_nocase(url, len, "http://")) {
        at = 7;
    } else {
        return fail(why, "must be an http:// or https:// URL");
    }
    if (memchr(url, '#', len) != NULL)
        return fail(why, "must not have a fragment (#)");
    size_t end = at;
    while (end < len && url[end] != '/' && url[end] != '?')
        end++;
    const char *auth = url + at;
    size_t alen = end - at;
    if (memchr(auth, '@', alen) != NULL)
        return fail(why, "must not hold a user name or password (user@host)");
    size_t hlen, hstart = 0;
    const char *rest;
    if (alen > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL)
            return fail(why, "has an IPv6 address without its closing ]");
        hstart = 1;
        hlen = (size_t)(close - auth) - 1;
        for (size_t i = 1; i <= hlen; i++)
            if (!(is_alnum(auth[i]) || auth[i] == ':' || auth[i] == '.'))
                return fail(why, "has an IPv6 address with characters other than hex digits, ':' and '.'");
        rest = close + 1;
    } else {
        hlen = 0;
        while (hlen < alen && auth[hlen] != ':')
            hlen++;
        for (size_t i = 0; i < hlen; i++)
            if (!(is_alnum(auth[i]) || auth[i] == '-' || auth[i] == '.'))
                return fail(why, "has a host with characters other than letters, digits, '-' and '.'");
        rest = auth + hlen;
    }
    if (hlen == 0)
        return fail(why, "must name a host");
    if (hlen >= sizeof out->host)
        return fail(why, "has a host longer than 255 bytes");
    memcpy(out->host, auth + hstart, hlen);
    out->host[hlen] = '\0';
    size_t rlen = (size_t)(auth + alen - rest);
    out->port = out->https ? 443 : 80;
    if (rlen > 0) {
        if (rest[0] != ':' || rlen < 2 || rlen > 6)
            return fail(why, "has a malformed port (host:port, 1 to 65535)");
        unsigned port = 0;
        for (size_t i = 1; i < rlen; i++) {
            if (rest[i] < '0' || rest[i] > '9')
                return fail(why, "has a malformed port (host:port, 1 to 65535)");
            port = port * 10 + (unsigned)(rest[i] - '0');
        }
        if (port == 0 || port > 65535)
            return fail(why, "has a port outside 1 to 65535");
        out->port = (uint16_t)port;
    }
    return true;
}

/* ---- addresses ---- */

static bool v4_is_public(const uint8_t a[4], const char **why)
{
    static const struct {
        uint8_t net[4];
        int bits;
        const char *name;
    } refused[] = {
        {{0, 0, 0, 0}, 8, "unspecified (0.0.0.0/8)"},
        {{10, 0, 0, 0}, 8, "private (10.0.0.0/8)"},
        {{100, 64, 0, 0}, 10, "shared address space (100.64.0.0/10)"},
        {{127, 0, 0, 0}, 8, "loopback (127.0.0.0/8)"},
        {{169, 254, 0, 0}, 16, "link-local (169.254.0.0/16)"},
        {{172, 16, 0, 0}, 12, "private (172.16.0.0/12)"},
        {{192, 0, 0, 0}, 24, "IETF protocol assignments (192.0.0.0/24)"},
        {{192, 168, 0, 0}, 16, "private (192.168.0.0/16)"},
        {{198, 18, 0, 0}, 15, "benchmarking (198.18.0.0/15)"},
        {{224, 0, 0, 0}, 4, "multicast (224.0.0.0/4)"},
        {{240, 0, 0, 0}, 4, "reserved or broadcast (240.0.0.0/4)"},
    };
    uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const uint8_t *n = refused[i].net;
        uint32_t net = (uint32_t)n[0] << 24 | (uint32_t)n[1] << 16 | (uint32_t)n[2] << 8 | n[3];
        uint32_t mask = ~UINT32_C(0) << (32 - refused[i].bits);
        if ((x & mask) == net) {
            *why = refused[i].name;
            return false;
        }
    }
    return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

bool webhook_addr_is_public(const uint8_t *addr, size_t len, const char **why)
{
    static const char *unused;
    if (why == NULL)
        why = &unused;
    if (len == 4)
        return v4_is_public(addr, why);
    if (len != 16) {
        *why = "not an IPv4 or IPv6 address";
        return false;
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    /* An IPv4 address in IPv6 clothes is judged as the IPv4 address it reaches. */
    if (memcmp(addr, mapped, 12) == 0 || memcmp(addr, nat64, 12) == 0 || all_zero(addr, 12))
        return all_zero(addr, 15) ? (*why = addr[15] == 1 ? "loopback (::1)" : "unspecified (::)", false)
                                  : v4_is_public(addr + 12, why);
    if (addr[0] == 0x20 && addr[1] == 0x02) /* 6to4: the IPv4 address is bytes 2 to 5 */
        return v4_is_public(addr + 2, why);
    if ((addr[0] & 0xfe) == 0xfc) {
        *why = "unique local (fc00::/7)";
        return false;
    }
    if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80) {
        *why = "link-local (fe80::/10)";
        return false;
    }
    if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0xc0) {
        *why = "site-local (fec0::/10)";
        return false;
    }
    if (addr[0] == 0xff) {
        *why = "multicast (ff00::/8)";
        return false;
    }
    return true;
}

/* ---- retries ---- */

int64_t webhook_retry_at(const webhook_retry_policy *p, int64_t attempts, int64_t scheduled_at, int64_t now,
                         uint32_t random)
{
    int64_t ceiling = p->base_ms > 0 ? p->base_ms : 1;
    for (int64_t i = 1; i < attempts && ceiling < p->max_ms; i++)
        ceiling *= 2;
    if (ceiling > p->max_ms)
        ceiling = p->max_ms;
    /* Full jitter: uniform in [0, ceiling], from 32 random bits without modulo bias worth naming. */
    int64_t wait = (int64_t)(((uint64_t)random * (uint64_t)(ceiling + 1)) >> 32);
    if (wait < 1)
        wait = 1;
    int64_t at = now + wait;
    return at > scheduled_at + p->window_ms ? -1 : at;
}
