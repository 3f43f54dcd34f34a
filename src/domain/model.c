/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/model.h"

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
    return l;
}
