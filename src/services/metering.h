/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_METERING_H
#define STARMETER_SERVICES_METERING_H

/*
 * The metered call, whole, after authentication and rate limits: replay a stored answer for a
 * known Idempotency-Key, reserve the call against the contract (the counters decide), have the
 * caller render the answer, record the count in the ledger (group commit on the writer thread),
 * and only then hand the answer back. A reserved call that is not answered 2xx is refunded; a
 * refusal is recorded as blocked before it is answered.
 *
 * The caller (api/) fills a metering_request and calls metering_run on its event loop. The
 * service parks the call while it waits (on the writer, or on shared counters) and continues it
 * on the same loop through the host (http's suspend and resume), so no event loop ever waits.
 * `render` and `done` run on that loop.
 *
 * Durability of a count. The common call (no Idempotency-Key, not the first refusal or overage
 * of its period) is counted by one write to the calling loop's segment of the usage journal
 * (infra/journal.h): once written, the count survives a crash of the process. In
 * METERING_DURABLE_PROCESS (the default) the answer leaves right then, with no hand-off to
 * another thread; in METERING_DURABLE_FSYNC it is parked until the writer's next fsync of the
 * journal. Every METERING_SYNC_DELAY_MS the writer folds the journal into the ledger (with how
 * far it folded, in the same transaction) and fsyncs, so a count is on stable storage at most
 * that long plus one fsync after its answer. The other calls (an answer to store for an
 * Idempotency-Key, an audit event) are committed to the ledger before they are answered,
 * fsynced first in METERING_DURABLE_FSYNC. At start, segments a dead process left are replayed
 * from where the ledger's mark says they stop.
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "domain/period.h"
#include "infra/counters.h"
#include "infra/metrics.h"
#include "infra/store.h"
#include "infra/tzdb.h"
#include "services/keycache.h"
#include "services/webhooks.h"

/* The longest a committed count waits before the writer fsyncs it (process durability). */
#define METERING_SYNC_DELAY_MS 5
/* How long seeding a shared counter waits for this node's journal to be folded first, at most. */
#define METERING_SEED_SETTLE_MS 100
/*
 * How long the ledger may fail before metered calls are refused (503 store_unavailable, nothing
 * counted): a shorter outage is absorbed by the journal, whose counts fold in once it is back.
 */
#define METERING_LEDGER_GRACE_MS 2000
/* With nothing to fold, how often the ledger is asked whether it answers. */
#define METERING_LEDGER_CHECK_MS 500
/* A failed write of the usage path (a full disk fails every call) is logged once per this. */
#define METERING_FAILURE_LOG_MS 10000
/*
 * With shared counters (Redis), how often the counters of the accounts decided since the last
 * round are compared with the ledger (after a fold), raised where Redis lost counts, and their
 * drift exported as b2b_counter_drift (the rule: metering.c, reconcile).
 */
#define METERING_RECONCILE_MS 10000
#define METERING_IDEM_KEY_MAX 128

typedef struct metering metering;
typedef struct metering_call metering_call;

typedef enum metering_durability {
    METERING_DURABLE_PROCESS = 0, /* survives SIGKILL at once, power loss within the sync delay */
    METERING_DURABLE_FSYNC,       /* survives power loss before the answer leaves */
} metering_durability;

/* Where the caller stands after the decision, for meta.usage and the RateLimit headers. */
typedef struct metering_view {
    bool metered;
    limits limits;
    int64_t day_used, month_used; /* including this call */
    int64_t day_reset_ms, month_reset_ms;
    bool overage; /* served past a limit (X-Quota-Overage) */
    /* The rate limits (when the request had them): each scope's standing, or the one that refused. */
    bool rated;
    gcra_result rate[COUNTERS_RATES];
    bool rate_limited; /* refused by the rate limit of rate_scope (the call ends 429 rate_limited) */
    counters_scope rate_scope;
} metering_view;

typedef struct metering_request metering_request;

/*
 * Produces the answer's bytes once the call is decided (on the caller's loop): the whole body, in
 * pieces living as long as the call (the request arena, or held with it). 0, or an error code
 * with *why set to a static sentence for the log: the call is then refunded and answered with that
 * error.
 */
typedef int (*metering_render_fn)(const metering_request *req, const metering_view *view, slices *body,
                                  const char **why);

/* How the call ended; handed to `done`. */
typedef struct metering_result {
    int status;         /* 200, or 0 when `err` says why not */
    const app_err *err; /* the failure (a refusal, a conflict, the store), or NULL */
    slices body;        /* the answer on success: rendered now, or the stored one replayed (one piece) */
    bool replayed;      /* an Idempotency-Key retry answered from the stored answer */
    metering_view view;
} metering_result;

/* The end of the call, on the caller's loop; `res` is borrowed for the duration of the call. */
typedef void (*metering_done_fn)(const metering_request *req, const metering_result *res);

struct metering_request {
    void *caller;              /* the request (an http_ctx), handed to the host */
    void *state;               /* the caller's own, for render */
    const principal *who;      /* borrowed until done */
    const counters_rate *rate; /* the call's rate limits, decided with its quota; NULL: none. Borrowed until done */
    bool has_idem;
    char idem_key[METERING_IDEM_KEY_MAX + 1]; /* 1..128 visible ASCII characters, checked by the caller */
    uint8_t fingerprint[32];                  /* the request's identity (method and target) */
    metering_render_fn render;
    metering_done_fn done;
};

/*
 * How the service parks a call and continues it on its caller's event loop, and where the call's
 * memory lives: http's suspend, resume and request arena, wired by app/.
 */
typedef struct metering_host {
    /* `n` bytes that live as long as the request `caller` (freed with it). */
    void *(*alloc)(void *caller, size_t n);
    /* Parks `call` on its loop; the returned token, once resumed, runs metering_continue(call). */
    void *(*park)(void *caller, metering_call *call);
    /* Resumes tokens from any thread, one message per loop however many tokens it gets. */
    void (*resume)(void *const *tokens, size_t n);
} metering_host;

typedef struct metering_opts {
    store *store;              /* the ledger, borrowed */
    counters *counters;        /* borrowed */
    tzdb *tz;                  /* borrowed */
    const app_clock *clock;    /* borrowed */
    const app_log *log;        /* borrowed */
    metrics *metrics;          /* borrowed; the service registers its families */
    const metering_host *host; /* borrowed */
    metering_durability durability;
    const char *journal_dir;  /* the usage journal's directory (copied), or NULL: every count is a ledger commit */
    webhook_sender *webhooks; /* borrowed, or NULL: woken once an alert's deliveries are in the outbox */
} metering_opts;

/*
 * Opens the journal directory (created if missing). With shared counters (Redis), becomes their
 * seeder: counts Redis lost are seeded from the ledger's sums before a call is decided. NULL with
 * `err` set when it cannot. The caller owns the result (metering_free) and calls metering_start
 * before the first call.
 */
metering *metering_new(const metering_opts *opts, app_err *err);
/*
 * Replays into the ledger what the journal of a process that died holds, seeds the counters
 * with today's and this month's ledger sums of every account with a contract, and starts the
 * writer. 0 or the store's error.
 */
int metering_start(metering *m, app_err *err);
/*
 * Folds and commits what is queued, makes it durable, removes the journal's segments, stops the
 * writer and frees everything; NULL does nothing. The event loops must be stopped first.
 */
void metering_free(metering *m);

/*
 * Runs a metered call. `req` is copied; req->done is called exactly once, on the caller's loop,
 * before or after metering_run returns.
 */
void metering_run(metering *m, const metering_request *req);

/*
 * Takes the rate limits of a call that is not metered (req->rate; req->who; no Idempotency-Key,
 * render unused): req->done gets status 200 and view.rate when they admit it, or the refusal
 * (view.rate_limited) or the counters' failure. Shared counters decide in Redis, across nodes.
 */
void metering_admit(metering *m, const metering_request *req);

/* Continues a parked call on its loop (the host's resume lands here). */
void metering_continue(metering_call *call);

/*
 * Hands what this event-loop thread queued for the writer during the iteration to the writer in
 * one go. Each loop calls it after every iteration; until a thread first calls it, its calls are
 * handed over one by one. True when the counters kept a small batch back to gather more
 * (counters_hand_over): the loop's next iteration must not wait.
 */
bool metering_loop_flush(metering *m);

/*
 * An event-loop thread starts (before its first iteration) or stops (after its last, nothing in
 * flight): the counters may talk to their shared store from the loop itself (counters_attach_loop).
 */
void metering_loop_start(metering *m, ev_loop *loop);
void metering_loop_stop(metering *m);
/* True while a stopping loop must go on iterating before metering_loop_stop: it carries other
 * loops' requests to the counters (counters_loop_busy). */
bool metering_loop_busy(metering *m);

/* Waits until every call parked so far is committed (tests). */
void metering_flush(metering *m);

/*
 * Waits until every count journaled so far is folded into the ledger: reports call it first, so
 * the summary shows every call answered before it was asked. 0, or store_unavailable when that
 * fold failed (the ledger lacks calls answered: a report read now would be short). Not from an
 * event loop.
 */
int metering_settle(metering *m, app_err *err);

/* The periods of a contract in `timezone` at now_ms (UTC when the zone is unknown). */
/*
 * Whether a call can be counted now, for /readyz: 0, or store_unavailable with the last failed
 * write's message while appends to the journal fail (a full disk) or the ledger has failed for
 * longer than METERING_LEDGER_GRACE_MS. Both clear by themselves when a write succeeds again:
 * the folder tries one every METERING_LEDGER_CHECK_MS while they last. Any thread.
 */
int metering_health(metering *m, app_err *err);

periods metering_periods(metering *m, const char *timezone, int64_t now_ms);

#endif
