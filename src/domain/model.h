/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_MODEL_H
#define STARMETER_DOMAIN_MODEL_H

/* The data model of DESIGN.md section 3 as plain values: no pointers to own, copy freely. */

#include <stdbool.h>
#include <stdint.h>

/* A nullable integer: present == false is SQL NULL (for a limit: unlimited). */
typedef struct opt_i64 {
    bool present;
    int64_t v;
} opt_i64;

static inline opt_i64 opt_some(int64_t v)
{
    return (opt_i64){true, v};
}
static inline opt_i64 opt_none(void)
{
    return (opt_i64){false, 0};
}

typedef enum account_status { ACCOUNT_ACTIVE = 0, ACCOUNT_SUSPENDED = 1 } account_status;
typedef enum limit_mode { LIMIT_BLOCK = 0, LIMIT_OVERAGE = 1 } limit_mode;
typedef enum credential_status { CREDENTIAL_ACTIVE = 0, CREDENTIAL_REVOKED = 1 } credential_status;

#define NAME_MAX_LEN 200
#define PLAN_CODE_MAX_LEN 64
#define LABEL_MAX_LEN 128
#define TIMEZONE_MAX_LEN 64
#define KEY_ID_LEN 12

typedef struct account {
    int64_t id;
    char name[NAME_MAX_LEN * 4 + 1]; /* UTF-8: up to 200 characters */
    account_status status;
    int64_t created_at; /* Unix ms */
} account;

/*
 * The percentages of a period's limit at which its usage raises an alert (usage.threshold):
 * ascending, distinct, each 1..100; n == 0 turns alerts off. Plans default to 80 and 100.
 */
#define ALERT_THRESHOLDS_MAX 5
typedef struct alert_set {
    uint8_t n;
    uint8_t pct[ALERT_THRESHOLDS_MAX];
} alert_set;
/* The text form stored in a column: "80,100", or "" for none. Room for five "100," and the NUL. */
#define ALERT_SET_TEXT_MAX 24
/* Parses the text form; false (out untouched) unless it is exactly one that alert_set_format writes. */
bool alert_set_parse(const char *text, alert_set *out);
void alert_set_format(const alert_set *a, char out[ALERT_SET_TEXT_MAX]);
/* 80 and 100. */
alert_set alert_set_default(void);

/* The limits a plan sets and a contract may override. */
typedef struct limits {
    opt_i64 daily_limit;   /* none: unlimited */
    opt_i64 monthly_limit; /* none: unlimited */
    limit_mode mode;
    opt_i64 overage_cap; /* none: no cap */
    int64_t rate_per_second;
    int64_t burst;
    int64_t credential_rate_per_second;
    int64_t credential_burst;
    alert_set alerts;
} limits;

typedef struct plan {
    int64_t id;
    char code[PLAN_CODE_MAX_LEN + 1];
    char name[NAME_MAX_LEN * 4 + 1];
    limits limits;
    bool metered;
    int64_t created_at;
    int64_t updated_at;
} plan;

/* Which members of a contract's `overrides` are set; unset ones follow the plan. */
enum {
    OVR_DAILY_LIMIT = 1 << 0,
    OVR_MONTHLY_LIMIT = 1 << 1,
    OVR_MODE = 1 << 2,
    OVR_OVERAGE_CAP = 1 << 3,
    OVR_RATE = 1 << 4,
    OVR_BURST = 1 << 5,
    OVR_CRED_RATE = 1 << 6,
    OVR_CRED_BURST = 1 << 7,
    OVR_ALERTS = 1 << 8,
};

typedef struct contract {
    int64_t account_id;
    int64_t plan_id;
    unsigned overridden; /* OVR_* bits */
    limits overrides;    /* meaningful where `overridden` says so */
    char timezone[TIMEZONE_MAX_LEN + 1];
    int64_t starts_at;
    opt_i64 ends_at;
    int64_t updated_at;
} contract;

typedef struct credential {
    int64_t id;
    int64_t account_id;
    char key_id[KEY_ID_LEN + 1];
    uint8_t secret_hash[32];
    char label[LABEL_MAX_LEN * 4 + 1];
    credential_status status;
    int64_t created_at;
    opt_i64 expires_at;
    opt_i64 revoked_at;
    opt_i64 last_used_at;
} credential;

#define AUDIT_DETAILS_MAX 4096

typedef struct audit_event {
    int64_t seq;
    int64_t at;
    char actor[32];  /* "admin", "cli", "system" */
    char action[64]; /* "account.create", ... */
    char target[96]; /* "account:12", "credential:abcDEF123456" */
    opt_i64 account_id;
    char details[AUDIT_DETAILS_MAX]; /* JSON object text */
    char request_id[65];
    uint8_t prev_hash[32];
    uint8_t hash[32];
} audit_event;

/* The plan's limits with the contract's overrides applied. */
limits contract_effective_limits(const plan *p, const contract *c);

#endif
