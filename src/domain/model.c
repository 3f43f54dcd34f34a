/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/model.h"

#include <stddef.h>

limits contract_effective_limits(const plan *p, const contract *c)
{
    limits l = p->limits;
    const limits *o = &c->overrides;
    if (c->overridden & OVR_DAILY_LIMIT)
        l.daily_limit = o->daily_limit;
    if (c->overridden & OVR_MONTHLY_LIMIT)
        l.monthly_limit = o->monthly_limit;
    if (c->overridden & OVR_MODE)
        l.mode = o->mode;
    if (c->overridden & OVR_OVERAGE_CAP)
        l.overage_cap = o->overage_cap;
    if (c->overridden & OVR_RATE)
        l.rate_per_second = o->rate_per_second;
    if (c->overridden & OVR_BURST)
        l.burst = o->burst;
    if (c->overridden & OVR_CRED_RATE)
        l.credential_rate_per_second = o->credential_rate_per_second;
    if (c->overridden & OVR_CRED_BURST)
        l.credential_burst = o->credential_burst;
    if (c->overridden & OVR_ALERTS)
        l.alerts = o->alerts;
    return l;
}

alert_set alert_set_default(void)
{
    return (alert_set){.n = 2, .pct = {80, 100}};
}

bool alert_set_parse(const char *text, alert_set *out)
{
    alert_set a = {0};
    const char *p = text;
    while (*p != '\0') {
        if (a.n == ALERT_THRESHOLDS_MAX || *p < '1' || *p > '9')
            return false; /* no sign, no leading zero, no empty member */
        int v = 0;
        for (int digits = 0; *p >= '0' && *p <= '9'; p++)
            if (++digits > 3 || (v = v * 10 + (*p - '0')) > 100)
                return false;
        if (a.n > 0 && v <= a.pct[a.n - 1])
            return false;
        a.pct[a.n++] = (uint8_t)v;
        if (*p == ',' && *++p == '\0')
            return false; /* a trailing comma */
        if (*p != '\0' && (p[-1] != ',' || *p < '1' || *p > '9'))
            return false;
    }
    *out = a;
    return true;
}

void alert_set_format(const alert_set *a, char out[ALERT_SET_TEXT_MAX])
{
    size_t len = 0;
    out[0] = '\0';
    for (uint8_t i = 0; i < a->n && i < ALERT_THRESHOLDS_MAX; i++) {
        unsigned v = a->pct[i];
        char d[4];
        int nd = 0;
        do
            d[nd++] = (char)('0' + v % 10);
        while ((v /= 10) != 0 && nd < 3);
        if (i > 0)
            out[len++] = ',';
        while (nd > 0)
            out[len++] = d[--nd];
    }
    out[len] = '\0';
}
