/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/webhooks.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "core/webhook_sign.h"
#include "infra/webhook_http.h"
#include "services/jbody.h"
#include "services/services_int.h"

/* Event types one endpoint may list. */
#define EVENTS_MAX 8
/* Attempts shown with each delivery (the earliest ones; attempts_truncated says when there are more). */
#define ATTEMPTS_SHOWN 100

/* ---- representations ---- */

static json_t *events_json(const char *events)
{
    json_t *a = json_array();
    for (const char *p = events; *p != '\0';) {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
}

/* An endpoint, never with a secret (the callers that show one add it). */
static json_t *webhook_json(const webhook *w, int64_t now)
{
    opt_i64 prev = w->prev_secret[0] != '\0' && w->prev_secret_expires_at.present && w->prev_secret_expires_at.v > now
                       ? w->prev_secret_expires_at
                       : opt_none();
    return json_pack("{s:I, s:I, s:s, s:o, s:s, s:o, s:o, s:o}", "id", (json_int_t)w->id, "account_id",
                     (json_int_t)w->account_id, "url", w->url, "events", events_json(w->events), "status",
                     webhook_status_name(w->status), "previous_secret_expires_at", services__json_opt_time(prev),
                     "created_at", services_json_time(w->created_at), "updated_at", services_json_time(w->updated_at));
}

static json_t *attempt_json(const webhook_attempt *a)
{
    return json_pack("{s:o, s:o, s:I, s:o}", "at", services_json_time(a->at), "http_status",
                     a->http_status ? json_integer(a->http_status) : json_null(), "latency_ms",
                     (json_int_t)a->latency_ms, "error", a->error[0] ? json_string(a->error) : json_null());
}

static json_t *delivery_json(const webhook_delivery *d)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:o, s:o}", "id", (json_int_t)d->id, "webhook_id",
                     (json_int_t)d->webhook_id, "msg_id", d->msg_id, "event_type", d->event_type, "status",
                     delivery_status_name(d->status), "attempt_count", (json_int_t)d->attempts, "next_attempt_at",
                     d->status == DELIVERY_PENDING ? services_json_time(d->next_attempt_at) : json_null(), "created_at",
                     services_json_time(d->created_at));
}

/* A delivery with its attempts (the first ATTEMPTS_SHOWN). */
static int delivery_with_attempts(services *s, const webhook_delivery *d, webhook_attempt *rows, json_t **out,
                                  app_err *err)
{
    size_t n;
    int rc = store_webhook_attempts_list(s->store, d->id, 0, rows, ATTEMPTS_SHOWN + 1, &n, err);
    if (rc != 0)
        return rc;
    json_t *j = delivery_json(d), *attempts = json_array();
    for (size_t i = 0; i < n && i < ATTEMPTS_SHOWN; i++)
        json_array_append_new(attempts, attempt_json(&rows[i]));
    json_object_set_new(j, "attempts", attempts);
    json_object_set_new(j, "attempts_truncated", json_boolean(n > ATTEMPTS_SHOWN));
    *out = j;
    return 0;
}

/* "https://host:port": what the audit trail keeps of a URL (a path or query may hold a token). */
static void url_origin(const webhook_url *u, char *out, size_t cap)
{
    bool v6 = strchr(u->host, ':') != NULL;
    snprintf(out, cap, "%s://%s%s%s:%u", u->https ? "https" : "http", v6 ? "[" : "", u->host, v6 ? "]" : "",
             (unsigned)u->port);
}

/* A fresh secret: "whsec_" and the base64 of WEBHOOK_SECRET_BYTES random bytes. */
static void new_secret(char out[WEBHOOK_SECRET_MAX + 1])
{
    uint8_t key[WEBHOOK_SECRET_BYTES];
    randombytes_buf(key, sizeof key);
    bool ok = webhook_secret_format(key, sizeof key, out, WEBHOOK_SECRET_MAX + 1);
    sodium_memzero(key, sizeof key);
    assert(ok);
    (void)ok;
}

static void webhook_target(int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "webhook:%lld", (long long)id);
}

/* ---- endpoints ---- */

/* Reads "events": 1 to EVENTS_MAX known event types, each once, joined with commas into out. */
static void read_events(jbody *b, char out[WEBHOOK_EVENTS_MAX + 1])
{
    json_t *arr = jbody_array(b, "events", true);
    out[0] = '\0';
    if (arr == NULL)
        return;
    size_t n = json_array_size(arr), len = 0;
    if (n == 0 || n > EVENTS_MAX) {
        app_err_field(b->err, "events", "must list 1 to %d event types", EVENTS_MAX);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        const char *t = json_string_value(v);
        size_t tl = json_string_length(v);
        if (!json_is_string(v) || !webhook_event_known(t, tl)) {
            char shown[64], known[128] = "";
            str_escape_ctl(shown, sizeof shown, t ? t : "", t ? tl : 0);
            for (size_t k = 0, at = 0; webhook_event_types[k] != NULL && at < sizeof known; k++) {
                int w = snprintf(known + at, sizeof known - at, "%s%s", k ? ", " : "", webhook_event_types[k]);
                at += w > 0 ? (size_t)w : 0;
            }
            app_err_field(b->err, "events", "item %zu: unknown event type \"%s\"; known: %s", i,
                          json_is_string(v) ? shown : "(not a string)", known);
            return;
        }
        if (webhook_events_include(out, t)) {
            app_err_field(b->err, "events", "lists \"%s\" twice", t);
            return;
        }
        int w = snprintf(out + len, WEBHOOK_EVENTS_MAX + 1 - len, "%s%s", len ? "," : "", t);
        if (w < 0 || (size_t)w >= WEBHOOK_EVENTS_MAX + 1 - len) {
            app_err_field(b->err, "events", "too many event types");
            return;
        }
        len += (size_t)w;
    }
}

int admin_webhook_create(services *s, const actor *a, int64_t account_id, json_t *body, json_t **out, app_err *err)
{
    account acc;
    int rc = store_account_get(s->store, account_id, &acc, err);
    if (rc != 0)
        return rc;
    webhook w = {.account_id = account_id, .status = WEBHOOK_ACTIVE};
    webhook_url u = {0};
    jbody b;
    if (jbody_init(&b, body, err)) {
        char why[160];
        if (jbody_string(&b, "url", true, WEBHOOK_URL_MAX, w.url, sizeof w.url) &&
            !webhook_url_parse(w.url, strlen(w.url), &u, why))
            app_err_field(err, "url", "%s", why);
        read_events(&b, w.events);
    }
    if (jbody_finish(&b) != 0)
        return err->code;
    /* The network last, once everything else is known to be right. */
    if ((rc = webhook_http_check_host(&u, s->webhooks_allow_private, err)) != 0)
        return rc;
    /* The store refuses an endpoint past WEBHOOKS_PER_ACCOUNT_MAX, counted in its own transaction. */
    new_secret(w.secret);
    w.created_at = w.updated_at = clock_now_ms(s->clock);
    char origin[300], target[48];
    url_origin(&u, origin, sizeof origin);
    snprintf(target, sizeof target, "account:%lld", (long long)account_id);
    audit_event ev;
    services__audit_init(&ev, s, a, "webhook.create", target, opt_some(account_id),
                         json_pack("{s:{s:s, s:o, s:s}}", "after", "origin", origin, "events", events_json(w.events),
                                   "status", "active"));
    rc = store_webhook_create(s->store, &w, &ev, err);
    if (rc == 0) {
        *out = webhook_json(&w, w.created_at);
        json_object_set_new(*out, "secret", json_string(w.secret));
    }
    sodium_memzero(w.secret, sizeof w.secret);
    return rc;
}

int admin_webhook_list(services *s, int64_t account_id, const page_req *page, json_t **out, app_err *err)
{
    int64_t after;
    size_t limit;
    if (services__page_start(page, &after, &limit, err) != 0)
        return err->code;
    account acc;
    int rc = store_account_get(s->store, account_id, &acc, err);
    if (rc != 0)
        return rc;
    webhook *rows = xmalloc(limit * sizeof *rows);
    size_t n;
    rc = store_webhook_list(s->store, account_id, after, rows, limit, &n, err);
    if (rc == 0) {
        int64_t now = clock_now_ms(s->clock);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(items, webhook_json(&rows[i], now));
        *out = services__page_json(items, limit, n ? rows[n - 1].id : 0);
    }
    sodium_memzero(rows, limit * sizeof *rows);
    free(rows);
    return rc;
}

/* Reads endpoint `id` into *w (secrets included: the caller wipes them). */
static int webhook_read(services *s, int64_t id, webhook *w, app_err *err)
{
    return store_webhook_get(s->store, id, w, err);
}

int admin_webhook_get(services *s, int64_t id, json_t **out, app_err *err)
{
    webhook w;
    int rc = webhook_read(s, id, &w, err);
    if (rc == 0)
        *out = webhook_json(&w, clock_now_ms(s->clock));
    sodium_memzero(&w, sizeof w);
    return rc;
}

static const char *const webhook_status_words[] = {"active", "disabled", NULL};

int admin_webhook_patch(services *s, const actor *a, int64_t id, json_t *body, json_t **out, app_err *err)
{
    int status = -1;
    jbody b;
    if (jbody_init(&b, body, err))
        jbody_enum(&b, "status", true, webhook_status_words, &status);
    if (jbody_finish(&b) != 0)
        return err->code;
    webhook w;
    int rc = webhook_read(s, id, &w, err);
    if (rc == 0 && (int)w.status != status) {
        char target[48];
        webhook_target(id, target, sizeof target);
        audit_event ev;
        services__audit_init(&ev, s, a, status == WEBHOOK_DISABLED ? "webhook.disable" : "webhook.enable", target,
                             opt_some(w.account_id),
                             json_pack("{s:{s:s}, s:{s:s}}", "before", "status", webhook_status_name(w.status), "after",
                                       "status", webhook_status_name((webhook_status)status)));
        w.status = (webhook_status)status;
        w.updated_at = clock_now_ms(s->clock);
        rc = store_webhook_update(s->store, &w, &ev, err);
        /* Deliveries written while it was disabled may be due: a new start is sent at once. */
        if (rc == 0 && w.status == WEBHOOK_ACTIVE)
            webhooks_kick(s->webhooks);
    }
    if (rc == 0)
        *out = webhook_json(&w, clock_now_ms(s->clock));
    sodium_memzero(&w, sizeof w);
    return rc;
}

int admin_webhook_delete(services *s, const actor *a, int64_t id, json_t **out, app_err *err)
{
    webhook w;
    int rc = webhook_read(s, id, &w, err);
    if (rc == 0) {
        char target[48];
        webhook_target(id, target, sizeof target);
        audit_event ev;
        services__audit_init(&ev, s, a, "webhook.delete", target, opt_some(w.account_id),
                             json_pack("{s:{s:s}}", "before", "status", webhook_status_name(w.status)));
        rc = store_webhook_delete(s->store, id, &ev, err);
    }
    if (rc == 0)
        *out = webhook_json(&w, clock_now_ms(s->clock));
    sodium_memzero(&w, sizeof w);
    return rc;
}

int admin_webhook_rotate(services *s, const actor *a, int64_t id, json_t **out, app_err *err)
{
    webhook w;
    int rc = webhook_read(s, id, &w, err);
    if (rc == 0) {
        int64_t now = clock_now_ms(s->clock);
        str_copy(w.prev_secret, sizeof w.prev_secret, w.secret);
        w.prev_secret_expires_at = opt_some(now + WEBHOOK_ROTATION_GRACE_MS);
        new_secret(w.secret);
        w.updated_at = now;
        char target[48];
        webhook_target(id, target, sizeof target);
        audit_event ev;
        services__audit_init(&ev, s, a, "webhook.rotate", target, opt_some(w.account_id),
                             json_pack("{s:{s:o}}", "after", "previous_secret_expires_at",
                                       services_json_time(w.prev_secret_expires_at.v)));
        rc = store_webhook_update(s->store, &w, &ev, err);
        if (rc == 0) {
            *out = webhook_json(&w, now);
            json_object_set_new(*out, "secret", json_string(w.secret));
        }
    }
    sodium_memzero(&w, sizeof w);
    return rc;
}

/* ---- deliveries ---- */

int admin_webhook_deliveries(services *s, int64_t id, const page_req *page, json_t **out, app_err *err)
{
    int64_t before;
    size_t limit;
    if (services__page_start(page, &before, &limit, err) != 0)
        return err->code;
    webhook w;
    int rc = webhook_read(s, id, &w, err);
    sodium_memzero(&w, sizeof w);
    if (rc != 0)
        return rc;
    webhook_delivery *rows = xmalloc(limit * sizeof *rows);
    webhook_attempt *attempts = xmalloc((ATTEMPTS_SHOWN + 1) * sizeof *attempts);
    size_t n;
    json_t *items = json_array();
    rc = store_webhook_deliveries_list(s->store, id, before, rows, limit, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *d;
        if ((rc = delivery_with_attempts(s, &rows[i], attempts, &d, err)) == 0)
            json_array_append_new(items, d);
    }
    if (rc == 0)
        *out = services__page_json(items, limit, n ? rows[n - 1].id : 0);
    else
        json_decref(items);
    free(attempts);
    free(rows);
    return rc;
}

int admin_webhook_resend(services *s, const actor *a, int64_t id, int64_t delivery_id, json_t **out, app_err *err)
{
    webhook w;
    int rc = webhook_read(s, id, &w, err);
    sodium_memzero(w.secret, sizeof w.secret);
    sodium_memzero(w.prev_secret, sizeof w.prev_secret);
    if (rc != 0)
        return rc;
    char target[48];
    webhook_target(id, target, sizeof target);
    audit_event ev;
    services__audit_init(&ev, s, a, "webhook.resend", target, opt_some(w.account_id),
                         json_pack("{s:I, s:{s:s}, s:{s:s}}", "delivery_id", (json_int_t)delivery_id, "before",
                                   "status", "failed", "after", "status", "pending"));
    if ((rc = store_webhook_delivery_resend(s->store, id, delivery_id, clock_now_ms(s->clock), &ev, err)) != 0)
        return rc;
    webhooks_kick(s->webhooks);
    /* The delivery as it is now: the one page that starts just after it, newest first. */
    webhook_delivery d;
    size_t n;
    if ((rc = store_webhook_deliveries_list(s->store, id, delivery_id + 1, &d, 1, &n, err)) != 0)
        return rc;
    if (n == 0 || d.id != delivery_id)
        return app_err_set(err, APP_NOT_FOUND, "webhook %lld has no delivery %lld", (long long)id,
                           (long long)delivery_id);
    webhook_attempt *attempts = xmalloc((ATTEMPTS_SHOWN + 1) * sizeof *attempts);
    rc = delivery_with_attempts(s, &d, attempts, out, err);
    free(attempts);
    return rc;
}
