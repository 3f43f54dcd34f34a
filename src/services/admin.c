/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/apikey.h"
#include "domain/civil.h"
#include "infra/tzdb.h"
#include "services/jbody.h"
#include "services/services.h"
#include "services/services_int.h"

/* ---- representations ---- */

json_t *services_json_time(int64_t ms)
{
    char t[21];
    civil_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *json_opt_time(opt_i64 v)
{
    return v.present ? services_json_time(v.v) : json_null();
}

static json_t *json_opt_int(opt_i64 v)
{
    return v.present ? json_integer(v.v) : json_null();
}

static const char *const status_names[] = {"active", "suspended", NULL};
static const char *const mode_names[] = {"block", "overage", NULL};
static const char *const cred_status_names[] = {"active", "revoked", NULL};

static json_t *account_json(const account *a)
{
    return json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)a->id, "name", a->name, "status",
                     status_names[a->status], "created_at", services_json_time(a->created_at));
}

static json_t *alerts_json(const alert_set *a)
{
    json_t *list = json_array();
    for (uint8_t i = 0; i < a->n && i < ALERT_THRESHOLDS_MAX; i++)
        json_array_append_new(list, json_integer(a->pct[i]));
    return list;
}

static json_t *limits_json(const limits *l)
{
    return json_pack("{s:o, s:o, s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "daily_limit", json_opt_int(l->daily_limit),
                     "monthly_limit", json_opt_int(l->monthly_limit), "limit_mode", mode_names[l->mode], "overage_cap",
                     json_opt_int(l->overage_cap), "rate_per_second", (json_int_t)l->rate_per_second, "burst",
                     (json_int_t)l->burst, "credential_rate_per_second", (json_int_t)l->credential_rate_per_second,
                     "credential_burst", (json_int_t)l->credential_burst, "alert_thresholds", alerts_json(&l->alerts));
}

static json_t *plan_json(const plan *p)
{
    json_t *j = limits_json(&p->limits);
    json_object_set_new(j, "code", json_string(p->code));
    json_object_set_new(j, "name", json_string(p->name));
    json_object_set_new(j, "metered", json_boolean(p->metered));
    json_object_set_new(j, "created_at", services_json_time(p->created_at));
    json_object_set_new(j, "updated_at", services_json_time(p->updated_at));
    return j;
}

static json_t *credential_json(services *s, const credential *c)
{
    opt_i64 lu = keycache_last_used(s->keys, c->key_id);
    if (!lu.present || (c->last_used_at.present && c->last_used_at.v > lu.v))
        lu = c->last_used_at;
    return json_pack("{s:s, s:I, s:s, s:s, s:o, s:o, s:o, s:o}", "key_id", c->key_id, "account_id",
                     (json_int_t)c->account_id, "label", c->label, "status", cred_status_names[c->status], "created_at",
                     services_json_time(c->created_at), "expires_at", json_opt_time(c->expires_at), "revoked_at",
                     json_opt_time(c->revoked_at), "last_used_at", json_opt_time(lu));
}

/* The members of `after` that differ from `before` (both objects), as {"before":{...},"after":{...}}. */
static json_t *diff_json(json_t *before, json_t *after)
{
    json_t *b = json_object(), *a = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(after, key, v)
    {
        json_t *old = json_object_get(before, key);
        if (strcmp(key, "updated_at") == 0 || (old != NULL && json_equal(old, v)))
            continue;
        json_object_set(b, key, old ? old : json_null());
        json_object_set(a, key, v);
    }
    return json_pack("{s:o, s:o}", "before", b, "after", a);
}

/* Fills an audit event; `details` is stolen. */
static void audit_init(audit_event *ev, services *s, const actor *who, const char *action, const char *target,
                       opt_i64 account_id, json_t *details)
{
    memset(ev, 0, sizeof *ev);
    ev->at = clock_now_ms(s->clock);
    str_copy(ev->actor, sizeof ev->actor, who->name);
    str_copy(ev->action, sizeof ev->action, action);
    str_copy(ev->target, sizeof ev->target, target);
    ev->account_id = account_id;
    if (who->request_id)
        str_copy(ev->request_id, sizeof ev->request_id, who->request_id);
    size_t n = details ? json_dumpb(details, ev->details, sizeof ev->details - 1, JSON_COMPACT | JSON_SORT_KEYS) : 0;
    if (n == 0 || n >= sizeof ev->details)
        str_copy(ev->details, sizeof ev->details, details ? "{\"truncated\":true}" : "{}");
    else
        ev->details[n] = '\0';
    json_decref(details);
}

/* ---- pagination ---- */

static int page_start(const page_req *page, int64_t *after, size_t *limit, app_err *err)
{
    *after = 0;
    *limit = LIST_LIMIT_DEFAULT;
    if (page == NULL)
        return 0;
    if (page->limit != 0) {
        if (page->limit < 1 || page->limit > LIST_LIMIT_MAX)
            return app_err_field(err, "limit", "must be an integer from 1 to %d", LIST_LIMIT_MAX);
        *limit = (size_t)page->limit;
    }
    if (page->cursor != NULL && !str_to_id(slice_make(page->cursor, strlen(page->cursor)), 0, INT64_MAX, after))
        return app_err_field(err, "cursor", "is not a cursor this API returned");
    return 0;
}

/* {"items": items, "next_cursor": "<last id>" or null}; steals items. */
static json_t *page_json(json_t *items, size_t limit, int64_t last_id)
{
    json_t *next = json_null();
    if (json_array_size(items) == limit) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)last_id);
        json_decref(next);
        next = json_string(c);
    }
    return json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
}

/* The helpers above, for the other files of services/ (services_int.h). */
void services__audit_init(audit_event *ev, services *s, const actor *who, const char *action, const char *target,
                          opt_i64 account_id, json_t *details)
{
    audit_init(ev, s, who, action, target, account_id, details);
}

int services__page_start(const page_req *page, int64_t *after, size_t *limit, app_err *err)
{
    return page_start(page, after, limit, err);
}

json_t *services__page_json(json_t *items, size_t limit, int64_t last_id)
{
    return page_json(items, limit, last_id);
}

json_t *services__json_opt_time(opt_i64 v)
{
    return json_opt_time(v);
}

/* ---- names ---- */

/* The next code point of valid UTF-8 (jansson only hands out valid UTF-8) at *p, advancing *p. */
static uint32_t utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    size_t n = 1;
    if (c >= 0xf0) {
        c = (c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
        n = 4;
    } else if (c >= 0xe0) {
        c = (c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        n = 3;
    } else if (c >= 0xc0) {
        c = (c & 0x1f) << 6 | (s[1] & 0x3f);
        n = 2;
    }
    *p = s + n;
    return c;
}

/*
 * C0 and C1 controls, and the bidirectional formatting characters (embeddings, overrides, isolates
 * and the implicit marks) that make a name display in an order other than the one stored, so that
 * what an operator reads in the console or the audit trail is what the account is called.
 */
static bool is_refused_in_name(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* Unicode white space and the zero-width characters: what trimming would remove. */
static bool is_blank_in_name(uint32_t c)
{
    return c == ' ' || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200d) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x2060 || c == 0x3000 || c == 0xfeff;
}

/* A display name (account, plan, credential label) already read by jbody_string into `s`. */
static bool check_name(app_err *err, const char *field, const char *s)
{
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t c = utf8_next(&p);
        if (is_refused_in_name(c)) {
            app_err_field(err, field, "must not contain control or bidirectional formatting characters (U+%04X)",
                          (unsigned)c);
            return false;
        }
        blank = blank && is_blank_in_name(c);
    }
    if (blank)
        app_err_field(err, field, "must not be blank");
    return !blank;
}

/* jbody_string for a display name; true when the field was present and is acceptable. */
static bool read_name(jbody *b, const char *field, bool required, size_t max_chars, char *out, size_t cap)
{
    return jbody_string(b, field, required, max_chars, out, cap) && check_name(b->err, field, out);
}

/* ---- accounts ---- */

int admin_account_create(services *s, const actor *a, json_t *body, json_t **out, app_err *err)
{
    account acc = {0};
    jbody b;
    if (jbody_init(&b, body, err))
        read_name(&b, "name", true, NAME_MAX_LEN, acc.name, sizeof acc.name);
    if (jbody_finish(&b) != 0)
        return err->code;
    acc.status = ACCOUNT_ACTIVE;
    acc.created_at = clock_now_ms(s->clock);
    audit_event ev;
    audit_init(&ev, s, a, "account.create", "account", opt_none(),
               json_pack("{s:{s:s, s:s}}", "after", "name", acc.name, "status", "active"));
    int rc = store_account_create(s->store, &acc, &ev, err);
    if (rc != 0)
        return rc;
    keycache_put_account(s->keys, acc.id, acc.status);
    *out = account_json(&acc);
    return 0;
}

int admin_account_get(services *s, int64_t id, json_t **out, app_err *err)
{
    account acc;
    int rc = store_account_get(s->store, id, &acc, err);
    if (rc == 0)
        *out = account_json(&acc);
    return rc;
}

int admin_account_list(services *s, const char *status, const page_req *page, json_t **out, app_err *err)
{
    int st = -1;
    if (status != NULL) {
        if (strcmp(status, "active") == 0)
            st = ACCOUNT_ACTIVE;
        else if (strcmp(status, "suspended") == 0)
            st = ACCOUNT_SUSPENDED;
        else
            app_err_field(err, "status", "must be one of: active, suspended");
    }
    int64_t after;
    size_t limit;
    page_start(page, &after, &limit, err);
    if (err->code != APP_OK)
        return err->code;
    account *rows = xmalloc(limit * sizeof *rows);
    size_t n;
    int rc = store_account_list(s->store, st, after, rows, limit, &n, err);
    if (rc == 0) {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(items, account_json(&rows[i]));
        *out = page_json(items, limit, n ? rows[n - 1].id : 0);
    }
    free(rows);
    return rc;
}

int admin_account_patch(services *s, const actor *a, int64_t id, json_t *body, json_t **out, app_err *err)
{
    int status = -1;
    jbody b;
    if (jbody_init(&b, body, err))
        jbody_enum(&b, "status", true, status_names, &status);
    if (jbody_finish(&b) != 0)
        return err->code;
    account acc;
    int rc = store_account_get(s->store, id, &acc, err);
    if (rc != 0)
        return rc;
    if ((int)acc.status != status) {
        char target[48];
        snprintf(target, sizeof target, "account:%lld", (long long)id);
        audit_event ev;
        audit_init(&ev, s, a, status == ACCOUNT_SUSPENDED ? "account.suspend" : "account.activate", target,
                   opt_some(id),
                   json_pack("{s:{s:s}, s:{s:s}}", "before", "status", status_names[acc.status], "after", "status",
                             status_names[status]));
        if ((rc = store_account_set_status(s->store, id, (account_status)status, &ev, err)) != 0)
            return rc;
        acc.status = (account_status)status;
        keycache_put_account(s->keys, id, acc.status);
    }
    *out = account_json(&acc);
    return 0;
}

/* ---- plans ---- */

#define RATE_MAX 1000000
#define BURST_MAX 10000000
#define LIMIT_MAX 1000000000000LL

/* Reads the limit fields present in `b` into `l`; `set` gets the OVR_* bits of those present. */
static void read_limits(jbody *b, limits *l, unsigned *set)
{
    bool present;
    int mode;
    *set = 0;
    if (jbody_nullable_int(b, "daily_limit", 0, LIMIT_MAX, &l->daily_limit, &present))
        *set |= OVR_DAILY_LIMIT;
    if (jbody_nullable_int(b, "monthly_limit", 0, LIMIT_MAX, &l->monthly_limit, &present))
        *set |= OVR_MONTHLY_LIMIT;
    if (jbody_enum(b, "limit_mode", false, mode_names, &mode)) {
        l->mode = (limit_mode)mode;
        *set |= OVR_MODE;
    }
    if (jbody_nullable_int(b, "overage_cap", 0, LIMIT_MAX, &l->overage_cap, &present))
        *set |= OVR_OVERAGE_CAP;
    if (jbody_int(b, "rate_per_second", false, 1, RATE_MAX, &l->rate_per_second))
        *set |= OVR_RATE;
    if (jbody_int(b, "burst", false, 1, BURST_MAX, &l->burst))
        *set |= OVR_BURST;
    if (jbody_int(b, "credential_rate_per_second", false, 1, RATE_MAX, &l->credential_rate_per_second))
        *set |= OVR_CRED_RATE;
    if (jbody_int(b, "credential_burst", false, 1, BURST_MAX, &l->credential_burst))
        *set |= OVR_CRED_BURST;
    if (jbody_alerts(b, "alert_thresholds", &l->alerts))
        *set |= OVR_ALERTS;
}

static bool valid_code(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n > PLAN_CODE_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '_' || c[i] == '-'))
            return false;
    return true;
}

static void plan_defaults(plan *p)
{
    memset(p, 0, sizeof *p);
    p->limits.mode = LIMIT_BLOCK;
    p->limits.rate_per_second = 50;
    p->limits.burst = 100;
    p->limits.credential_rate_per_second = 20;
    p->limits.credential_burst = 40;
    p->limits.alerts = alert_set_default();
    p->metered = true;
}

int admin_plan_create(services *s, const actor *a, json_t *body, json_t **out, app_err *err)
{
    plan p;
    plan_defaults(&p);
    unsigned set;
    jbody b;
    if (jbody_init(&b, body, err)) {
        if (jbody_string(&b, "code", true, PLAN_CODE_MAX_LEN, p.code, sizeof p.code) && !valid_code(p.code))
            app_err_field(err, "code", "must be 1 to 64 of a-z, 0-9, '_' and '-'");
        read_name(&b, "name", true, NAME_MAX_LEN, p.name, sizeof p.name);
        read_limits(&b, &p.limits, &set);
        jbody_bool(&b, "metered", &p.metered);
    }
    if (jbody_finish(&b) != 0)
        return err->code;
    p.created_at = p.updated_at = clock_now_ms(s->clock);
    char target[96];
    snprintf(target, sizeof target, "plan:%s", p.code);
    json_t *repr = plan_json(&p);
    audit_event ev;
    audit_init(&ev, s, a, "plan.create", target, opt_none(), json_pack("{s:O}", "after", repr));
    int rc = store_plan_create(s->store, &p, &ev, err);
    if (rc != 0) {
        json_decref(repr);
        return rc;
    }
    *out = repr;
    return 0;
}

int admin_plan_get(services *s, const char *code, json_t **out, app_err *err)
{
    plan p;
    int rc = store_plan_get_by_code(s->store, code, &p, err);
    if (rc == 0)
        *out = plan_json(&p);
    return rc;
}

int admin_plan_list(services *s, const page_req *page, json_t **out, app_err *err)
{
    int64_t after;
    size_t limit;
    if (page_start(page, &after, &limit, err) != 0)
        return err->code;
    plan *rows = xmalloc(limit * sizeof *rows);
    size_t n;
    int rc = store_plan_list(s->store, after, rows, limit, &n, err);
    if (rc == 0) {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(items, plan_json(&rows[i]));
        *out = page_json(items, limit, n ? rows[n - 1].id : 0);
    }
    free(rows);
    return rc;
}

int admin_plan_patch(services *s, const actor *a, const char *code, json_t *body, json_t **out, app_err *err)
{
    plan p;
    int rc = store_plan_get_by_code(s->store, code, &p, err);
    if (rc != 0)
        return rc;
    json_t *before = plan_json(&p);
    unsigned set;
    jbody b;
    if (jbody_init(&b, body, err)) {
        read_name(&b, "name", false, NAME_MAX_LEN, p.name, sizeof p.name);
        read_limits(&b, &p.limits, &set);
        jbody_bool(&b, "metered", &p.metered);
    }
    if (jbody_finish(&b) != 0) {
        json_decref(before);
        return err->code;
    }
    p.updated_at = clock_now_ms(s->clock);
    json_t *after = plan_json(&p);
    char target[96];
    snprintf(target, sizeof target, "plan:%s", p.code);
    audit_event ev;
    audit_init(&ev, s, a, "plan.update", target, opt_none(), diff_json(before, after));
    json_decref(before);
    if ((rc = store_plan_update(s->store, &p, &ev, err)) != 0) {
        json_decref(after);
        return rc;
    }
    /* Every account on the plan gets the new limits from its next request. */
    app_err reload_err;
    app_err_clear(&reload_err);
    if (keycache_reload(s->keys, s->store, &reload_err) != 0)
        log_write(s->log, LOG_WARN, "key cache reload failed", "{s:s}", "error", reload_err.message);
    *out = after;
    return 0;
}

/* ---- contracts ---- */

bool timezone_is_valid(const char *tz)
{
    size_t n = strlen(tz);
    if (n == 0 || n > TIMEZONE_MAX_LEN || !tzdb_name_is_geographic(tz))
        return false;
    if (strcmp(tz, "UTC") == 0)
        return true;
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    /* A real zone file starts with the TZif magic (the directory also holds tables and scripts). */
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    return got == 4 && memcmp(magic, "TZif", 4) == 0;
}

static json_t *contract_json(const contract *c, const plan *p)
{
    json_t *ovr = limits_json(&c->overrides);
    static const struct {
        unsigned bit;
        const char *name;
    } fields[] = {{OVR_DAILY_LIMIT, "daily_limit"},
                  {OVR_MONTHLY_LIMIT, "monthly_limit"},
                  {OVR_MODE, "limit_mode"},
                  {OVR_OVERAGE_CAP, "overage_cap"},
                  {OVR_RATE, "rate_per_second"},
                  {OVR_BURST, "burst"},
                  {OVR_CRED_RATE, "credential_rate_per_second"},
                  {OVR_CRED_BURST, "credential_burst"},
                  {OVR_ALERTS, "alert_thresholds"}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!(c->overridden & fields[i].bit))
            json_object_del(ovr, fields[i].name);
    limits eff = contract_effective_limits(p, c);
    json_t *effective = limits_json(&eff);
    json_object_set_new(effective, "metered", json_boolean(p->metered));
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "account_id", (json_int_t)c->account_id, "plan_code",
                     p->code, "plan_name", p->name, "timezone", c->timezone, "overrides", ovr, "effective", effective,
                     "starts_at", services_json_time(c->starts_at), "updated_at", services_json_time(c->updated_at));
}

int admin_contract_put(services *s, const actor *a, int64_t account_id, json_t *body, json_t **out, app_err *err)
{
    account acc;
    int rc = store_account_get(s->store, account_id, &acc, err);
    if (rc != 0)
        return rc;
    contract c = {.account_id = account_id};
    char plan_code[PLAN_CODE_MAX_LEN + 1] = "";
    str_copy(c.timezone, sizeof c.timezone, "UTC");
    bool zone_given = false;
    jbody b;
    if (jbody_init(&b, body, err)) {
        jbody_string(&b, "plan_code", true, PLAN_CODE_MAX_LEN, plan_code, sizeof plan_code);
        if ((zone_given = jbody_string(&b, "timezone", false, TIMEZONE_MAX_LEN, c.timezone, sizeof c.timezone)) &&
            !timezone_is_valid(c.timezone))
            app_err_field(err, "timezone",
                          "must be UTC or a geographic IANA time zone (Area/Location) such as Europe/Paris");
        json_t *ovr = jbody_object(&b, "overrides");
        if (ovr != NULL) {
            jbody ob;
            app_err oerr;
            app_err_clear(&oerr);
            jbody_init(&ob, ovr, &oerr);
            read_limits(&ob, &c.overrides, &c.overridden);
            jbody_finish(&ob);
            for (size_t i = 0; i < oerr.nfields; i++)
                app_err_field(err, "overrides", "%s %s", oerr.fields[i].field, oerr.fields[i].issue);
        }
    }
    plan p;
    if (plan_code[0] != '\0' && store_plan_get_by_code(s->store, plan_code, &p, NULL) != 0)
        app_err_field(err, "plan_code", "no plan has code \"%s\"", plan_code);
    if (jbody_finish(&b) != 0)
        return err->code;
    c.plan_id = p.id;
    int64_t now = clock_now_ms(s->clock);
    contract old;
    plan old_plan;
    json_t *before = json_object();
    if (store_contract_get(s->store, account_id, &old, NULL) == 0 &&
        store_plan_get(s->store, old.plan_id, &old_plan, NULL) == 0) {
        c.starts_at = old.starts_at;
        if (!zone_given) /* a plan change must not move the account's days and months to UTC */
            str_copy(c.timezone, sizeof c.timezone, old.timezone);
        json_decref(before);
        before = contract_json(&old, &old_plan);
    } else {
        c.starts_at = now;
    }
    c.updated_at = now;
    json_t *after = contract_json(&c, &p);
    char target[48];
    snprintf(target, sizeof target, "account:%lld", (long long)account_id);
    audit_event ev;
    audit_init(&ev, s, a, "contract.put", target, opt_some(account_id), diff_json(before, after));
    json_decref(before);
    if ((rc = store_contract_put(s->store, &c, &ev, err)) != 0) {
        json_decref(after);
        return rc;
    }
    limits eff = contract_effective_limits(&p, &c);
    keycache_put_contract(s->keys, account_id, &eff, p.metered, c.timezone);
    *out = after;
    return 0;
}

int admin_contract_get(services *s, int64_t account_id, json_t **out, app_err *err)
{
    account acc;
    contract c;
    plan p;
    int rc = store_account_get(s->store, account_id, &acc, err);
    if (rc == 0)
        rc = store_contract_get(s->store, account_id, &c, err);
    if (rc == 0)
        rc = store_plan_get(s->store, c.plan_id, &p, err);
    if (rc == 0)
        *out = contract_json(&c, &p);
    return rc;
}

/* ---- credentials ---- */

/* A fresh key whose key_id is not taken yet. */
static int new_key(services *s, apikey *key, app_err *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t rnd[APIKEY_RANDOM_BYTES];
        randombytes_buf(rnd, sizeof rnd);
        bool ok = apikey_generate(rnd, key);
        sodium_memzero(rnd, sizeof rnd);
        if (!ok)
            continue;
        credential existing;
        if (store_credential_get(s->store, key->key_id, &existing, NULL) != 0)
            return 0;
    }
    return app_err_set(err, APP_INTERNAL_ERROR, "could not draw an unused key id");
}

static void credential_from_key(services *s, credential *c, const apikey *key)
{
    str_copy(c->key_id, sizeof c->key_id, key->key_id);
    hash_secret(s->pepper, key->secret, APIKEY_SECRET_LEN, c->secret_hash);
}

int admin_credential_issue(services *s, const actor *a, int64_t account_id, json_t *body, json_t **out, app_err *err)
{
    account acc;
    int rc = store_account_get(s->store, account_id, &acc, err);
    if (rc != 0)
        return rc;
    credential c = {.account_id = account_id, .status = CREDENTIAL_ACTIVE};
    int64_t now = clock_now_ms(s->clock);
    bool present;
    jbody b;
    if (body == NULL || json_is_null(body)) /* an empty body is fine: no label, no expiry */
        body = json_object();
    else
        json_incref(body);
    if (jbody_init(&b, body, err)) {
        read_name(&b, "label", false, LABEL_MAX_LEN, c.label, sizeof c.label);
        if (jbody_nullable_time(&b, "expires_at", &c.expires_at, &present) && c.expires_at.present &&
            c.expires_at.v <= now)
            app_err_field(err, "expires_at", "must be in the future");
        jbody_finish(&b);
    }
    json_decref(body);
    if (err->code != APP_OK)
        return err->code;
    apikey key;
    if ((rc = new_key(s, &key, err)) != 0)
        return rc;
    credential_from_key(s, &c, &key);
    c.created_at = now;
    char target[48];
    snprintf(target, sizeof target, "credential:%s", c.key_id);
    audit_event ev;
    audit_init(&ev, s, a, "credential.issue", target, opt_some(account_id),
               json_pack("{s:{s:s, s:s, s:o}}", "after", "key_id", c.key_id, "label", c.label, "expires_at",
                         json_opt_time(c.expires_at)));
    rc = store_credential_create(s->store, &c, &ev, err);
    if (rc == 0) {
        keycache_put_credential(s->keys, &c);
        *out = credential_json(s, &c);
        json_object_set_new(*out, "api_key", json_string(key.full));
    }
    sodium_memzero(&key, sizeof key);
    return rc;
}

int admin_credential_list(services *s, int64_t account_id, json_t **out, app_err *err)
{
    account acc;
    int rc = store_account_get(s->store, account_id, &acc, err);
    if (rc != 0)
        return rc;
    enum { PAGE = 256 };
    credential *rows = xmalloc(PAGE * sizeof *rows);
    json_t *items = json_array();
    int64_t after = 0;
    size_t n;
    do {
        if ((rc = store_credential_list(s->store, account_id, after, rows, PAGE, &n, err)) != 0)
            break;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(items, credential_json(s, &rows[i]));
        if (n > 0)
            after = rows[n - 1].id;
    } while (n == PAGE);
    free(rows);
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

#define GRACE_MAX_SECONDS (30 * 86400)

int admin_credential_rotate(services *s, const actor *a, const char *key_id, json_t *body, json_t **out, app_err *err)
{
    int64_t grace = 86400;
    jbody b;
    if (body == NULL || json_is_null(body))
        body = json_object();
    else
        json_incref(body);
    if (jbody_init(&b, body, err)) {
        jbody_int(&b, "grace_seconds", false, 0, GRACE_MAX_SECONDS, &grace);
        jbody_finish(&b);
    }
    json_decref(body);
    if (err->code != APP_OK)
        return err->code;
    credential old;
    int rc = store_credential_get(s->store, key_id, &old, err);
    if (rc != 0)
        return rc;
    int64_t now = clock_now_ms(s->clock);
    if (old.status == CREDENTIAL_REVOKED)
        return app_err_field(err, "key_id", "credential %s is revoked and cannot be rotated", key_id);
    if (old.expires_at.present && old.expires_at.v <= now)
        return app_err_field(err, "key_id", "credential %s has expired and cannot be rotated", key_id);

    credential fresh = {.account_id = old.account_id, .status = CREDENTIAL_ACTIVE, .created_at = now};
    str_copy(fresh.label, sizeof fresh.label, old.label);
    fresh.expires_at = old.expires_at; /* a rotation never extends a key's life */
    apikey key;
    if ((rc = new_key(s, &key, err)) != 0)
        return rc;
    credential_from_key(s, &fresh, &key);
    opt_i64 old_expiry = old.expires_at;
    int64_t grace_end = now + grace * 1000;
    if (!old.expires_at.present || old.expires_at.v > grace_end)
        old.expires_at = opt_some(grace_end);

    char target[48];
    snprintf(target, sizeof target, "credential:%s", old.key_id);
    audit_event ev;
    audit_init(&ev, s, a, "credential.rotate", target, opt_some(old.account_id),
               json_pack("{s:{s:o}, s:{s:o, s:s}}", "before", "expires_at", json_opt_time(old_expiry), "after",
                         "expires_at", json_opt_time(old.expires_at), "replaced_by", fresh.key_id));
    rc = store_credential_rotate(s->store, &old, &fresh, &ev, err);
    credential stored;
    if (rc == APP_NOT_FOUND && store_credential_get(s->store, key_id, &stored, NULL) == 0 &&
        stored.status == CREDENTIAL_REVOKED) { /* revoked since it was read: a revocation is final */
        app_err_clear(err);
        rc = app_err_field(err, "key_id", "credential %s is revoked and cannot be rotated", key_id);
    }
    if (rc == 0) {
        if (store_credential_get(s->store, key_id, &stored, NULL) == 0)
            old = stored; /* as stored: its expiry only ever shortens */
        keycache_put_credential(s->keys, &old);
        keycache_put_credential(s->keys, &fresh);
        *out = credential_json(s, &fresh);
        json_object_set_new(*out, "api_key", json_string(key.full));
        json_object_set_new(*out, "previous", credential_json(s, &old));
    }
    sodium_memzero(&key, sizeof key);
    return rc;
}

int admin_credential_revoke(services *s, const actor *a, const char *key_id, json_t **out, app_err *err)
{
    credential c;
    int rc = store_credential_get(s->store, key_id, &c, err);
    if (rc != 0)
        return rc;
    if (c.status != CREDENTIAL_REVOKED) {
        c.status = CREDENTIAL_REVOKED;
        c.revoked_at = opt_some(clock_now_ms(s->clock));
        char target[48];
        snprintf(target, sizeof target, "credential:%s", c.key_id);
        audit_event ev;
        audit_init(&ev, s, a, "credential.revoke", target, opt_some(c.account_id),
                   json_pack("{s:{s:s}, s:{s:s}}", "before", "status", "active", "after", "status", "revoked"));
        rc = store_credential_update(s->store, &c, &ev, err);
        credential stored;
        if (rc == APP_NOT_FOUND && store_credential_get(s->store, key_id, &stored, NULL) == 0 &&
            stored.status == CREDENTIAL_REVOKED) { /* revoked meanwhile by another request: done */
            app_err_clear(err);
            rc = 0;
        }
        if (rc != 0)
            return rc;
        if (store_credential_get(s->store, key_id, &stored, NULL) == 0)
            c = stored; /* as stored */
        keycache_put_credential(s->keys, &c);
    }
    *out = credential_json(s, &c);
    return 0;
}

/* ---- audit ---- */

static json_t *audit_json(const audit_event *e)
{
    char prev[2 * HASH_LEN + 1], hash[2 * HASH_LEN + 1];
    hash_hex(e->prev_hash, HASH_LEN, prev);
    hash_hex(e->hash, HASH_LEN, hash);
    json_t *details = json_loads(e->details, 0, NULL);
    return json_pack("{s:I, s:o, s:s, s:s, s:s, s:o, s:o, s:s?, s:s, s:s}", "seq", (json_int_t)e->seq, "at",
                     services_json_time(e->at), "actor", e->actor, "action", e->action, "target", e->target,
                     "account_id", json_opt_int(e->account_id), "details", details ? details : json_object(),
                     "request_id", e->request_id[0] ? e->request_id : NULL, "prev_hash", prev, "hash", hash);
}

int admin_audit_list(services *s, const audit_filter *f, const page_req *page, json_t **out, app_err *err)
{
    int64_t after;
    size_t limit;
    if (page_start(page, &after, &limit, err) != 0)
        return err->code;
    audit_event *rows = xmalloc(limit * sizeof *rows);
    size_t n;
    int rc = store_audit_list(s->store, f, after, rows, limit, &n, err);
    if (rc == 0) {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(items, audit_json(&rows[i]));
        *out = page_json(items, limit, n ? rows[n - 1].seq : 0);
    }
    free(rows);
    return rc;
}

int admin_audit_verify(services *s, json_t **out, app_err *err)
{
    int64_t checked, broken;
    char why[160];
    int rc = audit_verify(s->store, &checked, &broken, why, err);
    if (rc != 0)
        return rc;
    *out = json_pack("{s:b, s:I, s:o, s:o}", "valid", broken == 0, "checked", (json_int_t)checked, "first_broken_seq",
                     broken != 0 ? json_integer(broken) : json_null(), "reason",
                     broken != 0 ? json_string(why) : json_null());
    return *out != NULL ? 0 : app_err_set(err, APP_INTERNAL_ERROR, "out of memory");
}

int audit_verify(store *st, int64_t *checked, int64_t *broken_seq, char why[160], app_err *err)
{
    enum { PAGE = 256 };
    audit_event *rows = xmalloc(PAGE * sizeof *rows);
    uint8_t prev[HASH_LEN] = {0};
    int64_t after = 0, expect_seq = 1;
    size_t n;
    int rc = 0;
    *checked = 0;
    *broken_seq = 0;
    why[0] = '\0';
    do {
        if ((rc = store_audit_list(st, NULL, after, rows, PAGE, &n, err)) != 0)
            break;
        for (size_t i = 0; i < n && *broken_seq == 0; i++) {
            audit_event *e = &rows[i];
            uint8_t h[HASH_LEN];
            if (e->seq != expect_seq) {
                snprintf(why, 160, "expected event %lld, found %lld: events are missing", (long long)expect_seq,
                         (long long)e->seq);
                *broken_seq = expect_seq;
            } else if (sodium_memcmp(e->prev_hash, prev, HASH_LEN) != 0) {
                snprintf(why, 160, "its prev_hash is not the hash of event %lld", (long long)(e->seq - 1));
                *broken_seq = e->seq;
            } else {
                hash_audit_event(e, h);
                if (sodium_memcmp(h, e->hash, HASH_LEN) != 0) {
                    snprintf(why, 160, "its content does not match its hash (the row was altered)");
                    *broken_seq = e->seq;
                }
            }
            memcpy(prev, e->hash, HASH_LEN);
            expect_seq++;
            (*checked)++;
        }
        if (n > 0)
            after = rows[n - 1].seq;
    } while (n == PAGE && *broken_seq == 0);
    free(rows);
    return rc;
}

/* ---- B2B ---- */

int b2b_me(services *s, const principal *p, json_t **out, app_err *err)
{
    account acc;
    credential c;
    int rc = store_account_get(s->store, p->account_id, &acc, err);
    if (rc == 0)
        rc = store_credential_get(s->store, p->key_id, &c, err);
    if (rc != 0)
        return rc;
    json_t *plan_j = json_null();
    contract ct;
    plan pl;
    if (store_contract_get(s->store, acc.id, &ct, NULL) == 0 && store_plan_get(s->store, ct.plan_id, &pl, NULL) == 0)
        plan_j = json_pack("{s:s, s:s}", "code", pl.code, "name", pl.name);
    json_t *cred = credential_json(s, &c);
    json_object_del(cred, "account_id");
    *out = json_pack("{s:{s:I, s:s}, s:o, s:o}", "account", "id", (json_int_t)acc.id, "name", acc.name, "credential",
                     cred, "plan", plan_j);
    return 0;
}

/* ---- demo ---- */

int services_seed_demo(services *s, const char *key_path, bool *created, app_err *err)
{
    *created = false;
    static const char demo_code[] = "demo";
    actor a = {.name = "system", .request_id = NULL};
    plan p;
    int rc;
    if (store_plan_get_by_code(s->store, demo_code, &p, NULL) == 0)
        return 0; /* seeded before: nothing to do */
    json_t *out = NULL;
    json_t *body = json_pack("{s:s, s:s, s:i, s:i, s:s, s:i, s:i}", "code", demo_code, "name", "Demo", "daily_limit",
                             1000, "monthly_limit", 20000, "limit_mode", "block", "rate_per_second", 20, "burst", 40);
    rc = admin_plan_create(s, &a, body, &out, err);
    json_decref(body);
    json_decref(out);
    if (rc != 0)
        return rc;
    body = json_pack("{s:s}", "name", "Demo Enterprise");
    rc = admin_account_create(s, &a, body, &out, err);
    json_decref(body);
    if (rc != 0)
        return rc;
    int64_t account_id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    body = json_pack("{s:s, s:s}", "plan_code", demo_code, "timezone", "UTC");
    rc = admin_contract_put(s, &a, account_id, body, &out, err);
    json_decref(body);
    json_decref(out);
    if (rc != 0)
        return rc;
    body = json_pack("{s:s}", "label", "demo key");
    rc = admin_credential_issue(s, &a, account_id, body, &out, err);
    json_decref(body);
    if (rc != 0)
        return rc;
    const char *key = json_string_value(json_object_get(out, "api_key"));
    int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        json_decref(out);
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot write %s", key_path);
    }
    size_t len = strlen(key);
    bool ok = write(fd, key, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    close(fd);
    json_decref(out);
    *created = ok;
    return ok ? 0 : app_err_set(err, APP_INTERNAL_ERROR, "cannot write %s", key_path);
}
