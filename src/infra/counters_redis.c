/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The Redis counters (counters.h): every node on the same Redis decides against the same counts.
 *
 * Keys, per account and period, under the account's hash tag:
 *   sm:{<account>}:d:<day_key>          calls served in the day (a string integer)
 *   sm:{<account>}:m:<month_key>        calls served in the month
 *   sm:{<account>}:d:<day_key>:block    set once the day's first refusal was decided
 *   sm:{<account>}:d:<day_key>:over     set once the day's first overage was decided
 *   sm:{<account>}:m:<month_key>:block  and the same for the month
 *   sm:{<account>}:m:<month_key>:over
 * Every key is created with an expiry two days past its period's end, relative to the counters'
 * clock, so a test clock far from Redis's own time still gives keys that live long enough.
 * The rate limits' buckets (theoretical arrival times, in microseconds):
 *   sm:rl:global                        every call of every account
 *   sm:{<account>}:rl:a                 the account's
 *   sm:{<account>}:rl:c:<credential>    the credential's
 *   sm:{<account>}:idem:<key>           an Idempotency-Key being served, and by which process
 * A reservation reads the global bucket with the account's keys, so Redis is one server (with
 * replicas if wanted), not Redis Cluster.
 *
 * Threads: a caller queues its request (a reservation as it is, any other as its formatted
 * command); one connection thread takes everything queued, pipelines it on a blocking hiredis
 * context, and completes each request in order: a reservation's callback runs on that thread.
 * Reservations queued one after another go as one script run that decides them all in order
 * (RESERVE_LUA), each key read and written once for the lot. One connection and one FIFO queue
 * mean a caller's requests reach Redis in the order it made them (a refund queued before a read
 * is applied before that read). Event loops that lend themselves (attach_loop) skip the thread:
 * the first one's connection carries every loop's requests, sent and decided on that loop, in
 * the order each loop made them; the thread still connects it, seeds missing counters, looks up
 * lost batches, and takes every loop's requests while that connection is down (see loop_conn).
 *
 * Redis may lose everything at any time (FLUSHALL, a restart without persistence). With a seeder
 * (counters_set_seeder), a reservation whose day or month counter is missing counts nothing
 * and answers "missing"; the connection thread asks the seeder for the ledger's figures and runs
 * the reservation again with them, creating what is missing (SET NX) before deciding. A new
 * period is missing too: the ledger then says 0, or what other nodes already folded.
 */
#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/sha1.h"
#include "infra/counters.h"

#define DAY_MS 86400000LL
/* Keys outlive their period by this much, so a late refund or read still finds them. */
#define KEY_GRACE_MS (2 * DAY_MS)
#define CONNECT_TIMEOUT_MS 500
/* A reply slower than this counts as Redis being unreachable: the connection is dropped. */
#define COMMAND_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* How long a batch's marker lives (see "batches whose replies were lost"). */
#define MARKER_TTL_MS 10000
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/*
 * A batch of reservations, decided in order as if each ran alone and atomically: each call's rate
 * limits (domain/gcra.c's rule, in microseconds) and the contract's rule (domain/quota.c,
 * quota_decide) with the increment. One script run decides a whole pipeline's reservations, so
 * its fixed cost (the call, KEYS and ARGV, the reply) is paid once per batch; every key is read
 * once (one MGET) and written once at the end with what the batch did to it, so a batch of one
 * account's calls costs about as many commands as one call.
 * KEYS: the batch's counters (rate limits' buckets, days and months), each once; the batch's
 *       marker (read with the counters: a run that finds it decides nothing and returns {-3}, as
 *       its reply was lost and it was looked up before it ran; a run leaves it, for
 *       MARKER_TTL_MS, holding each reservation's code plus 3 as a byte, plus 32 for a call of
 *       a series decided at once: see "batches whose replies were lost"); then the flags in
 *       pairs (block, over): a day's, a month's.
 * ARGV: the number of counters among KEYS, of series, and the batch's epoch (us: its reservations'
 *       instants are given from it, in few digits); then each series (reservations one after
 *       another with the same instant and shape): now (us from the epoch, the node's clock), the index in
 *       ARGV of its shape (what the calls of one credential decide), how many; then each shape,
 *       as one record: its rate limits, the global, account and credential buckets' each as
 *       bucket (index in KEYS), interval (us), burst, or 0 alone when it has none; then its
 *       contract (one account's in one day and month), 0 alone when none, or: day, month, day
 *       flags, month flags (indices in KEYS), daily, monthly ('' when none), overage mode (1 or
 *       0), cap ('' when none), day end, month end (ms, past which keys expire), missing (0: a
 *       missing counter counts 0; 1: answer missing when the day or month counter is; 2: create
 *       what is missing from the seed first, as SEED_LUA does), and with 2 only, the seed: day
 *       used, month used, the day's block and over flags, the month's.
 * What a run costs Redis is mostly the Lua it interprets and every table or closure it makes (a
 * fraction of a microsecond each, with its garbage), besides the commands: so the script makes
 * three tables whatever the batch holds (a fourth once a flag is set), decodes a shape into
 * locals only when a series' differs from the one before (a batch of one credential decodes one),
 * and inlines the contract's rule. A series of several calls none of which exceeds a limit (its
 * last one may reach it) is decided at once: what its calls would do one by one (the same
 * counts, arrival times and writes, a bucket's time to live renewed when one of its calls would)
 * in a few operations, plus a byte per call for the marker, and one record in the answer. Any
 * other series is decided call by call.
 * For counter i the script keeps its value now in v[i] (nil: missing), at the start in v[nk + i],
 * a time to live to write it afresh with in v[2 nk + i], one to renew it with in v[3 nk + i]
 * (whole milliseconds). Numbers go to Redis as integers, exact below 2^53; the buckets'
 * microseconds go through '%d' all the same, as a Redis before 7 writes 14 digits only.
 * A bucket holds its theoretical arrival time. One full again is written afresh with its time to
 * live (its interval times its burst, plus an hour); one in use moves by INCRBY, its time to live
 * renewed every 16th call (when its arrival time, in intervals, is a multiple of 16). A day or
 * month counter is created with its time to live (end - now).
 * Returns, for a series decided at once, seven integers: {-4, its length, then its first call's day
 * used, month used and three resets}, each next call's being one more (when it has a contract)
 * and one interval later (when it has rate limits), every call served; for each call of any
 * other series, six: {code, day used, month used, then per rate limit its reset (us: the node
 * derives what remains from it, its interval and burst)}, where code is outcome, plus 4 times
 * period, plus 8 times first (outcome 0 serve, 1 serve as overage, 2 block: quota_outcome; period
 * 0 daily, 1 monthly: quota_period; first 1 when this decision set its period's flag); or {-2,
 * scope, reset (us), retry after (us), 0, 0}: a rate limit refused the call and nothing was
 * taken; or {-1, 0...}: a counter is missing (Redis lost it, or the period is new) and the ledger
 * must seed it first; nothing was taken.
 * The contract's rule is quota_decide's: a period's limit judges the call (0 serve, 1 overage, 2
 * block), the worse of day and month decides, the day on a tie (quota_decide breaks a tie by the
 * smaller remainder, but a period that judges at all has none left, so the day wins every tie).
 */
static const char RESERVE_LUA[] =
    "local KEYS, ARGV, call = KEYS, ARGV, redis.call\n"
    "local nk, nr, epoch = ARGV[1] + 0, ARGV[2] + 0, ARGV[3] + 0\n"
    "local v = call('MGET', unpack(KEYS, 1, nk + 1))\n"
    "if v[nk + 1] then return {-3} end\n"
    "for i = 1, nk do\n"
    "  local x = tonumber(v[i])\n"
    "  v[i], v[nk + i] = x, x\n"
    "end\n"
    "local floor, fmt, flagged, out, n, cur = math.floor, string.format, nil, {}, 0, nil\n"
    "local gk, gt, gb, gl, g16, ak, at, ab, al, a16, ck, ct, cb, cl, c16\n"
    "local dk, mk, dfk, mfk, dl, ml, over, cap, de, me, mode, sd\n"
    "local codes, ri = {}, 0\n"
    "for a = 4, 3 * nr + 3, 3 do\n"
    "  local now, h, len = epoch + ARGV[a], ARGV[a + 1], ARGV[a + 2] + 0\n"
    "  if h ~= cur then\n"
    "    cur = h\n"
    "    local o = h + 0\n"
    "    gk = ARGV[o] + 0\n"
    "    if gk ~= 0 then\n"
    "      gt, gb, ak, at, ab = ARGV[o + 1] + 0, ARGV[o + 2] * ARGV[o + 1], ARGV[o + 3] + 0, ARGV[o + 4] + 0,\n"
    "                           ARGV[o + 5] * ARGV[o + 4]\n"
    "      ck, ct, cb = ARGV[o + 6] + 0, ARGV[o + 7] + 0, ARGV[o + 8] * ARGV[o + 7]\n"
    "      gl, al, cl = floor(gb / 1000) + 3600000, floor(ab / 1000) + 3600000, floor(cb / 1000) + 3600000\n"
    "      g16, a16, c16 = 16 * gt, 16 * at, 16 * ct\n"
    "      o = o + 9\n"
    "    else\n"
    "      o = o + 1\n"
    "    end\n"
    "    dk = ARGV[o] + 0\n"
    "    if dk ~= 0 then\n"
    "      mk, dfk, mfk, dl, ml = ARGV[o + 1] + 0, ARGV[o + 2] + 0, ARGV[o + 3] + 0, ARGV[o + 4], ARGV[o + 5]\n"
    "      dl, ml, over, cap = dl ~= '' and dl + 0, ml ~= '' and ml + 0, ARGV[o + 6] == '1', ARGV[o + 7]\n"
    "      cap, de, me, mode, sd = cap ~= '' and cap + 0, ARGV[o + 8] + 0, ARGV[o + 9] + 0, ARGV[o + 10], o + 11\n"
    "    end\n"
    "  end\n"
    "  local fast, du, mu, gtat, atat, ctat, g0, a0, c0 = len > 1\n"
    "  if fast and dk ~= 0 then\n"
    "    du, mu = v[dk], v[mk]\n"
    "    if mode == '2' or mode == '1' and (du == nil or mu == nil) then\n"
    "      fast = false\n"
    "    else\n"
    "      du, mu = du or 0, mu or 0\n"
    "      fast = not (dl and du + len > dl or ml and mu + len > ml)\n"
    "    end\n"
    "  end\n"
    "  if fast and gk ~= 0 then\n"
    "    gtat, atat, ctat = v[gk] or 0, v[ak] or 0, v[ck] or 0\n"
    "    g0, a0, c0 = gtat > now and gtat or now, atat > now and atat or now, ctat > now and ctat or now\n"
    "    fast = g0 + len * gt - now <= gb and a0 + len * at - now <= ab and c0 + len * ct - now <= cb\n"
    "  end\n"
    "  if fast then\n"
    "    local fd, fm, fg, fa, fc = 0, 0, 0, 0, 0\n"
    "    if dk ~= 0 then\n"
    "      v[dk], v[mk], fd, fm = du + len, mu + len, du + 1, mu + 1\n"
    "      if du == 0 then v[2 * nk + dk] = de - now / 1000 > 0 and floor(de - now / 1000) or 1 end\n"
    "      if mu == 0 then v[2 * nk + mk] = me - now / 1000 > 0 and floor(me - now / 1000) or 1 end\n"
    "    end\n"
    "    if gk ~= 0 then\n"
    "      v[gk], v[ak], v[ck] = g0 + len * gt, a0 + len * at, c0 + len * ct\n"
    "      local j = gtat <= now and 2 or 1\n"
    "      if j == 2 then v[2 * nk + gk] = gl end\n"
    "      while j <= len and (g0 + j * gt) % g16 >= gt do j = j + 1 end\n"
    "      if j <= len then v[3 * nk + gk] = gl end\n"
    "      j = atat <= now and 2 or 1\n"
    "      if j == 2 then v[2 * nk + ak] = al end\n"
    "      while j <= len and (a0 + j * at) % a16 >= at do j = j + 1 end\n"
    "      if j <= len then v[3 * nk + ak] = al end\n"
    "      j = ctat <= now and 2 or 1\n"
    "      if j == 2 then v[2 * nk + ck] = cl end\n"
    "      while j <= len and (c0 + j * ct) % c16 >= ct do j = j + 1 end\n"
    "      if j <= len then v[3 * nk + ck] = cl end\n"
    "      fg, fa, fc = g0 + gt - now, a0 + at - now, c0 + ct - now\n"
    "    end\n"
    "    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6], out[n + 7] = -4, len, fd, fm, fg, fa, "
    "fc\n"
    "    n = n + 7\n"
    "    for r = ri + 1, ri + len do codes[r] = 35 end\n"
    "    ri = ri + len\n"
    "  else\n"
    "    for _ = 1, len do\n"
    "      local res = 0\n"
    "      if dk ~= 0 then\n"
    "        if mode == '2' then\n"
    "          local nowms = now / 1000\n"
    "          if v[dk] == nil then v[dk], v[2 * nk + dk] = ARGV[sd] + 0, de > nowms and floor(de - nowms) or 1 end\n"
    "          if v[mk] == nil then v[mk], v[2 * nk + mk] = ARGV[sd + 1] + 0, me > nowms and floor(me - nowms) or 1 "
    "end\n"
    "          for f = 0, 3 do\n"
    "            local k, e = (f < 2 and dfk or mfk) + f % 2, f < 2 and de or me\n"
    "            flagged = flagged or {}\n"
    "            if ARGV[sd + 2 + f] == '1' and not flagged[k] then\n"
    "              flagged[k] = true\n"
    "              call('SET', KEYS[k], '1', 'NX', 'PX', fmt('%d', e - nowms > 0 and e - nowms or 1))\n"
    "            end\n"
    "          end\n"
    "        elseif mode == '1' and (v[dk] == nil or v[mk] == nil) then\n"
    "          res = -1\n"
    "          out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = -1, 0, 0, 0, 0, 0\n"
    "          n = n + 6\n"
    "        end\n"
    "      end\n"
    "      local gx, ax, cx = 0, 0, 0\n"
    "      if res == 0 and gk ~= 0 then\n"
    "        local gtat, atat, ctat = v[gk] or 0, v[ak] or 0, v[ck] or 0\n"
    "        gx = (gtat > now and gtat or now) + gt\n"
    "        ax = (atat > now and atat or now) + at\n"
    "        cx = (ctat > now and ctat or now) + ct\n"
    "        local s, x, t, b\n"
    "        if gx - now > gb then\n"
    "          s, x, t, b = 0, gx, gt, gb\n"
    "        elseif ax - now > ab then\n"
    "          s, x, t, b = 1, ax, at, ab\n"
    "        elseif cx - now > cb then\n"
    "          s, x, t, b = 2, cx, ct, cb\n"
    "        end\n"
    "        if s then\n"
    "          res = -2\n"
    "          out[n + 1], out[n + 2], out[n + 3] = -2, s, x - t - now\n"
    "          out[n + 4], out[n + 5], out[n + 6] = x - b - now, 0, 0\n"
    "          n = n + 6\n"
    "        else\n"
    "          v[gk], v[ak], v[ck] = gx, ax, cx\n"
    "          if gtat <= now then v[2 * nk + gk] = gl elseif gx % g16 < gt then v[3 * nk + gk] = gl end\n"
    "          if atat <= now then v[2 * nk + ak] = al elseif ax % a16 < at then v[3 * nk + ak] = al end\n"
    "          if ctat <= now then v[2 * nk + ck] = cl elseif cx % c16 < ct then v[3 * nk + ck] = cl end\n"
    "          gx, ax, cx = gx - now, ax - now, cx - now\n"
    "        end\n"
    "      end\n"
    "      if res == 0 then\n"
    "        local code, du, mu = 0, 0, 0\n"
    "        if dk ~= 0 then\n"
    "          du, mu = v[dk] or 0, v[mk] or 0\n"
    "          local d, m = 0, 0\n"
    "          if dl and du + 1 > dl then d = (not over or (cap and du + 1 - dl > cap)) and 2 or 1 end\n"
    "          if ml and mu + 1 > ml then m = (not over or (cap and mu + 1 - ml > cap)) and 2 or 1 end\n"
    "          local outcome, period = d, 0\n"
    "          if m > d then outcome, period = m, 1 end\n"
    "          if outcome ~= 2 then\n"
    "            du, mu = du + 1, mu + 1\n"
    "            v[dk], v[mk] = du, mu\n"
    "            if du == 1 then v[2 * nk + dk] = de - now / 1000 > 0 and floor(de - now / 1000) or 1 end\n"
    "            if mu == 1 then v[2 * nk + mk] = me - now / 1000 > 0 and floor(me - now / 1000) or 1 end\n"
    "          end\n"
    "          local first = 0\n"
    "          if outcome ~= 0 then\n"
    "            local k = (period == 0 and dfk or mfk) + (outcome == 2 and 0 or 1)\n"
    "            local e, nowms = period == 0 and de or me, now / 1000\n"
    "            flagged = flagged or {}\n"
    "            if not flagged[k] then\n"
    "              flagged[k] = true\n"
    "              first = call('SET', KEYS[k], '1', 'NX', 'PX', fmt('%d', e - nowms > 0 and e - nowms or 1)) and 1 or "
    "0\n"
    "            end\n"
    "          end\n"
    "          code = outcome + 4 * period + 8 * first\n"
    "        end\n"
    "        out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = code, du, mu, gx, ax, cx\n"
    "        n = n + 6\n"
    "      end\n"
    "      ri = ri + 1\n"
    "      codes[ri] = out[n - 5] + 3\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for k = 1, nk do\n"
    "  local x, fresh = v[k], v[2 * nk + k]\n"
    "  if fresh then\n"
    "    call('SET', KEYS[k], fmt('%d', x), 'PX', fresh)\n"
    "  elseif x ~= v[nk + k] then\n"
    "    call('INCRBY', KEYS[k], x - v[nk + k])\n"
    "    if v[3 * nk + k] then call('PEXPIRE', KEYS[k], v[3 * nk + k]) end\n"
    "  end\n"
    "end\n"
    "call('SET', KEYS[nk + 1], string.char(unpack(codes)), 'PX', " STRINGIFY(MARKER_TTL_MS) ")\n"
                                                                                            "return out\n";

/*
 * A reservation that did not stand. KEYS: day, month, the `first` flag (any key when none), and
 * optionally a guard: the refund is given only while that key exists (a lost batch's marker: once
 * Redis lost its data, the counts were seeded again from the ledger, which never held them).
 * ARGV: reserved (give one back in each, never below 0), clear the flag.
 */
static const char REFUND_LUA[] = "if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 0 then return 0 end\n"
                                 "if ARGV[1] == '1' then\n"
                                 "  for i = 1, 2 do\n"
                                 "    if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then\n"
                                 "      redis.call('DECR', KEYS[i])\n"
                                 "    end\n"
                                 "  end\n"
                                 "end\n"
                                 "if ARGV[2] == '1' then redis.call('DEL', KEYS[3]) end\n"
                                 "return 0\n";

/*
 * The ledger's standing, where Redis has none. KEYS: day, month, day block flag, day overage
 * flag, month block flag, month overage flag. ARGV: day used, month used, the four flags (1 to
 * set), day key ttl, month key ttl.
 */
static const char SEED_LUA[] = "redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[7])\n"
                               "redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[8])\n"
                               "for i = 3, 6 do\n"
                               "  if ARGV[i] == '1' then\n"
                               "    redis.call('SET', KEYS[i], '1', 'NX', 'PX', i <= 4 and ARGV[7] or ARGV[8])\n"
                               "  end\n"
                               "end\n"
                               "return 0\n";

/*
 * Reconciliation with the ledger: raises the day and month counters to at least the ledger's
 * figures, never lowers them (other nodes' calls may be counted here and not folded into the
 * ledger yet). A missing counter is created with the ledger's figure. KEYS: day, month. ARGV: day
 * used, month used, day key ttl, month key ttl. Returns {day before, month before}, -1 for a
 * counter that was missing (created with the ledger's figure, unless that is 0: a reservation
 * seeds it then, from the ledger as it is by that time).
 */
static const char RAISE_LUA[] =
    "local before = {}\n"
    "for i = 1, 2 do\n"
    "  local want = tonumber(ARGV[i])\n"
    "  local cur = redis.call('GET', KEYS[i])\n"
    "  if cur == false then\n"
    "    before[i] = -1\n"
    "    if want > 0 then redis.call('SET', KEYS[i], want, 'PX', ARGV[2 + i]) end\n"
    "  else\n"
    "    before[i] = tonumber(cur)\n"
    "    if before[i] < want then\n"
    "      redis.call('INCRBY', KEYS[i], want - before[i])\n"
    "      if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 + i]) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return before\n";

/* A claim given back, if it is still this process's. KEYS: the claim. ARGV: this process's token. */
static const char RELEASE_LUA[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
                                  "return 0\n";

/*
 * A lost batch looked up: KEYS: its marker. ARGV: the marker's time to live. Returns what the
 * marker held (false: the batch never ran) and leaves "x" in it, so that the batch never runs now
 * and a second lookup finds nothing to refund.
 */
static const char LOOKUP_LUA[] = "local old = redis.call('GET', KEYS[1])\n"
                                 "redis.call('SET', KEYS[1], 'x', 'PX', ARGV[1])\n"
                                 "return old\n";

/*
 * A claim: a SET NX run as a script, so that when Redis lost its scripts it is answered NOSCRIPT
 * as a release sent before it is, and both are sent again in order (a plain SET would run between
 * and find the key still held). KEYS: the claim. ARGV: this process's token, the time to live.
 */
static const char CLAIM_LUA[] = "return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])\n";

enum {
    SCRIPT_RESERVE,
    SCRIPT_REFUND,
    SCRIPT_SEED,
    SCRIPT_RAISE,
    SCRIPT_RELEASE,
    SCRIPT_LOOKUP,
    SCRIPT_CLAIM,
    NSCRIPTS
};
static const char *const SCRIPTS[NSCRIPTS] = {RESERVE_LUA, REFUND_LUA, SEED_LUA, RAISE_LUA,
                                              RELEASE_LUA, LOOKUP_LUA, CLAIM_LUA};

typedef enum op_kind { OP_RESERVE, OP_REFUND, OP_SEED, OP_READ, OP_RAISE, OP_CLAIM, OP_RELEASE, OP_BARRIER } op_kind;

/* How a reservation treats a missing counter (its group's "missing" in RESERVE_LUA). */
typedef enum missing_mode { MISSING_IS_ZERO = 0, MISSING_ASKS_SEED = 1, MISSING_SEEDED = 2 } missing_mode;

/*
 * One queued request. A reservation is formatted by the connection thread, with the reservations
 * queued beside it, into one RESERVE_LUA run; any other op is one command formatted when queued,
 * one reply. Reserve and refund ops are on the heap and freed by the connection thread; seed, read
 * and raise ops are on their caller's stack, which waits for `done`.
 */
typedef struct op {
    struct op *next;
    op_kind kind;
    char *cmd; /* the formatted command (owned until the op completes); NULL for a reservation */
    size_t len;
    size_t run;                  /* OP_RESERVE, first of a sent batch: the reservations the batch holds */
    uint64_t seq;                /* OP_RESERVE, first of a sent batch: its number (its marker's), else 0 */
    missing_mode mode;           /* OP_RESERVE */
    counters_decided_fn decided; /* OP_RESERVE */
    counters_claimed_fn claimed; /* OP_CLAIM */
    void *arg;                   /* OP_BARRIER: its loop_conn */
    uint64_t gen;                /* OP_BARRIER: the connection of that loop it lets go */
    counters_decision dec;       /* OP_RESERVE: now_ms and p filled when queued */
    int64_t account_id;          /* OP_RESERVE: to format it again with the ledger's seed */
    bool has_rate, has_limits;
    period_zone zone;   /* OP_RESERVE: to decide alone when Redis is away (open mode) */
    counters_rate rate; /* OP_RESERVE: copies (the request's are borrowed until reserve returns) */
    limits limits;
    counters_seed_row seed; /* OP_RESERVE: the ledger's standing, once its counters were found missing (mode 2) */
    bool done;              /* seed, read and raise: set under the counters' lock when complete */
    bool reloaded;          /* sent again on a loop's connection after its script was loaded again */
    int rc;
    int64_t day_used, month_used; /* OP_READ, OP_RAISE (-1: missing) */
} op;

/* Queued work is sent at once while fewer reservations than this are awaited (see conn_main). */
#define PIPELINE_RESERVATIONS 16
/* At most this many reservations in one RESERVE_LUA run (it blocks Redis while it runs). */
#define BATCH_MAX 128
/* A batch's distinct keys at most: the global bucket, then per reservation an account's and a
 * credential's bucket, a day and a month, and their two pairs of flags. */
#define BATCH_KEYS (1 + 6 * BATCH_MAX)
#define BATCH_HASH 4096 /* a power of two, well above BATCH_KEYS */

typedef enum batch_key_kind {
    BKEY_GLOBAL,
    BKEY_ACCOUNT,
    BKEY_CREDENTIAL,
    BKEY_DAY,
    BKEY_MONTH,
    BKEY_DAY_FLAGS, /* a pair: block, over */
    BKEY_MONTH_FLAGS,
} batch_key_kind;

/* One key (or pair of flags) of a batch, by what names it. */
typedef struct batch_key {
    batch_key_kind kind;
    int64_t a, b;
    int slot;  /* its rank among the batch's counters, or among its pairs of flags */
    int spec;  /* a bucket: the last spec made for it (1-based), 0 for none */
    int group; /* a day: the last group made for it (1-based), 0 for none */
    int shape; /* a credential's bucket, or a day: the last shape made for it (1-based), 0 for none */
} batch_key;

/* RESERVE_LUA's 17 fields of a group, the last 6 (the seed) sent with MISSING_SEEDED only; what is absent is
 * BATCH_NONE (written ''). */
#define GROUP_FIELDS 17
#define GROUP_SEED_FIELDS 6
#define BATCH_NONE INT64_MIN
typedef struct batch_group {
    int64_t f[GROUP_FIELDS]; /* the first four: key indices in `keys` (turned into KEYS indices when written) */
} batch_group;

typedef struct batch_spec {
    int key; /* index in `keys` */
    int64_t t, burst;
} batch_spec;

/* The connection thread's workspace to format one RESERVE_LUA run, reused from batch to batch. */
typedef struct res_batch {
    batch_key keys[BATCH_KEYS];
    int nkeys, ncounters, nflags;
    uint16_t hash[BATCH_HASH]; /* index + 1 in keys, 0 for empty */
    batch_spec specs[3 * BATCH_MAX];
    int nspecs;
    batch_group groups[BATCH_MAX];
    int ngroups;
    /* What a reservation decides, shared by the reservations of one credential in a batch. */
    struct batch_shape {
        int spec[COUNTERS_RATES]; /* 1-based, 0: no rate limits */
        int group;                /* 1-based, 0: no contract */
    } shapes[BATCH_MAX];
    int nshapes;
    int res[BATCH_MAX];       /* each reservation's shape (1-based) */
    size_t series[BATCH_MAX]; /* the series' lengths (reservations one after another with the same instant and shape) */
    char *out;                /* the command, growing as needed (owned) */
    size_t len, cap;
} res_batch;

typedef struct redis_counters {
    counters super;
    const app_clock *clock;
    char host[256];
    int port, db;
    char sha[NSCRIPTS][41];    /* the scripts' SHA-1, as Redis names them: computed at start */
    char token[33];            /* this process's claims (random, set at start) */
    counters_seeder_fn seeder; /* set once before the first reservation, or NULL */
    void *seeder_arg;
    void (*flush)(void *arg); /* set once before the first reservation, or NULL */
    void *flush_arg;

    pthread_mutex_t mu;
    pthread_cond_t wake;    /* the connection thread: work queued, or stop */
    pthread_cond_t done_cv; /* waiters of seed, read and raise */
    op *head, *tail;        /* under mu */
    bool stopping;          /* under mu */
    pthread_t thread;

    /*
     * Open mode (fail_open): while Redis cannot be reached, reservations are decided by `alone`,
     * in-process counters seeded from the ledger for each account the first time it is decided
     * in the outage. `degraded` is set while that lasts (any thread reads it).
     */
    counters *alone;
    atomic_bool degraded;

    bool polling; /* under mu: the connection thread waits in poll for work too: enqueue writes wake_fd */
    int wake_fd;  /* an eventfd */
    op *failed_head, *failed_tail;        /* under mu: sent on a loop's connection that broke, to fail here */
    atomic_uint_fast64_t next_seq;        /* the next batch's number */
    struct lost_batch *lost, **lost_tail; /* connection thread: batches whose replies were lost (closed mode) */
    size_t nlost;
    /* Connection thread: barriers answered (or failed) whose loop is not let go yet, and since when
     * the oldest waits (release_barriers). */
    op *barriers, **barriers_tail;
    int64_t barriers_since_ms;
    int64_t lost_retry_ms;   /* monotonic: no lookup before (after an error reply) */
    struct loop_conn *loops; /* under mu: every event loop attached since the start */
    /*
     * Under mu: the attached loop whose connection carries every loop's requests (the first
     * attached; NULL once it detached), whether it has its connection now, and what the other
     * loops handed it since its last hand-over, each loop's in the order it made them.
     */
    struct loop_conn *carrier;
    bool carrier_up;
    op *pass_head, *pass_tail;
    atomic_bool passed; /* pass_head is not NULL: read without mu by the carrier, to skip the lock */

    /* The connection thread's own. */
    redisContext *ctx;
    res_batch *batch;
    op *sent_head, *sent_tail; /* sent, awaiting their replies, oldest first */
    size_t sent_reservations;  /* among them */
    int64_t sent_at_ms;        /* monotonic: the last reply, or the send that started the wait */
    struct alone_account {
        int64_t account_id;
        period_zone zone;
        int64_t day_key, month_key; /* the periods it was seeded for */
    } * seeded;
    size_t nseeded, capseeded;
    int64_t retry_at_ms; /* monotonic; no reconnection before */
    int64_t backoff_ms;
} redis_counters;

static int64_t mono_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000u);
}

static struct timeval tv_ms(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* ---- commands ---- */

/* The longest command formatted this way (reservations are formatted by batch), SEED_LUA's, has
 * 17 arguments. */
#define MAX_ARGS 24

/* A command's arguments, formatted into fixed slots. */
typedef struct args {
    int n;
    const char *v[MAX_ARGS];
    size_t len[MAX_ARGS];
    char slot[MAX_ARGS][176];
} args;

static void args_add(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void args_add(args *a, const char *fmt, ...)
{
    assert(a->n < MAX_ARGS);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(a->slot[a->n], sizeof a->slot[a->n], fmt, ap);
    va_end(ap);
    assert(k >= 0 && (size_t)k < sizeof a->slot[a->n]);
    a->v[a->n] = a->slot[a->n];
    a->len[a->n] = (size_t)k;
    a->n++;
}

/* A string argument (shorter than a slot), copied. */
static void args_add_str(args *a, const char *str)
{
    assert(a->n < MAX_ARGS);
    size_t len = strlen(str);
    assert(len < sizeof a->slot[a->n]);
    memcpy(a->slot[a->n], str, len + 1);
    a->v[a->n] = a->slot[a->n];
    a->len[a->n] = len;
    a->n++;
}

/* An integer argument, written without printf (most of a command's arguments are integers). */
static void args_add_int(args *a, int64_t v)
{
    assert(a->n < MAX_ARGS);
    char tmp[24], *end = tmp + sizeof tmp, *p = end;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    size_t len = (size_t)(end - p);
    memcpy(a->slot[a->n], p, len);
    a->slot[a->n][len] = '\0';
    a->v[a->n] = a->slot[a->n];
    a->len[a->n] = len;
    a->n++;
}

static void args_format(args *a, op *o)
{
    long long k = redisFormatCommandArgv(&o->cmd, a->n, a->v, a->len);
    if (k < 0) {
        fputs("counters_redis: out of memory formatting a command\n", stderr);
        abort();
    }
    o->len = (size_t)k;
}

/* The six keys of an account in periods `p`, in SEED_LUA's KEYS order. */
static void args_add_keys(args *a, int64_t account_id, const periods *p)
{
    long long id = (long long)account_id, d = (long long)p->day_key, m = (long long)p->month_key;
    args_add(a, "sm:{%lld}:d:%lld", id, d);
    args_add(a, "sm:{%lld}:m:%lld", id, m);
    args_add(a, "sm:{%lld}:d:%lld:block", id, d);
    args_add(a, "sm:{%lld}:d:%lld:over", id, d);
    args_add(a, "sm:{%lld}:m:%lld:block", id, m);
    args_add(a, "sm:{%lld}:m:%lld:over", id, m);
}

/* Time to live of a key of the period ending at `end_ms`, from `now_ms` (at least 1 ms). */
static long long ttl_ms(int64_t end_ms, int64_t now_ms)
{
    int64_t t = end_ms + KEY_GRACE_MS - now_ms;
    return t > 0 ? (long long)t : 1;
}

/* ---- the connection ---- */

static void drop_connection(redis_counters *c)
{
    if (c->ctx != NULL)
        redisFree(c->ctx);
    c->ctx = NULL;
    c->retry_at_ms = mono_ms(); /* the first attempt at once; backoff after a failed one */
}

/* Loads the scripts; Redis must name each as computed at start (sha). */
static int load_scripts(redisContext *ctx, char sha[NSCRIPTS][41])
{
    for (int i = 0; i < NSCRIPTS; i++) {
        redisReply *r = redisCommand(ctx, "SCRIPT LOAD %s", SCRIPTS[i]);
        bool ok = r != NULL && r->type == REDIS_REPLY_STRING && r->len == 40;
        ok = ok && memcmp(sha[i], r->str, 40) == 0;
        if (r != NULL)
            freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* A ready connection (database selected, scripts loaded), or NULL with a reason in `why`. */
static redisContext *connect_redis(redis_counters *c, char *why, size_t whylen)
{
    redisContext *ctx = redisConnectWithTimeout(c->host, c->port, tv_ms(CONNECT_TIMEOUT_MS));
    if (ctx == NULL || ctx->err) {
        snprintf(why, whylen, "%s", ctx != NULL ? ctx->errstr : "out of memory");
        goto fail;
    }
    if (redisSetTimeout(ctx, tv_ms(COMMAND_TIMEOUT_MS)) != REDIS_OK) {
        snprintf(why, whylen, "cannot set a timeout");
        goto fail;
    }
    if (c->db != 0) {
        redisReply *r = redisCommand(ctx, "SELECT %d", c->db);
        bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (r != NULL)
            freeReplyObject(r);
        if (!ok) {
            snprintf(why, whylen, "SELECT %d failed", c->db);
            goto fail;
        }
    }
    if (load_scripts(ctx, c->sha) != 0) {
        snprintf(why, whylen, "SCRIPT LOAD failed%s%.80s", ctx->err ? ": " : "", ctx->err ? ctx->errstr : "");
        goto fail;
    }
    return ctx;
fail:
    if (ctx != NULL)
        redisFree(ctx);
    return NULL;
}

/* Connects when the backoff allows it; on failure, waits longer before the next attempt. */
static void args_add_raise(args *a, redis_counters *c, const counters_seed_row *row, int64_t now);
static void drain_sigpipe(void);

/*
 * Redis is back after an outage decided alone (open mode): raises its counters to at least what
 * this process knows of each account it decided (the ledger's figures and its own calls since),
 * never lowering them (other processes counted too), so decisions go on from where they were.
 * False, with the connection dropped, if Redis fails again meanwhile. Connection thread.
 */
static bool converge(redis_counters *c)
{
    int64_t now = clock_now_ms(c->clock);
    for (size_t i = 0; i < c->nseeded; i++) {
        const struct alone_account *e = &c->seeded[i];
        periods p = period_at(e->zone, now);
        counters_usage u;
        app_err err;
        if (p.day_key != e->day_key && p.month_key != e->month_key)
            continue; /* both periods are over: nothing to carry */
        if (counters_read(c->alone, e->account_id, e->zone, &u, &err) != 0)
            continue;
        counters_seed_row row = {.account_id = e->account_id,
                                 .p = p,
                                 .day_used = p.day_key == e->day_key ? u.day_used : 0,
                                 .month_used = p.month_key == e->month_key ? u.month_used : 0};
        args a = {0};
        args_add_raise(&a, c, &row, now);
        redisReply *r = redisCommandArgv(c->ctx, a.n, a.v, a.len);
        bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY;
        if (r != NULL)
            freeReplyObject(r);
        if (!ok) {
            drain_sigpipe();
            drop_connection(c);
            return false;
        }
    }
    c->nseeded = 0;
    atomic_store(&c->degraded, false);
    return true;
}

static void try_connect(redis_counters *c)
{
    char why[128];
    c->ctx = connect_redis(c, why, sizeof why);
    if (c->ctx != NULL && (!atomic_load(&c->degraded) || converge(c))) {
        c->backoff_ms = 0;
        return;
    }
    c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS : c->backoff_ms * 2;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    c->retry_at_ms = mono_ms() + c->backoff_ms;
}

/* ---- completion ---- */

/* A rate limit's interval in microseconds, as RESERVE_LUA takes it (at least 1). */
static int64_t rate_interval_us(const gcra_policy *p)
{
    int64_t t = 1000000 / p->rate_per_second;
    return t > 0 ? t : 1;
}

static void op_free(op *o)
{
    if (o->cmd != NULL)
        redisFreeCommand(o->cmd);
    o->cmd = NULL;
}

static bool reply_is_int(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_INTEGER;
}

/* RESERVE_LUA's six integers `e` for `o` into its decision; false if they are not one. */
static bool decision_from_reply(const long long *e, const op *o, counters_decision *dec)
{
    long long code = e[0];
    if (code == -2) { /* a rate limit refused the call */
        long long scope = e[1];
        if (scope < 0 || scope >= COUNTERS_RATES)
            return false;
        dec->rate_limited = true;
        dec->rate_scope = (counters_scope)scope;
        dec->rate[scope] =
            (gcra_result){.allowed = false, .remaining = 0, .reset_ns = e[2] * 1000, .retry_after_ns = e[3] * 1000};
        return true;
    }
    if (code < 0 || code > 15)
        return false;
    for (size_t i = 0; o->has_rate && i < COUNTERS_RATES; i++) { /* what remains, as the GCRA rule has it */
        int64_t t = rate_interval_us(&o->rate.policy[i]), reset = e[3 + i];
        dec->rate[i] = (gcra_result){
            .allowed = true, .remaining = (t * o->rate.policy[i].burst - reset) / t, .reset_ns = reset * 1000};
    }
    if (!o->has_limits)
        return true;
    long long outcome = code & 3, period = (code >> 2) & 1;
    if (outcome > QUOTA_BLOCK)
        return false;
    dec->d.outcome = (quota_outcome)outcome;
    dec->d.period = (quota_period)period;
    dec->day_used = e[1];
    dec->month_used = e[2];
    dec->reserved = dec->d.outcome != QUOTA_BLOCK;
    if (dec->d.outcome != QUOTA_SERVE) { /* the deciding period's limit and its count before this call */
        bool daily = dec->d.period == QUOTA_DAILY;
        dec->d.limit = daily ? o->limits.daily_limit.v : o->limits.monthly_limit.v;
        dec->d.used = (daily ? dec->day_used : dec->month_used) - (dec->reserved ? 1 : 0);
    }
    dec->first = (code & 8) ? counters_first_of(&dec->d) : COUNTERS_FIRST_NONE;
    return true;
}

static bool int_from_bulk(const redisReply *r, int64_t *out)
{
    if (r->type == REDIS_REPLY_NIL) {
        *out = 0;
        return true;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
        return false;
    char buf[24], *end;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Ends a reservation with its six integers of RESERVE_LUA's answer (NULL: no decision). */
static void reserve_complete(op *o, const long long *e)
{
    op_free(o);
    if (e == NULL || !decision_from_reply(e, o, &o->dec)) {
        counters_decision failed = {.rc = APP_COUNTERS_UNAVAILABLE, .now_ms = o->dec.now_ms, .p = o->dec.p};
        o->dec = failed;
    }
    o->decided(o->arg, &o->dec);
    free(o);
}

/*
 * Ends an op with `reply` (NULL: Redis could not be reached; a reservation's reply is its
 * batch's, so it ends by reserve_complete). Reserve calls back and frees, refund frees, seed,
 * read and raise wake their caller (who owns the op: it must not be touched after).
 */
/* Appends the linked ops first .. last to the list *head .. *tail. */
static void list_append(op **head, op **tail, op *first, op *last)
{
    last->next = NULL;
    if (*tail != NULL)
        (*tail)->next = first;
    else
        *head = first;
    *tail = last;
}

static int64_t mono_ms(void);

static void op_complete(redis_counters *c, op *o, const redisReply *reply)
{
    op_free(o);
    switch (o->kind) {
    case OP_BARRIER: /* let go at the end of the thread's pass (release_barriers) */
        if (c->barriers == NULL)
            c->barriers_since_ms = mono_ms();
        o->next = NULL;
        *c->barriers_tail = o;
        c->barriers_tail = &o->next;
        return;
    case OP_RESERVE:
        assert(reply == NULL);
        reserve_complete(o, NULL);
        return;
    case OP_CLAIM: {
        bool ok = reply != NULL && (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_NIL);
        o->claimed(o->arg, ok ? 0 : APP_COUNTERS_UNAVAILABLE, ok && reply->type == REDIS_REPLY_STATUS);
        free(o);
        return;
    }
    case OP_REFUND:
    case OP_RELEASE: free(o); return;
    case OP_SEED: o->rc = reply != NULL && reply->type != REDIS_REPLY_ERROR ? 0 : APP_COUNTERS_UNAVAILABLE; break;
    case OP_RAISE:
        o->rc = APP_COUNTERS_UNAVAILABLE;
        if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply_is_int(reply->element[0]) && reply_is_int(reply->element[1])) {
            o->day_used = reply->element[0]->integer;
            o->month_used = reply->element[1]->integer;
            o->rc = 0;
        }
        break;
    case OP_READ:
        o->rc = APP_COUNTERS_UNAVAILABLE;
        if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            int_from_bulk(reply->element[0], &o->day_used) && int_from_bulk(reply->element[1], &o->month_used))
            o->rc = 0;
        break;
    }
    pthread_mutex_lock(&c->mu);
    o->done = true;
    pthread_cond_broadcast(&c->done_cv);
    pthread_mutex_unlock(&c->mu);
}

/* The account's entry in this outage's seeded set, or NULL. Connection thread. */
static struct alone_account *seeded_find(redis_counters *c, int64_t account_id, const periods *p)
{
    for (size_t i = 0; i < c->nseeded; i++)
        if (c->seeded[i].account_id == account_id && c->seeded[i].day_key == p->day_key &&
            c->seeded[i].month_key == p->month_key)
            return &c->seeded[i];
    return NULL;
}

typedef struct alone_answer {
    counters_decision dec;
} alone_answer;

static void on_alone(void *arg, const counters_decision *dec)
{
    ((alone_answer *)arg)->dec = *dec;
}

/*
 * Open mode, Redis away: decides a reservation in this process alone, from the ledger's figures
 * (once per account and periods in the outage) and this process's calls since. A claim is
 * granted (the caller's own table of keys in flight still holds). Returns false when it cannot
 * (closed mode, a stop, or a ledger that does not answer): the op is then failed. Connection thread.
 */
static bool decide_alone(redis_counters *c, op *o)
{
    if (c->alone == NULL)
        return false;
    if (o->kind == OP_CLAIM) {
        atomic_store(&c->degraded, true);
        o->claimed(o->arg, 0, true);
        op_free(o);
        free(o);
        return true;
    }
    if (o->kind != OP_RESERVE)
        return false;
    if (o->has_limits && seeded_find(c, o->account_id, &o->dec.p) == NULL) {
        counters_seed_row row = {.account_id = o->account_id, .p = o->dec.p};
        if (c->seeder == NULL || c->seeder(c->seeder_arg, &row) != 0)
            return false;
        counters_seed(c->alone, &row);
        if (c->nseeded == c->capseeded) {
            c->capseeded = c->capseeded ? 2 * c->capseeded : 16;
            c->seeded = xrealloc(c->seeded, c->capseeded * sizeof *c->seeded);
        }
        c->seeded[c->nseeded++] = (struct alone_account){
            .account_id = o->account_id, .zone = o->zone, .day_key = o->dec.p.day_key, .month_key = o->dec.p.month_key};
    }
    counters_req req = {.account_id = o->account_id,
                        .rate = o->has_rate ? &o->rate : NULL,
                        .limits = o->has_limits ? &o->limits : NULL,
                        .zone = o->zone};
    alone_answer a;
    counters_reserve(c->alone, &req, on_alone, &a);
    a.dec.degraded = true;
    atomic_store(&c->degraded, true);
    op_free(o);
    o->decided(o->arg, &a.dec);
    free(o);
    return true;
}

/* ---- batches whose replies were lost ---- */

/*
 * A batch whose reply never came (its connection broke, or Redis answered more than
 * COMMAND_TIMEOUT_MS late) may have run: Redis may have counted calls answered 503. Each run of
 * RESERVE_LUA leaves a marker, sm:bt:<this process's token>:<batch number>, for MARKER_TTL_MS,
 * holding each reservation's outcome. In closed mode, the connection thread looks each lost batch
 * up as soon as it has a connection: a marker with outcomes means the batch ran, and what it
 * reserved is refunded (its `first` flags cleared too), as if each call had been refunded; no
 * marker means it did not run, and the marker is set then, so that it never will (a stalled batch
 * arriving late finds it and decides nothing). In open mode the calls were decided alone and
 * served, so what Redis counted of them stands (and is raised to this process's counts when it
 * converges). A batch looked up after its marker expired is taken as not run: Redis keeps its
 * counts, which can only refuse a call early, never serve one too many.
 */
#define LOST_MAX 1024 /* lost batches remembered at most: the oldest are forgotten first */

typedef struct lost_batch {
    struct lost_batch *next;
    uint64_t seq;
    int64_t lost_ms; /* monotonic: when its reply was given up on */
    size_t n;
    struct lost_res {
        int64_t account_id;
        periods p;
        bool has_limits;
    } res[];
} lost_batch;

/* The marker's key of batch `seq` of this process. */
static size_t marker_key(const redis_counters *c, uint64_t seq, char out[96])
{
    int k = snprintf(out, 96, "sm:bt:%s:%llu", c->token, (unsigned long long)seq);
    assert(k > 0 && k < 96);
    return (size_t)k;
}

/* Remembers the sent batches of `list`, about to fail (closed mode only). Connection thread. */
static void note_lost(redis_counters *c, const op *list)
{
    if (c->alone != NULL)
        return;
    for (const op *o = list; o != NULL;) {
        if (o->kind != OP_RESERVE || o->seq == 0) {
            o = o->next;
            continue;
        }
        size_t n = o->run, i = 0;
        lost_batch *lb = xmalloc(sizeof *lb + n * sizeof lb->res[0]);
        lb->next = NULL;
        lb->seq = o->seq;
        lb->lost_ms = mono_ms();
        for (; i < n && o != NULL; i++, o = o->next)
            lb->res[i] = (struct lost_res){.account_id = o->account_id, .p = o->dec.p, .has_limits = o->has_limits};
        lb->n = i;
        *c->lost_tail = lb;
        c->lost_tail = &lb->next;
        if (++c->nlost > LOST_MAX) {
            lost_batch *old = c->lost;
            c->lost = old->next;
            if (c->lost == NULL)
                c->lost_tail = &c->lost;
            c->nlost--;
            free(old);
        }
    }
}

static void refund_guarded(redis_counters *c, int64_t account_id, const counters_decision *dec, const char *guard);

/*
 * Refunds what a lost batch that ran reserved, from its marker's outcomes (RESERVE_LUA's codes, plus 3, plus 32 for a
 * call of a series decided at once: served, code 0; a byte each).
 */
static void refund_lost(redis_counters *c, const lost_batch *lb, const char *codes, const char *marker)
{
    for (size_t i = 0; i < lb->n; i++) {
        int b = (unsigned char)codes[i], code = (b & 31) - 3;
        if (b >= 64 || (b >= 32 && code != 0))
            continue; /* no outcome the script writes */
        if (code < 0 || code > 15 || !lb->res[i].has_limits)
            continue; /* refused by a rate limit, or a counter was missing: nothing counted */
        counters_decision dec = {.p = lb->res[i].p};
        dec.d.outcome = (quota_outcome)(code & 3);
        dec.d.period = (quota_period)((code >> 2) & 1);
        dec.reserved = dec.d.outcome != QUOTA_BLOCK;
        dec.first = (code & 8) ? counters_first_of(&dec.d) : COUNTERS_FIRST_NONE;
        refund_guarded(c, lb->res[i].account_id, &dec, marker);
    }
}

/* A lost batch's lookup failing with an error reply (Redis read-only, out of memory) is tried
 * again this much later, until its marker could have expired. */
#define LOOKUP_RETRY_MS 500

/*
 * Looks the lost batches up (see above), oldest first, on the connection thread's own connection
 * with nothing awaited on it. Stops, keeping what is left, if the connection breaks or Redis
 * answers with an error (tried again after LOOKUP_RETRY_MS); a batch whose marker may have
 * expired meanwhile is forgotten (Redis keeps what it counted: calls refused early, at worst).
 */
static bool is_noscript(const redisReply *r);

static void recover_lost(redis_counters *c)
{
    assert(c->sent_head == NULL);
    bool reloaded = false;
    while (c->lost != NULL && c->ctx != NULL) {
        lost_batch *lb = c->lost;
        if (mono_ms() - lb->lost_ms < MARKER_TTL_MS - 1000) {
            char key[96];
            marker_key(c, lb->seq, key);
            redisReply *r = redisCommand(c->ctx, "EVALSHA %s 1 %s %d", c->sha[SCRIPT_LOOKUP], key, MARKER_TTL_MS);
            if (r == NULL) {
                drain_sigpipe();
                drop_connection(c);
                return;
            }
            bool error = r->type == REDIS_REPLY_ERROR, noscript = is_noscript(r);
            if (r->type == REDIS_REPLY_STRING && r->len == lb->n)
                refund_lost(c, lb, r->str, key); /* it ran (a nil reply: it did not, and never will) */
            freeReplyObject(r);
            if (noscript && !reloaded && load_scripts(c->ctx, c->sha) == 0) {
                reloaded = true;
                continue; /* Redis lost its scripts: loaded again, and this one looked up again */
            }
            if (error) {
                c->lost_retry_ms = mono_ms() + LOOKUP_RETRY_MS;
                return;
            }
        }
        c->lost = lb->next;
        if (c->lost == NULL)
            c->lost_tail = &c->lost;
        c->nlost--;
        free(lb);
    }
}

/* True when lost batches are due to be looked up (connection thread). */
static bool lost_due(const redis_counters *c)
{
    return c->lost != NULL && c->ctx != NULL && mono_ms() >= c->lost_retry_ms;
}

/* Fails every op of a list: Redis could not be reached (decided alone instead when `alone`). */
static void fail_all(redis_counters *c, op *list, bool alone)
{
    while (list != NULL) {
        op *next = list->next;
        if (!alone || !decide_alone(c, list))
            op_complete(c, list, NULL);
        list = next;
    }
}

static bool is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Writing to a connection the server closed raises SIGPIPE on this thread, where it is blocked:
 * the write fails with EPIPE instead, and the pending signal is consumed here. */
static void drain_sigpipe(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) == SIGPIPE)
        ;
}

static op *format_reservations(redis_counters *c, res_batch *b, op *first);

/* An op of `list` seeded for the same account and periods as `o`, or NULL. */
static const op *seeded_alike(const op *list, const op *o)
{
    for (; list != NULL; list = list->next)
        if (list->account_id == o->account_id && list->dec.p.day_key == o->dec.p.day_key &&
            list->dec.p.month_key == o->dec.p.month_key)
            return list;
    return NULL;
}

/*
 * Asks the seeder for the ledger's standing of each reservation of `list` (which found its
 * counters missing), to be sent again to create them from that seed (only where they are still
 * missing, so nodes seeding at once keep the first seed) and decide, in one script run. Reservations of the same
 * account and periods share one ledger read (after the first, the keys exist and the seed is not used). A reservation
 * the ledger cannot answer for fails (counters unavailable): nothing is counted. Returns the list to send.
 */
static op *seed_missing(redis_counters *c, op *list)
{
    op *send = NULL, **tail = &send;
    while (list != NULL) {
        op *o = list, *next = o->next;
        o->next = NULL;
        const op *alike = seeded_alike(send, o);
        counters_seed_row row = {.account_id = o->account_id, .p = o->dec.p};
        op_free(o);
        list = next;
        if (alike != NULL) {
            row = alike->seed;
        } else if (c->seeder(c->seeder_arg, &row) != 0) {
            op_complete(c, o, NULL);
            continue;
        }
        o->seed = row;
        o->mode = MISSING_SEEDED;
        *tail = o;
        tail = &o->next;
    }
    return send;
}

/* Appends `o` to the list ending at `*tail`. */
static void list_push(op ***tail, op *o)
{
    o->next = NULL;
    o->seq = 0; /* out of its batch: a lost batch's record never takes it for one's first */
    **tail = o;
    *tail = &o->next;
}

/* One reservation's six integers in RESERVE_LUA's answer. */
typedef struct res_answer {
    long long v[6];
} res_answer;

static bool batch_answer(const redisReply *r, const op *o, size_t n, res_answer *e);

/* Formats the ops of `list` onto the connection (reservations queued together as one run). */
static bool append_ops(redis_counters *c, op *list)
{
    for (op *o = list; o != NULL;) {
        if (o->kind == OP_RESERVE) {
            o = format_reservations(c, c->batch, o);
            if (redisAppendFormattedCommand(c->ctx, c->batch->out, c->batch->len) != REDIS_OK)
                return false;
            continue;
        }
        if (redisAppendFormattedCommand(c->ctx, o->cmd, o->len) != REDIS_OK)
            return false;
        o = o->next;
    }
    return true;
}

/*
 * Completes the ops at the head of *list that reply `r` answers (a run of reservations, or one
 * op), *list moving past them: ops whose script Redis lost (NOSCRIPT, when may_retry) go to
 * *retry_tail, reservations that found their counters missing to *missing_tail. Returns the
 * reservations among them.
 */
static void release_barriers(redis_counters *c, bool all);

static size_t complete_reply(redis_counters *c, op **list, redisReply *r, bool may_retry, op ***retry_tail,
                             op ***missing_tail)
{
    op *head = *list;
    if (head->kind != OP_RESERVE) {
        *list = head->next;
        if (may_retry && is_noscript(r))
            list_push(retry_tail, head);
        else
            op_complete(c, head, r);
        return 0;
    }
    size_t n = head->run;
    res_answer answer[BATCH_MAX];
    bool noscript = may_retry && is_noscript(r), answered = !noscript && batch_answer(r, head, n, answer);
    for (size_t i = 0; i < n; i++) {
        op *o = *list;
        *list = o->next;
        const long long *e = answered ? answer[i].v : NULL;
        if (noscript)
            list_push(retry_tail, o);
        else if (e != NULL && e[0] == -1 && c->seeder != NULL)
            list_push(missing_tail, o);
        else
            reserve_complete(o, e);
    }
    return n;
}
/*
 * RESERVE_LUA's answer `r` for the `n` reservations from `o` on, each one's six integers into e[0 .. n - 1]: a series
 * decided at once is spelt out call by call, each one more and one interval later than the one before. False when `r`
 * is not such an answer (a series' length out of bounds, or figures that would overflow).
 */
static bool batch_answer(const redisReply *r, const op *o, size_t n, res_answer *e)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return false;
    size_t i = 0;
    for (size_t at = 0; at < r->elements;) {
        size_t fields = reply_is_int(r->element[at]) && r->element[at]->integer == -4 ? 7 : 6;
        if (r->elements - at < fields || i == n)
            return false;
        for (size_t f = 0; f < fields; f++)
            if (!reply_is_int(r->element[at + f]))
                return false;
        redisReply *const *x = &r->element[at];
        at += fields;
        if (fields == 6) {
            for (size_t f = 0; f < 6; f++)
                e[i].v[f] = x[f]->integer;
            i++;
            o = o->next;
            continue;
        }
        long long k = x[1]->integer;
        if (k < 1 || (unsigned long long)k > n - i)
            return false;
        for (size_t f = 2; f < 7; f++) /* Lua's numbers: exact below 2^53, so a call's figures cannot overflow */
            if (x[f]->integer < -(1LL << 53) || x[f]->integer > (1LL << 53))
                return false;
        for (long long j = 0; j < k; j++, i++, o = o->next) {
            e[i].v[0] = 0;
            e[i].v[1] = x[2]->integer + (o->has_limits ? j : 0);
            e[i].v[2] = x[3]->integer + (o->has_limits ? j : 0);
            for (size_t q = 0; q < COUNTERS_RATES; q++)
                e[i].v[3 + q] = x[4 + q]->integer + (o->has_rate ? j * rate_interval_us(&o->rate.policy[q]) : 0);
        }
    }
    return i == n;
}

/*
 * Sends a list of ops in one pipeline and completes each with its reply, in order; reservations
 * queued one after another share one RESERVE_LUA run, and its reply. Ops whose script Redis lost
 * (NOSCRIPT: a restart or SCRIPT FLUSH) are sent again once after a reload; they did not run.
 * Reservations that found their counters missing are seeded from the ledger and sent again (they
 * did not count anything). Returns false, with every op not yet completed failed, when the
 * connection broke.
 */
static bool send_batch(redis_counters *c, op *batch, bool may_retry)
{
    assert(c->sent_head == NULL); /* replies come in order: nothing else may be awaited meanwhile */
    op *retry = NULL, **retry_tail = &retry, *missing = NULL, **missing_tail = &missing;
    if (!append_ops(c, batch))
        goto broken;
    while (batch != NULL) {
        void *rv = NULL;
        if (redisGetReply(c->ctx, &rv) != REDIS_OK)
            goto broken;
        complete_reply(c, &batch, rv, may_retry, &retry_tail, &missing_tail);
        freeReplyObject(rv);
    }
    if (retry != NULL && load_scripts(c->ctx, c->sha) != 0)
        goto broken;
    if (retry != NULL && !send_batch(c, retry, false)) {
        retry = NULL;
        goto broken;
    }
    retry = NULL;
    /* Seeded reservations create what is missing: they never answer {-1} again. */
    return missing == NULL || send_batch(c, seed_missing(c, missing), may_retry);
broken:
    drain_sigpipe();
    drop_connection(c);
    note_lost(c, batch);
    fail_all(c, batch, true);
    fail_all(c, retry, true);
    fail_all(c, missing, true);
    return false;
}

/* ---- the pipeline: what is queued goes out without waiting for earlier replies ---- */

/* The connection broke: everything awaited fails (or is decided alone, in open mode). */
static void pipe_broken(redis_counters *c)
{
    drain_sigpipe();
    drop_connection(c);
    op *sent = c->sent_head;
    c->sent_head = c->sent_tail = NULL;
    c->sent_reservations = 0;
    note_lost(c, sent);
    fail_all(c, sent, true);
}

/* Sends `list` after what is awaited; its ops are awaited then. False when the connection broke. */
static bool pipe_send(redis_counters *c, op *list)
{
    if (c->sent_head == NULL)
        c->sent_at_ms = mono_ms();
    bool ok = append_ops(c, list);
    for (op *o = list; o != NULL; o = o->next)
        c->sent_reservations += o->kind == OP_RESERVE;
    op *last = list;
    while (last->next != NULL)
        last = last->next;
    list_append(&c->sent_head, &c->sent_tail, list, last);
    int done = 0;
    while (ok && !done)
        ok = redisBufferWrite(c->ctx, &done) == REDIS_OK;
    if (!ok)
        pipe_broken(c);
    return ok;
}

/*
 * Completes the awaited ops whose replies have arrived (after reading the connection once, when
 * `readable`; every awaited reply, waiting for them, when `all`). When Redis lost the script or a
 * reservation found its counters missing, what is still awaited is waited for first, then those
 * are sent again in order (send_batch). False when the connection broke.
 */
static bool pipe_receive(redis_counters *c, bool readable, bool all)
{
    op *retry = NULL, **retry_tail = &retry, *missing = NULL, **missing_tail = &missing;
    if (readable && redisBufferRead(c->ctx) != REDIS_OK)
        goto broken;
    while (c->sent_head != NULL) {
        void *rv = NULL;
        bool wait = all || retry != NULL || missing != NULL;
        if ((wait ? redisGetReply(c->ctx, &rv) : redisGetReplyFromReader(c->ctx, &rv)) != REDIS_OK)
            goto broken;
        if (rv == NULL)
            break; /* the rest of the reply is still on its way */
        c->sent_at_ms = mono_ms();
        c->sent_reservations -= complete_reply(c, &c->sent_head, rv, true, &retry_tail, &missing_tail);
        freeReplyObject(rv);
    }
    if (c->sent_head == NULL)
        c->sent_tail = NULL;
    if (retry == NULL && missing == NULL)
        return true;
    if (retry != NULL && load_scripts(c->ctx, c->sha) != 0)
        goto broken;
    if (retry != NULL && !send_batch(c, retry, false)) {
        fail_all(c, missing, true);
        return false;
    }
    return missing == NULL || send_batch(c, seed_missing(c, missing), true);
broken:
    fail_all(c, retry, true);
    fail_all(c, missing, true);
    pipe_broken(c);
    return false;
}

/*
 * Waits, when `wait`, until a reply arrives or work is queued (enqueue writes c->wake_fd while
 * c->polling), at most until an awaited reply is COMMAND_TIMEOUT_MS late (the connection is then
 * dropped); then completes what arrived.
 */
static void pipe_poll(redis_counters *c, bool wait)
{
    int64_t left = c->sent_at_ms + COMMAND_TIMEOUT_MS - mono_ms();
    struct pollfd p[2] = {{.fd = c->ctx->fd, .events = POLLIN}, {.fd = c->wake_fd, .events = POLLIN}};
    int k = poll(p, 2, wait ? (int)(left > 0 ? left : 0) : 0);
    if (k < 0 && errno != EINTR) {
        pipe_broken(c);
        return;
    }
    uint64_t drained;
    if (k > 0 && (p[1].revents & POLLIN))
        while (read(c->wake_fd, &drained, sizeof drained) > 0)
            ;
    if (k > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP)))
        pipe_receive(c, true, false);
    else if (wait && k == 0 && mono_ms() >= c->sent_at_ms + COMMAND_TIMEOUT_MS)
        pipe_broken(c); /* Redis does not answer: unreachable, as a blocking read would say */
}

static bool loops_wanted(const redis_counters *c);
static void connect_loop(redis_counters *c);

static void *conn_main(void *arg)
{
    redis_counters *c = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stopping && c->head == NULL && c->sent_head == NULL && c->failed_head == NULL &&
               !(c->ctx != NULL && (loops_wanted(c) || lost_due(c)))) {
            if (c->ctx != NULL && c->lost == NULL) {
                pthread_cond_wait(&c->wake, &c->mu);
                continue;
            }
            /* Disconnected and idle: reconnect when the backoff allows, so Redis's return is
             * noticed before the next request. Or lost batches to look up again later. */
            int64_t wait_ms = (c->ctx != NULL ? c->lost_retry_ms : c->retry_at_ms) - mono_ms();
            if (wait_ms <= 0)
                break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (wait_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&c->wake, &c->mu, &until);
        }
        if (c->stopping)
            break;
        /*
         * What is queued goes out at once while few reservations are awaited (a few connections:
         * no call waits for another batch's round trip); past that it gathers while replies come
         * back, so that many connections make big batches, whose script run costs Redis less a
         * call.
         */
        op *batch = NULL;
        bool recover = lost_due(c); /* before new work: what is awaited is waited for, then looked up */
        if (!recover && c->head != NULL && c->sent_reservations < PIPELINE_RESERVATIONS) {
            batch = c->head;
            c->head = c->tail = NULL;
        }
        op *failed = c->failed_head;
        c->failed_head = c->failed_tail = NULL;
        bool want_loops = loops_wanted(c), lost = failed != NULL;
        /* Waiting for replies: new work wakes it only if it would be sent at once. */
        c->polling = batch == NULL && c->sent_reservations < PIPELINE_RESERVATIONS;
        pthread_mutex_unlock(&c->mu);

        /*
         * Sent from a loop whose connection broke: Redis may have counted them, so they are never
         * sent again. In open mode they are decided alone, as when this thread's own connection
         * breaks, and for the same reason it is dropped too: it reconnects, and converges.
         */
        if (lost && c->alone != NULL && c->ctx != NULL)
            pipe_broken(c);
        note_lost(c, failed);
        fail_all(c, failed, true);
        if (recover && c->sent_head != NULL)
            pipe_receive(c, false, true);
        if (recover && c->ctx != NULL && c->sent_head == NULL)
            recover_lost(c);

        if (c->ctx == NULL && mono_ms() >= c->retry_at_ms)
            try_connect(c);
        if (c->ctx == NULL)
            fail_all(c, batch, true); /* fail fast while Redis is away: 503 at once, or decided alone */
        else if ((batch == NULL || pipe_send(c, batch)) && c->sent_head != NULL)
            pipe_poll(c, batch == NULL && !lost && !want_loops);
        if (want_loops && c->ctx != NULL) {
            if (c->flush != NULL) /* what was decided goes back first: connecting blocks */
                c->flush(c->flush_arg);
            connect_loop(c);
        }
        if (c->flush != NULL)
            c->flush(c->flush_arg);
        release_barriers(c, false);

        pthread_mutex_lock(&c->mu);
        c->polling = false;
    }
    pthread_mutex_unlock(&c->mu);
    /* What was sent is answered before the rest fails: a reservation Redis counted is decided. */
    if (c->ctx != NULL && c->sent_head != NULL)
        pipe_receive(c, false, true);
    pthread_mutex_lock(&c->mu);
    op *rest = c->head, *failed = c->failed_head;
    c->head = c->tail = c->failed_head = c->failed_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    fail_all(c, failed, false);
    fail_all(c, rest, false);
    if (c->flush != NULL)
        c->flush(c->flush_arg);
    release_barriers(c, true);
    return NULL;
}

/*
 * What this thread reserved since its last hand-over, when it hands over (redis_hand_over: an
 * event loop, once per iteration): a loop iteration's requests go on in one batch, with one lock
 * and one wake-up at most: on the carrying loop's connection (loop_conn), or to the connection
 * thread.
 */
static _Thread_local struct {
    redis_counters *c; /* the counters this thread hands over to; NULL until its first hand-over */
    op *head, *tail;
    struct loop_conn *lc; /* its event loop's, while attached (attach_loop) */
    bool gathered;        /* its last hand-over kept a small batch back for one more iteration */
} held;

/* Wakes the connection thread, in poll or on its condition variable (c->mu held). */
static void wake_locked(redis_counters *c)
{
    if (c->polling) {
        uint64_t one = 1;
        ssize_t k = write(c->wake_fd, &one, sizeof one); /* fails only when already full: awake anyway */
        (void)k;
    } else {
        pthread_cond_signal(&c->wake);
    }
}

/* Queues a list of ops for the connection thread (c->mu held, not stopping). */
static void queue_locked(redis_counters *c, op *head, op *tail)
{
    bool was_empty = c->head == NULL;
    list_append(&c->head, &c->tail, head, tail);
    if (was_empty)
        wake_locked(c);
}

/* Queues a list of ops for the connection thread; after counters_free began, fails them at once. */
static void enqueue_list(redis_counters *c, op *head, op *tail)
{
    tail->next = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        while (head != NULL) {
            op *next = head->next;
            op_complete(c, head, NULL);
            head = next;
        }
        if (c->flush != NULL)
            c->flush(c->flush_arg);
        return;
    }
    queue_locked(c, head, tail);
    pthread_mutex_unlock(&c->mu);
}

/*
 * What the loops handed the carrier, to the connection thread instead, before anything they hand
 * on from now (c->mu held; loops detach before counters_free, so it is not stopping).
 */
static void pass_to_thread_locked(redis_counters *c)
{
    if (c->pass_head == NULL)
        return;
    queue_locked(c, c->pass_head, c->pass_tail);
    c->pass_head = c->pass_tail = NULL;
    atomic_store(&c->passed, false);
}

/* Holds `o` after what this thread holds already, until its next hand-over. */
static void hold(op *o)
{
    list_append(&held.head, &held.tail, o, o);
}

static bool loop_holds(const struct loop_conn *lc);

/*
 * Queues an op, after what this thread holds: its requests reach Redis in the order it made them.
 * An event loop whose requests go on a loop's connection holds its refunds, releases and claims
 * with its reservations, for that connection (a refund must reach Redis before the loop's next
 * reservations, which it may let through).
 */
static void enqueue(redis_counters *c, op *o)
{
    op *head = o;
    if (held.c == c && held.lc != NULL && loop_holds(held.lc) &&
        (o->kind == OP_REFUND || o->kind == OP_RELEASE || o->kind == OP_CLAIM)) {
        hold(o);
        return;
    }
    if (held.c == c && held.head != NULL) {
        held.tail->next = o;
        head = held.head;
        held.head = held.tail = NULL;
    }
    enqueue_list(c, head, o);
}

static bool loop_send(struct loop_conn *lc);
static bool loop_gathers(const struct loop_conn *lc);
static bool loop_carries(const struct loop_conn *lc);
static ev_loop *loop_of(const struct loop_conn *lc);

/*
 * A loop that does not carry hands what it holds to the carrier's loop, waking it (once for what
 * piles up before it takes them); while the carrier has no connection, to the connection thread.
 */
static void pass_on(redis_counters *c)
{
    if (held.head == NULL)
        return;
    op *head = held.head, *tail = held.tail;
    held.head = held.tail = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        enqueue_list(c, head, tail); /* fails them */
        return;
    }
    if (c->carrier != NULL && c->carrier_up) {
        bool was_empty = c->pass_head == NULL;
        list_append(&c->pass_head, &c->pass_tail, head, tail);
        atomic_store(&c->passed, true);
        if (was_empty)
            ev_loop_wake(loop_of(c->carrier));
    } else {
        queue_locked(c, head, tail);
    }
    pthread_mutex_unlock(&c->mu);
}

static void carrier_take(struct loop_conn *lc);

static bool redis_hand_over(counters *self)
{
    redis_counters *c = (redis_counters *)self;
    if (held.c != c) { /* this thread hands over from now on */
        held.c = c;
        held.head = held.tail = NULL;
        return false;
    }
    if (held.lc != NULL && !loop_carries(held.lc)) {
        pass_on(c);
        return false;
    }
    if (held.lc != NULL) { /* the loop whose connection carries every loop's requests */
        carrier_take(held.lc);
        if (!held.gathered && loop_gathers(held.lc)) {
            held.gathered = true;
            return true;
        }
        held.gathered = false;
        if (loop_send(held.lc))
            return false;
    }
    if (held.head == NULL)
        return false;
    op *head = held.head, *tail = held.tail;
    held.head = held.tail = NULL;
    enqueue_list(c, head, tail);
    return false;
}

/* Queues a stack op and waits for its completion. Never call from a `decided` callback. */
static int run_sync(redis_counters *c, op *o)
{
    enqueue(c, o);
    pthread_mutex_lock(&c->mu);
    while (!o->done)
        pthread_cond_wait(&c->done_cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return o->rc;
}

/* ---- an event loop's own connection ---- */

/*
 * An attached event loop (attach_loop). The first one attached carries every loop's requests on
 * a connection of its own: what it holds at the end of an iteration, with what the other loops
 * handed it at the end of theirs (pass_on: one lock, and a wake-up when its list was empty), goes
 * to Redis from the loop itself, one RESERVE_LUA run per batch, and is decided on the loop when
 * the reply comes back: no thread between the loops and Redis, and one run for both loops'
 * requests instead of one each (Redis's cost per call falls by about a quarter). The other loops'
 * calls are decided on the carrying loop and resumed on their own. The connection thread makes the
 * connection (connecting blocks) and leaves its socket for the loop to adopt; until then, and
 * after the connection broke, every loop's requests go through the connection thread as any
 * thread's do; a new connection carries nothing until what was queued there before has gone to
 * Redis (a barrier: carrier_up_locked). What a reply cannot settle on the loop goes to the
 * connection thread too: reservations whose counters are missing (seeded from the ledger, which
 * blocks) or whose script Redis lost (loaded again) are queued there as they are, since they did
 * not count anything; those awaited when the connection broke are failed there (decided alone in
 * open mode), never sent again, since Redis may have counted them. While the carrier has its
 * connection, each loop's refunds, releases and claims go on it too, in the order they were made
 * with that loop's reservations (a refund given back after a later reservation of the same loop
 * could refuse it).
 */
typedef struct loop_conn {
    redis_counters *c;
    ev_stream *stream; /* NULL while the loop has none */
    redisReader *reader;
    res_batch *batch;
    op *sent_head, *sent_tail; /* sent, awaiting their replies, oldest first: runs of reservations */
    size_t sent_reservations;
    int64_t ask_at_ms;      /* monotonic: the loop asks for a connection again from then */
    op *again, *again_last; /* answered NOSCRIPT (Redis lost its scripts): sent again, first, after a load */
    bool reload;            /* the scripts are to be loaded on the connection before anything else */
    bool carries;           /* c->carrier (set at attach_loop): the others have no connection */
    bool barred;            /* its connection is new: nothing goes on it before the barrier passed */
    /* Under c->mu: */
    uint64_t gen, passed_gen; /* its connections adopted, and the last one whose barrier passed */
    ev_loop *loop;            /* NULL once detached */
    bool wanted;              /* the connection thread is to connect one for the loop */
    int ready_fd;             /* connected for the loop, not adopted yet; -1 for none */
    struct loop_conn *next;   /* in c->loops */
} loop_conn;

static bool loop_carries(const loop_conn *lc)
{
    return lc->carries;
}

/* Its loop (c->mu held; NULL once detached). */
static ev_loop *loop_of(const loop_conn *lc)
{
    return lc->loop;
}

/* Whether the loop's requests go on a loop's connection now: they are held until its hand-over. */
static bool loop_holds(const loop_conn *lc)
{
    return !lc->carries || lc->stream != NULL;
}

/*
 * The carrier takes what the other loops handed it, after what it holds, and learns whether its
 * new connection's barrier passed.
 */
static void again_to_held(loop_conn *lc);

static void carrier_take(loop_conn *lc)
{
    redis_counters *c = lc->c;
    if (!lc->barred && !atomic_load(&c->passed))
        return; /* nothing handed over (a pass after this read wakes the loop): no lock */
    pthread_mutex_lock(&c->mu);
    op *head = c->pass_head, *tail = c->pass_tail;
    c->pass_head = c->pass_tail = NULL;
    atomic_store(&c->passed, false);
    if (lc->barred && lc->passed_gen == lc->gen)
        lc->barred = false;
    pthread_mutex_unlock(&c->mu);
    if (head != NULL)
        list_append(&held.head, &held.tail, head, tail);
}

/*
 * Everything of the carrier's loop, and what the other loops handed it, to the connection thread,
 * in order: what was to be sent again, what it holds, what it was handed (c->mu held). The other
 * loops' requests go there too from now, after these, until carrier_up again.
 */
static void carrier_down_locked(loop_conn *lc)
{
    redis_counters *c = lc->c;
    again_to_held(lc);
    if (held.head != NULL)
        queue_locked(c, held.head, held.tail);
    held.head = held.tail = NULL;
    c->carrier_up = false;
    pass_to_thread_locked(c);
}

/*
 * A new connection of the carrier: requests made before it went through the connection thread, and
 * some may be queued there still. A barrier (a PING) queued behind them lets the connection carry
 * anything only once their replies came back, so that no loop's request overtakes an earlier one
 * of the same loop (a refund, its next reservation). Until then the loops hold and hand over to the
 * carrier as usual (c->mu held).
 */
static void carrier_up_locked(loop_conn *lc)
{
    redis_counters *c = lc->c;
    op *o = xcalloc(1, sizeof *o);
    o->kind = OP_BARRIER;
    o->arg = lc;
    o->gen = ++lc->gen;
    long long k = redisFormatCommand(&o->cmd, "PING");
    if (k < 0) {
        fputs("counters_redis: out of memory formatting a command\n", stderr);
        abort();
    }
    o->len = (size_t)k;
    lc->barred = true;
    c->carrier_up = true;
    queue_locked(c, o, o);
}

/* A barrier let go: its loop's new connection may carry requests (connection thread). */
static void barrier_passed(redis_counters *c, op *o)
{
    loop_conn *lc = o->arg;
    pthread_mutex_lock(&c->mu);
    if (o->gen > lc->passed_gen)
        lc->passed_gen = o->gen;
    if (lc->loop != NULL && lc->gen == o->gen)
        ev_loop_wake(lc->loop);
    pthread_mutex_unlock(&c->mu);
}

/*
 * Lets the completed barriers go, at the end of the connection thread's pass: by then what was
 * sent again after their replies (a reload of the scripts, seeded reservations) is done too. While
 * lost batches wait to be looked up (their refunds are queued after the barrier), they wait too,
 * at most COMMAND_TIMEOUT_MS: the carrier's calls wait meanwhile. `all`: every one (the thread
 * stops).
 */
static void release_barriers(redis_counters *c, bool all)
{
    if (c->barriers == NULL || (!all && c->lost != NULL && mono_ms() - c->barriers_since_ms < COMMAND_TIMEOUT_MS))
        return;
    op *o = c->barriers;
    c->barriers = NULL;
    c->barriers_tail = &c->barriers;
    while (o != NULL) {
        op *next = o->next;
        barrier_passed(c, o);
        free(o);
        o = next;
    }
}

/* A loop connection is asked for again at most this often after one broke or could not be made. */
#define LOOP_RETRY_MS 1000

/* True when a loop waits for a connection the connection thread is to make (c->mu held). */
static bool loops_wanted(const redis_counters *c)
{
    for (const loop_conn *lc = c->loops; lc != NULL; lc = lc->next)
        if (lc->wanted && lc->loop != NULL)
            return true;
    return false;
}

/*
 * Connects one loop that asked for it (one a pass: what the thread has to complete does not wait
 * for them all). If Redis refuses, the loop asks again later. Connection thread, c->mu not held.
 */
static void connect_loop(redis_counters *c)
{
    pthread_mutex_lock(&c->mu);
    loop_conn *lc = c->loops;
    while (lc != NULL && !(lc->wanted && lc->loop != NULL))
        lc = lc->next;
    if (lc != NULL)
        lc->wanted = false;
    pthread_mutex_unlock(&c->mu);
    if (lc == NULL)
        return;
    char why[128];
    redisContext *ctx = connect_redis(c, why, sizeof why);
    int fd = ctx != NULL ? redisFreeKeepFd(ctx) : -1;
    pthread_mutex_lock(&c->mu);
    if (fd >= 0 && lc->loop != NULL && lc->ready_fd < 0) {
        lc->ready_fd = fd;
        fd = -1;
        ev_loop_wake(lc->loop); /* adopted at once: a socket left idle might be dead when used */
    }
    pthread_mutex_unlock(&c->mu);
    if (fd >= 0)
        close(fd);
}

/* Hands a list of ops to the connection thread to fail (sent, and their replies lost). */
static void fail_later(redis_counters *c, op *head)
{
    if (head == NULL)
        return;
    op *tail = head;
    while (tail->next != NULL)
        tail = tail->next;
    pthread_mutex_lock(&c->mu);
    list_append(&c->failed_head, &c->failed_tail, head, tail);
    wake_locked(c);
    pthread_mutex_unlock(&c->mu);
}

/*
 * Redis lost its scripts (a restart, SCRIPT FLUSH): the ops of a reply that said so did not run.
 * Once every reply awaited has come back (those sent after them said NOSCRIPT too), they are sent
 * again on the loop's connection after the scripts are loaded there, before anything the loop
 * holds, so its requests still reach Redis in the order it made them. An op that meets NOSCRIPT
 * again goes to the connection thread, which loads the scripts too, or fails it.
 */
static void loop_again(loop_conn *lc, op *first, op *last)
{
    for (op *o = first;; o = o->next) {
        if (o->reloaded) { /* the load did not help: the connection thread tries, then fails it */
            enqueue_list(lc->c, first, last);
            return;
        }
        if (o == last)
            break;
    }
    for (op *o = first;; o = o->next) {
        o->reloaded = true;
        o->seq = 0;
        if (o == last)
            break;
    }
    last->next = NULL;
    if (lc->again_last != NULL)
        lc->again_last->next = first;
    else
        lc->again = first;
    lc->again_last = last;
    lc->reload = true;
}

/* What is to be sent again goes before what the loop holds, made after it. */
static void again_to_held(loop_conn *lc)
{
    if (lc->again == NULL)
        return;
    lc->again_last->next = held.head;
    if (held.head == NULL)
        held.tail = lc->again_last;
    held.head = lc->again;
    lc->again = lc->again_last = NULL;
}

/* Completes the op, or the run of reservations, at the head of the sent list with reply `r`. */
static void loop_complete(loop_conn *lc, const redisReply *r)
{
    redis_counters *c = lc->c;
    op *list = lc->sent_head, *last = list;
    if (list->kind != OP_RESERVE) { /* one op, one reply */
        lc->sent_head = list->next;
        if (lc->sent_head == NULL)
            lc->sent_tail = NULL;
        list->next = NULL;
        if (is_noscript(r))
            loop_again(lc, list, list); /* it did not run */
        else
            op_complete(c, list, r);
        return;
    }
    size_t n = list->run;
    for (size_t i = 1; i < n; i++)
        last = last->next;
    lc->sent_head = last->next;
    if (lc->sent_head == NULL)
        lc->sent_tail = NULL;
    last->next = NULL;
    lc->sent_reservations -= n;
    if (is_noscript(r)) { /* nothing ran */
        loop_again(lc, list, last);
        return;
    }
    res_answer answer[BATCH_MAX];
    bool answered = batch_answer(r, list, n, answer);
    op *again = NULL, **again_tail = &again, *again_last = NULL;
    for (size_t i = 0; i < n; i++) {
        op *o = list;
        list = o->next;
        const long long *e = answered ? answer[i].v : NULL;
        if (e != NULL && e[0] == -1 && c->seeder != NULL) { /* nothing counted: seeded there */
            again_last = o;
            list_push(&again_tail, o);
        } else {
            reserve_complete(o, e);
        }
    }
    if (again != NULL)
        enqueue_list(c, again, again_last);
}

static int loop_on_data(void *arg, const char *data, size_t len)
{
    loop_conn *lc = arg;
    redis_counters *c = lc->c;
    int rc = redisReaderFeed(lc->reader, data, len) == REDIS_OK ? 0 : -1;
    while (rc == 0) {
        void *rv = NULL;
        if (redisReaderGetReply(lc->reader, &rv) != REDIS_OK || (rv != NULL && lc->sent_head == NULL)) {
            rc = -1; /* the connection fails: what is awaited is failed with it */
        } else if (rv == NULL) {
            break;
        } else {
            loop_complete(lc, rv);
        }
        if (rv != NULL)
            freeReplyObject(rv);
    }
    if (lc->sent_head == NULL)
        again_to_held(lc);
    if (rc == 0)
        ev_stream_arm(lc->stream, lc->sent_head != NULL); /* the next reply is due a second from now */
    if (c->flush != NULL)
        c->flush(c->flush_arg);
    return rc;
}

/* The loop's connection broke (or Redis took longer than COMMAND_TIMEOUT_MS to answer). */
static void loop_on_error(void *arg, const char *why)
{
    (void)why;
    loop_conn *lc = arg;
    lc->stream = NULL; /* closed by the loop once this returns */
    again_to_held(lc); /* they did not run: they go through the connection thread, in order */
    lc->reload = false;
    redisReaderFree(lc->reader);
    lc->reader = NULL;
    op *sent = lc->sent_head;
    lc->sent_head = lc->sent_tail = NULL;
    lc->sent_reservations = 0;
    lc->ask_at_ms = mono_ms() + LOOP_RETRY_MS;
    fail_later(lc->c, sent);
    pthread_mutex_lock(&lc->c->mu); /* every loop's requests go through the connection thread meanwhile */
    carrier_down_locked(lc);
    pthread_mutex_unlock(&lc->c->mu);
}

static const ev_stream_cbs loop_cbs = {.on_data = loop_on_data, .on_error = loop_on_error};

/* Adopts the connection the connection thread made for this loop, or asks for one. */
static void loop_connect(loop_conn *lc, ev_loop *loop)
{
    redis_counters *c = lc->c;
    int64_t now = mono_ms();
    pthread_mutex_lock(&c->mu);
    int fd = lc->ready_fd;
    lc->ready_fd = -1;
    if (fd < 0 && !lc->wanted && now >= lc->ask_at_ms) {
        lc->wanted = true;
        lc->ask_at_ms = now + LOOP_RETRY_MS;
        wake_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
    if (fd < 0)
        return;
    char b;
    ssize_t k = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) { /* Redis closed it meanwhile */
        close(fd);
        return;
    }
    lc->reader = redisReaderCreate();
    if (lc->reader == NULL) {
        close(fd);
        return;
    }
    lc->stream = ev_stream_adopt(loop, fd, &loop_cbs, lc, COMMAND_TIMEOUT_MS);
    pthread_mutex_lock(&c->mu); /* the other loops hand their requests to this one again */
    carrier_up_locked(lc);
    pthread_mutex_unlock(&c->mu);
}

/*
 * A loop's batch of fewer reservations than this waits for one more iteration of the loop, one
 * that does not wait: the requests that reached the loop meanwhile join it. A run of the script
 * costs Redis, and the loop's write and read, about as much as a dozen reservations in it, and an
 * iteration's requests come in by a dozen or so under load (bench/README.md, "a small batch waits
 * one iteration": about 25% more reservations per run at 64 connections, for one system call).
 */
#define GATHER_MIN 16

/* Whether the loop's held requests are a batch to gather more into before it goes. */
static bool loop_gathers(const loop_conn *lc)
{
    if (lc->stream == NULL || lc->barred || lc->reload || lc->sent_reservations >= PIPELINE_RESERVATIONS)
        return false; /* not sent from here now anyway */
    size_t n = 0;
    for (const op *o = held.head; o != NULL && n < GATHER_MIN; o = o->next)
        n += o->kind == OP_RESERVE;
    return n > 0 && n < GATHER_MIN;
}

/*
 * The carrying loop's iteration ends with its requests held (held.head: reservations, refunds,
 * releases and claims, its own and those handed to it): sent on its connection while fewer than
 * PIPELINE_RESERVATIONS are awaited there (past that they wait, to go in a bigger batch once a
 * reply came back, which ends an iteration too), and once its barrier passed. False when the loop
 * has no connection: they go through the connection thread.
 */
static bool loop_send(loop_conn *lc)
{
    redis_counters *c = lc->c;
    if (lc->stream == NULL) {
        pthread_mutex_lock(&c->mu);
        ev_loop *loop = lc->loop;
        pthread_mutex_unlock(&c->mu);
        loop_connect(lc, loop);
        if (lc->stream == NULL)
            return false;
    }
    if (held.head == NULL || lc->barred || lc->sent_reservations >= PIPELINE_RESERVATIONS ||
        (lc->reload && lc->sent_head != NULL))
        return true;
    bool idle = lc->sent_head == NULL;
    if (lc->reload) { /* the scripts a loop runs, loaded again before anything else goes */
        static const int loaded[] = {SCRIPT_RESERVE, SCRIPT_REFUND, SCRIPT_RELEASE, SCRIPT_CLAIM};
        for (size_t i = 0; i < sizeof loaded / sizeof loaded[0]; i++) {
            op *o = xcalloc(1, sizeof *o);
            o->kind = OP_RELEASE; /* a reply to read and drop */
            long long k = redisFormatCommand(&o->cmd, "SCRIPT LOAD %s", SCRIPTS[loaded[i]]);
            if (k < 0) {
                fputs("counters_redis: out of memory formatting a command\n", stderr);
                abort();
            }
            o->len = (size_t)k;
            ev_stream_write(lc->stream, o->cmd, o->len);
            list_append(&lc->sent_head, &lc->sent_tail, o, o);
        }
        lc->reload = false;
    }
    while (held.head != NULL) {
        op *first = held.head, *after, *last = first;
        if (first->kind != OP_RESERVE) { /* a refund, a release or a claim: one command, one reply */
            after = first->next;
            ev_stream_write(lc->stream, first->cmd, first->len);
        } else {
            after = format_reservations(c, lc->batch, first);
            ev_stream_write(lc->stream, lc->batch->out, lc->batch->len);
            lc->sent_reservations += first->run;
        }
        while (last->next != after)
            last = last->next;
        held.head = after;
        if (after == NULL)
            held.tail = NULL;
        list_append(&lc->sent_head, &lc->sent_tail, first, last);
    }
    if (idle)
        ev_stream_arm(lc->stream, 1);
    return true;
}

static void redis_attach_loop(counters *self, ev_loop *loop)
{
    redis_counters *c = (redis_counters *)self;
    loop_conn *lc = xcalloc(1, sizeof *lc);
    lc->c = c;
    lc->batch = xcalloc(1, sizeof *lc->batch);
    lc->loop = loop;
    lc->ready_fd = -1;
    pthread_mutex_lock(&c->mu);
    lc->next = c->loops;
    c->loops = lc;
    if (c->carrier == NULL) {
        c->carrier = lc;
        lc->carries = true;
    }
    pthread_mutex_unlock(&c->mu);
    held.c = c;
    held.head = held.tail = NULL;
    held.lc = lc;
    held.gathered = false;
    if (lc->carries)
        loop_connect(lc, loop); /* asks for its connection at once */
}

/* Whether this loop carries requests still: awaited on its connection, or to send. */
static bool redis_loop_busy(counters *self)
{
    redis_counters *c = (redis_counters *)self;
    loop_conn *lc = held.lc;
    if (held.c != c || lc == NULL || !lc->carries || lc->stream == NULL)
        return false;
    if (lc->sent_head != NULL || held.head != NULL)
        return true;
    pthread_mutex_lock(&c->mu);
    bool passed = c->pass_head != NULL;
    pthread_mutex_unlock(&c->mu);
    return passed;
}

static void redis_detach_loop(counters *self)
{
    redis_counters *c = (redis_counters *)self;
    loop_conn *lc = held.lc;
    if (held.c != c || lc == NULL)
        return;
    /* The loop stops with no call in flight; a refund or a release may still be (their replies are
     * lost with the connection, and they are dropped, as on a connection that breaks). The
     * carrier's loop iterates until it carries nothing (loop_busy) or its time is up. */
    if (lc->stream != NULL)
        ev_stream_close(lc->stream);
    lc->stream = NULL;
    redisReaderFree(lc->reader);
    lc->reader = NULL;
    fail_later(c, lc->sent_head);
    lc->sent_head = lc->sent_tail = NULL;
    lc->reload = false;
    if (lc->carries) { /* what it holds and was handed, then every loop's requests: the thread's */
        pthread_mutex_lock(&c->mu);
        c->carrier = NULL;
        carrier_down_locked(lc);
        pthread_mutex_unlock(&c->mu);
    } else {
        pass_on(c); /* after what it handed the carrier before */
    }
    held.c = NULL;
    held.head = held.tail = NULL;
    held.lc = NULL;
    pthread_mutex_lock(&c->mu);
    lc->loop = NULL; /* kept until counters_free: the connection thread may be connecting for it */
    lc->wanted = false;
    int fd = lc->ready_fd;
    lc->ready_fd = -1;
    pthread_mutex_unlock(&c->mu);
    if (fd >= 0)
        close(fd);
}

/* ---- counters_ops ---- */

/* ---- a batch of reservations: one RESERVE_LUA run ---- */

static void batch_free(res_batch *b)
{
    if (b != NULL)
        free(b->out);
    free(b);
}

static void out_bytes(res_batch *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap - b->len < n)
            cap *= 2;
        b->out = xrealloc(b->out, cap);
        b->cap = cap;
    }
    memcpy(b->out + b->len, p, n);
    b->len += n;
}

/* `v` in decimal into dst (at least 20 bytes); returns its length. */
static size_t i64_text(char *dst, int64_t v)
{
    char tmp[24], *end = tmp + sizeof tmp, *p = end;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    memcpy(dst, p, (size_t)(end - p));
    return (size_t)(end - p);
}

/* One bulk string of the command. */
static void out_bulk(res_batch *b, const char *s, size_t n)
{
    char head[32];
    head[0] = '$';
    size_t k = 1 + i64_text(head + 1, (int64_t)n);
    head[k++] = '\r';
    head[k++] = '\n';
    out_bytes(b, head, k);
    out_bytes(b, s, n);
    out_bytes(b, "\r\n", 2);
}

/* An integer argument; BATCH_NONE is the empty string. */
static void out_int(res_batch *b, int64_t v)
{
    char t[24];
    if (v == BATCH_NONE)
        out_bulk(b, "", 0);
    else
        out_bulk(b, t, i64_text(t, v));
}

/* Appends `s` at `p` (within a key's buffer, which every key fits). */
static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* A key's name (the `second` of a pair of flags: its over flag); every name fits in 80 bytes. */
static void out_key(res_batch *b, const batch_key *k, bool second)
{
    char name[80], *p = name;
    if (k->kind == BKEY_GLOBAL) {
        p = put_str(p, "sm:rl:global");
    } else {
        p = put_str(p, "sm:{");
        p += i64_text(p, k->a);
        p = put_str(p, "}:");
        switch (k->kind) {
        case BKEY_ACCOUNT: p = put_str(p, "rl:a"); break;
        case BKEY_CREDENTIAL: p = put_str(p, "rl:c:"); break;
        case BKEY_DAY:
        case BKEY_DAY_FLAGS: p = put_str(p, "d:"); break;
        default: p = put_str(p, "m:"); break;
        }
        if (k->kind != BKEY_ACCOUNT)
            p += i64_text(p, k->b);
        if (k->kind == BKEY_DAY_FLAGS || k->kind == BKEY_MONTH_FLAGS)
            p = put_str(p, second ? ":over" : ":block");
    }
    assert((size_t)(p - name) <= sizeof name);
    out_bulk(b, name, (size_t)(p - name));
}

/* The batch's key named by (kind, a, b), added when new; its index in b->keys. */
static int batch_key_of(res_batch *b, batch_key_kind kind, int64_t x, int64_t y)
{
    uint64_t h = ((uint64_t)kind * 0x9E3779B97F4A7C15u) ^ ((uint64_t)x * 0xC2B2AE3D27D4EB4Fu) ^
                 ((uint64_t)y * 0x165667B19E3779F9u);
    h ^= h >> 29;
    for (size_t i = (size_t)h & (BATCH_HASH - 1);; i = (i + 1) & (BATCH_HASH - 1)) {
        if (b->hash[i] == 0) {
            assert(b->nkeys < BATCH_KEYS);
            bool pair = kind == BKEY_DAY_FLAGS || kind == BKEY_MONTH_FLAGS;
            b->keys[b->nkeys] = (batch_key){.kind = kind, .a = x, .b = y, .slot = pair ? b->nflags++ : b->ncounters++};
            b->hash[i] = (uint16_t)(b->nkeys + 1);
            return b->nkeys++;
        }
        const batch_key *k = &b->keys[b->hash[i] - 1];
        if (k->kind == kind && k->a == x && k->b == y)
            return b->hash[i] - 1;
    }
}

/* The spec (1-based) of bucket `key` with interval `t` and `burst`, added when new. */
static int batch_spec_of(res_batch *b, int key, int64_t t, int64_t burst)
{
    int s = b->keys[key].spec;
    if (s != 0 && b->specs[s - 1].t == t && b->specs[s - 1].burst == burst)
        return s;
    b->specs[b->nspecs] = (batch_spec){.key = key, .t = t, .burst = burst};
    b->keys[key].spec = ++b->nspecs;
    return b->nspecs;
}

/* The group (1-based) of reservation `o`: its account's contract in its day and month. */
static int batch_group_of(res_batch *b, const op *o)
{
    const limits *l = &o->limits;
    int64_t id = o->account_id, d = o->dec.p.day_key, m = o->dec.p.month_key;
    bool seeded = o->mode == MISSING_SEEDED;
    batch_group g = {.f = {
                         batch_key_of(b, BKEY_DAY, id, d),
                         batch_key_of(b, BKEY_MONTH, id, m),
                         batch_key_of(b, BKEY_DAY_FLAGS, id, d),
                         batch_key_of(b, BKEY_MONTH_FLAGS, id, m),
                         l->daily_limit.present ? l->daily_limit.v : BATCH_NONE,
                         l->monthly_limit.present ? l->monthly_limit.v : BATCH_NONE,
                         l->mode == LIMIT_OVERAGE ? 1 : 0,
                         l->overage_cap.present ? l->overage_cap.v : BATCH_NONE,
                         o->dec.p.day_end_ms + KEY_GRACE_MS,
                         o->dec.p.month_end_ms + KEY_GRACE_MS,
                         (int64_t)o->mode,
                         seeded ? o->seed.day_used : 0,
                         seeded ? o->seed.month_used : 0,
                         seeded && o->seed.day_blocked,
                         seeded && o->seed.day_overage,
                         seeded && o->seed.month_blocked,
                         seeded && o->seed.month_overage,
                     }};
    batch_key *day = &b->keys[g.f[0]];
    if (day->group != 0 && memcmp(&b->groups[day->group - 1], &g, sizeof g) == 0)
        return day->group;
    b->groups[b->ngroups] = g;
    day->group = ++b->ngroups;
    return b->ngroups;
}

/* The fields of group `g` that RESERVE_LUA takes. */
static int group_fields(const batch_group *g)
{
    return g->f[10] == MISSING_SEEDED ? GROUP_FIELDS : GROUP_FIELDS - GROUP_SEED_FIELDS;
}

/* The KEYS index (1-based) of key `i`: counters first, then the marker, then the pairs of flags. */
static int64_t batch_keys_index(const res_batch *b, int i)
{
    const batch_key *k = &b->keys[i];
    bool pair = k->kind == BKEY_DAY_FLAGS || k->kind == BKEY_MONTH_FLAGS;
    return pair ? b->ncounters + 1 + 2 * k->slot + 1 : k->slot + 1; /* the marker between them */
}

/*
 * The length of the series that reservation `i` of the batch (`o`) starts: the reservations from it on, up to the n-th,
 * with its instant and its shape.
 */
static size_t series_length(const res_batch *b, const op *o, size_t i, size_t n)
{
    size_t k = 1;
    for (const op *x = o->next; i + k < n && b->res[i + k] == b->res[i] && x->dec.now_ms == o->dec.now_ms; x = x->next)
        k++;
    return k;
}

/*
 * Formats the reservations of `first` and those queued right after it (BATCH_MAX at most) into
 * one RESERVE_LUA run in b->out, numbered: first->run says how many it holds, first->seq its
 * number (the others' is 0). Returns the op after them.
 */
static op *format_reservations(redis_counters *c, res_batch *b, op *first)
{
    b->nkeys = b->ncounters = b->nflags = b->nspecs = b->ngroups = b->nshapes = 0;
    memset(b->hash, 0, sizeof b->hash);
    size_t n = 0;
    op *o = first;
    for (; o != NULL && o->kind == OP_RESERVE && n < BATCH_MAX; o = o->next, n++) {
        struct batch_shape sh = {.group = 0}, *r = &sh;
        int anchor = -1;
        if (o->has_rate) {
            const counters_rate *rate = &o->rate;
            int keys[COUNTERS_RATES] = {
                batch_key_of(b, BKEY_GLOBAL, 0, 0),
                batch_key_of(b, BKEY_ACCOUNT, o->account_id, 0),
                batch_key_of(b, BKEY_CREDENTIAL, o->account_id, rate->id[COUNTERS_RATE_CREDENTIAL]),
            };
            for (int i = 0; i < COUNTERS_RATES; i++)
                r->spec[i] = batch_spec_of(b, keys[i], rate_interval_us(&rate->policy[i]), rate->policy[i].burst);
            anchor = keys[COUNTERS_RATE_CREDENTIAL];
        }
        if (o->has_limits) {
            r->group = batch_group_of(b, o);
            anchor = anchor >= 0 ? anchor : (int)b->groups[r->group - 1].f[0];
        }
        assert(anchor >= 0); /* a reservation decides rate limits, a contract, or both */
        int h = b->keys[anchor].shape;
        if (h == 0 || memcmp(&b->shapes[h - 1], &sh, sizeof sh) != 0) {
            b->shapes[b->nshapes++] = sh;
            h = b->keys[anchor].shape = b->nshapes;
        }
        b->res[n] = h;
    }
    first->run = n;
    first->seq = atomic_fetch_add(&c->next_seq, 1);
    for (op *x = first->next; x != o; x = x->next)
        x->seq = 0;
    char mark[96];
    size_t mark_len = marker_key(c, first->seq, mark);

    /* Each shape's ARGV record: its rate limits (1 or 9 fields), then its contract (1, 11 or 17). */
    size_t nseries = 0;
    const op *x = first;
    for (size_t i = 0; i < n; i += b->series[nseries++]) {
        b->series[nseries] = series_length(b, x, i, n);
        for (size_t j = 0; j < b->series[nseries]; j++)
            x = x->next;
    }
    int64_t shape_at[BATCH_MAX], argc = 3 + 3 * (int64_t)nseries;
    for (int i = 0; i < b->nshapes; i++) {
        const struct batch_shape *sh = &b->shapes[i];
        shape_at[i] = argc + 1;
        argc += sh->spec[0] != 0 ? 3 * COUNTERS_RATES : 1;
        argc += sh->group == 0 ? 1 : group_fields(&b->groups[sh->group - 1]);
    }
    char head[64] = "*";
    size_t hl = 1 + i64_text(head + 1, 4 + b->ncounters + 2 * b->nflags + argc);
    memcpy(head + hl, "\r\n", 2);
    b->len = 0;
    out_bytes(b, head, hl + 2);
    out_bulk(b, "EVALSHA", 7);
    out_bulk(b, c->sha[SCRIPT_RESERVE], 40);
    out_int(b, b->ncounters + 2 * b->nflags + 1);
    for (int i = 0; i < b->nkeys; i++)
        if (b->keys[i].kind != BKEY_DAY_FLAGS && b->keys[i].kind != BKEY_MONTH_FLAGS)
            out_key(b, &b->keys[i], false);
    out_bulk(b, mark, mark_len);
    for (int i = 0; i < b->nkeys; i++)
        if (b->keys[i].kind == BKEY_DAY_FLAGS || b->keys[i].kind == BKEY_MONTH_FLAGS) {
            out_key(b, &b->keys[i], false);
            out_key(b, &b->keys[i], true);
        }
    out_int(b, b->ncounters);
    out_int(b, (int64_t)nseries);
    int64_t epoch = first->dec.now_ms * 1000;
    out_int(b, epoch);
    x = first;
    for (size_t r = 0, i = 0; r < nseries; i += b->series[r++]) {
        out_int(b, x->dec.now_ms * 1000 - epoch);
        out_int(b, shape_at[b->res[i] - 1]);
        out_int(b, (int64_t)b->series[r]);
        for (size_t j = 0; j < b->series[r]; j++)
            x = x->next;
    }
    for (int i = 0; i < b->nshapes; i++) {
        const struct batch_shape *sh = &b->shapes[i];
        for (int k = 0; k < COUNTERS_RATES && sh->spec[0] != 0; k++) {
            const batch_spec *sp = &b->specs[sh->spec[k] - 1];
            out_int(b, batch_keys_index(b, sp->key));
            out_int(b, sp->t);
            out_int(b, sp->burst);
        }
        if (sh->spec[0] == 0)
            out_int(b, 0);
        if (sh->group == 0) {
            out_int(b, 0);
            continue;
        }
        const batch_group *g = &b->groups[sh->group - 1];
        for (int f = 0; f < group_fields(g); f++)
            out_int(b, f < 4 ? batch_keys_index(b, (int)g->f[f]) : g->f[f]);
    }
    return o;
}

static void redis_reserve(counters *self, const counters_req *req, counters_decided_fn decided, void *arg)
{
    redis_counters *c = (redis_counters *)self;
    op *o = xcalloc(1, sizeof *o);
    o->kind = OP_RESERVE;
    o->decided = decided;
    o->arg = arg;
    o->account_id = req->account_id;
    o->has_rate = req->rate != NULL;
    if (o->has_rate)
        o->rate = *req->rate;
    o->has_limits = req->limits != NULL;
    if (o->has_limits)
        o->limits = *req->limits;
    o->zone = req->zone;
    o->dec.now_ms = clock_now_ms(c->clock);
    if (o->has_limits)
        o->dec.p = period_at(req->zone, o->dec.now_ms);
    o->mode = c->seeder != NULL ? MISSING_ASKS_SEED : MISSING_IS_ZERO;
    /* formatted by the connection thread, with the reservations queued beside it */
    if (held.c == c) {
        hold(o);
        return;
    }
    enqueue(c, o);
}

/* A reservation is counted in Redis when it is decided; the ledger records the commit. */
static void redis_commit(counters *self, int64_t account_id, const counters_decision *dec)
{
    redis_counters *c = (redis_counters *)self;
    if (dec->degraded)
        counters_commit(c->alone, account_id, dec);
}

/* Queued and not waited for: the refund reaches Redis after every request queued before it. */
static void redis_refund(counters *self, int64_t account_id, const counters_decision *dec)
{
    redis_counters *c = (redis_counters *)self;
    if (dec->rc != 0 || (!dec->reserved && dec->first == COUNTERS_FIRST_NONE))
        return;
    if (dec->degraded) { /* decided alone: given back where it was taken */
        counters_refund(c->alone, account_id, dec);
        return;
    }
    refund_guarded(c, account_id, dec, NULL);
}

/* REFUND_LUA for `dec`, given only while key `guard` exists (NULL: unconditionally). */
static void refund_guarded(redis_counters *c, int64_t account_id, const counters_decision *dec, const char *guard)
{
    long long id = (long long)account_id, d = (long long)dec->p.day_key, m = (long long)dec->p.month_key;
    args a = {0};
    args_add_str(&a, "EVALSHA");
    args_add_str(&a, c->sha[SCRIPT_REFUND]);
    args_add_str(&a, guard != NULL ? "4" : "3");
    args_add(&a, "sm:{%lld}:d:%lld", id, d);
    args_add(&a, "sm:{%lld}:m:%lld", id, m);
    switch (dec->first) {
    case COUNTERS_FIRST_DAY_BLOCK: args_add(&a, "sm:{%lld}:d:%lld:block", id, d); break;
    case COUNTERS_FIRST_DAY_OVERAGE: args_add(&a, "sm:{%lld}:d:%lld:over", id, d); break;
    case COUNTERS_FIRST_MONTH_BLOCK: args_add(&a, "sm:{%lld}:m:%lld:block", id, m); break;
    case COUNTERS_FIRST_MONTH_OVERAGE: args_add(&a, "sm:{%lld}:m:%lld:over", id, m); break;
    default: args_add(&a, "sm:{%lld}:d:%lld", id, d); break;
    }
    if (guard != NULL)
        args_add_str(&a, guard);
    args_add_int(&a, dec->reserved ? 1 : 0);
    args_add_int(&a, dec->first != COUNTERS_FIRST_NONE ? 1 : 0);
    op *o = xcalloc(1, sizeof *o);
    o->kind = OP_REFUND;
    args_format(&a, o);
    enqueue(c, o);
}

static int redis_read(counters *self, int64_t account_id, period_zone zone, counters_usage *out, app_err *err)
{
    redis_counters *c = (redis_counters *)self;
    memset(out, 0, sizeof *out);
    periods p = period_at(zone, clock_now_ms(c->clock));
    args a = {0};
    args_add_str(&a, "MGET");
    args_add(&a, "sm:{%lld}:d:%lld", (long long)account_id, (long long)p.day_key);
    args_add(&a, "sm:{%lld}:m:%lld", (long long)account_id, (long long)p.month_key);
    op o = {.kind = OP_READ};
    args_format(&a, &o);
    if (run_sync(c, &o) != 0)
        return app_err_set(err, APP_COUNTERS_UNAVAILABLE, "counters unavailable");
    out->day_used = o.day_used;
    out->month_used = o.month_used;
    return 0;
}

static void redis_seed(counters *self, const counters_seed_row *row)
{
    redis_counters *c = (redis_counters *)self;
    int64_t now = clock_now_ms(c->clock);
    args a = {0};
    args_add_str(&a, "EVALSHA");
    args_add_str(&a, c->sha[SCRIPT_SEED]);
    args_add(&a, "6");
    args_add_keys(&a, row->account_id, &row->p);
    args_add_int(&a, row->day_used);
    args_add_int(&a, row->month_used);
    args_add_int(&a, row->day_blocked ? 1 : 0);
    args_add_int(&a, row->day_overage ? 1 : 0);
    args_add_int(&a, row->month_blocked ? 1 : 0);
    args_add_int(&a, row->month_overage ? 1 : 0);
    args_add_int(&a, ttl_ms(row->p.day_end_ms, now));
    args_add_int(&a, ttl_ms(row->p.month_end_ms, now));
    op o = {.kind = OP_SEED};
    args_format(&a, &o);
    run_sync(c, &o); /* seed has no error path: a failed seed leaves the counters to the next one */
}

static void claim_key(args *a, int64_t account_id, const char *key)
{
    args_add(a, "sm:{%lld}:idem:%s", (long long)account_id, key);
}

static void redis_claim(counters *self, int64_t account_id, const char *key, counters_claimed_fn done, void *arg)
{
    redis_counters *c = (redis_counters *)self;
    args a = {0};
    args_add_str(&a, "EVALSHA");
    args_add_str(&a, c->sha[SCRIPT_CLAIM]);
    args_add(&a, "1");
    claim_key(&a, account_id, key);
    args_add_str(&a, c->token);
    args_add_int(&a, COUNTERS_CLAIM_TTL_MS);
    op *o = xcalloc(1, sizeof *o);
    o->kind = OP_CLAIM;
    o->claimed = done;
    o->arg = arg;
    args_format(&a, o);
    enqueue(c, o);
}

static void redis_release(counters *self, int64_t account_id, const char *key)
{
    redis_counters *c = (redis_counters *)self;
    args a = {0};
    args_add_str(&a, "EVALSHA");
    args_add_str(&a, c->sha[SCRIPT_RELEASE]);
    args_add(&a, "1");
    claim_key(&a, account_id, key);
    args_add_str(&a, c->token);
    op *o = xcalloc(1, sizeof *o);
    o->kind = OP_RELEASE;
    args_format(&a, o);
    enqueue(c, o);
}

static void redis_set_flush(counters *self, void (*flush)(void *arg), void *arg)
{
    redis_counters *c = (redis_counters *)self;
    c->flush = flush;
    c->flush_arg = arg;
}

static bool redis_degraded(counters *self)
{
    return atomic_load(&((redis_counters *)self)->degraded);
}

static const struct counters_ops redis_ops;

static void redis_set_seeder(counters *self, counters_seeder_fn fn, void *arg)
{
    redis_counters *c = (redis_counters *)self;
    c->seeder = fn;
    c->seeder_arg = arg;
}

/* RAISE_LUA's command for `row`. */
static void args_add_raise(args *a, redis_counters *c, const counters_seed_row *row, int64_t now)
{
    long long id = (long long)row->account_id;
    args_add_str(a, "EVALSHA");
    args_add_str(a, c->sha[SCRIPT_RAISE]);
    args_add(a, "2");
    args_add(a, "sm:{%lld}:d:%lld", id, (long long)row->p.day_key);
    args_add(a, "sm:{%lld}:m:%lld", id, (long long)row->p.month_key);
    args_add_int(a, row->day_used);
    args_add_int(a, row->month_used);
    args_add_int(a, ttl_ms(row->p.day_end_ms, now));
    args_add_int(a, ttl_ms(row->p.month_end_ms, now));
}

static int redis_raise(counters *self, const counters_seed_row *row, counters_usage *before, app_err *err)
{
    assert(self->ops == &redis_ops);
    redis_counters *c = (redis_counters *)self;
    args a = {0};
    args_add_raise(&a, c, row, clock_now_ms(c->clock));
    op o = {.kind = OP_RAISE};
    args_format(&a, &o);
    memset(before, 0, sizeof *before);
    if (run_sync(c, &o) != 0)
        return app_err_set(err, APP_COUNTERS_UNAVAILABLE, "counters unavailable");
    before->day_used = o.day_used;
    before->month_used = o.month_used;
    return 0;
}

static void redis_free(counters *self)
{
    redis_counters *c = (redis_counters *)self;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    if (c->ctx != NULL)
        redisFree(c->ctx);
    while (c->lost != NULL) {
        lost_batch *lb = c->lost;
        c->lost = lb->next;
        free(lb);
    }
    while (c->loops != NULL) { /* each detached already, its stream closed on its loop */
        struct loop_conn *lc = c->loops;
        c->loops = lc->next;
        if (lc->ready_fd >= 0)
            close(lc->ready_fd);
        batch_free(lc->batch);
        free(lc);
    }
    counters_free(c->alone);
    free(c->seeded);
    batch_free(c->batch);
    close(c->wake_fd);
    pthread_cond_destroy(&c->done_cv);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static const struct counters_ops redis_ops = {
    .name = "redis",
    .async = true,
    .reserve = redis_reserve,
    .commit = redis_commit,
    .refund = redis_refund,
    .read = redis_read,
    .seed = redis_seed,
    .set_seeder = redis_set_seeder,
    .raise = redis_raise,
    .claim = redis_claim,
    .degraded = redis_degraded,
    .set_flush = redis_set_flush,
    .hand_over = redis_hand_over,
    .loop_busy = redis_loop_busy,
    .attach_loop = redis_attach_loop,
    .detach_loop = redis_detach_loop,
    .release = redis_release,
    .free = redis_free,
};

/* "redis://host[:port][/db]" into the counters' target. */
static int parse_uri(redis_counters *c, const char *uri, app_err *err)
{
    static const char scheme[] = "redis://";
    if (uri == NULL || strncmp(uri, scheme, sizeof scheme - 1) != 0)
        return app_err_set(err, APP_VALIDATION_ERROR, "counters uri must start with redis://");
    const char *h = uri + sizeof scheme - 1;
    size_t hlen = strcspn(h, ":/");
    if (hlen == 0 || hlen >= sizeof c->host)
        return app_err_set(err, APP_VALIDATION_ERROR, "counters uri has no valid host");
    memcpy(c->host, h, hlen);
    c->host[hlen] = '\0';
    const char *s = h + hlen;
    c->port = 6379;
    c->db = 0;
    char *end;
    if (*s == ':') {
        errno = 0;
        long v = strtol(s + 1, &end, 10);
        if (errno != 0 || end == s + 1 || v < 1 || v > 65535 || (*end != '\0' && *end != '/'))
            return app_err_set(err, APP_VALIDATION_ERROR, "counters uri has no valid port");
        c->port = (int)v;
        s = end;
    }
    if (*s == '/' && s[1] != '\0') {
        errno = 0;
        long v = strtol(s + 1, &end, 10);
        if (errno != 0 || end == s + 1 || v < 0 || v > 1000000 || *end != '\0')
            return app_err_set(err, APP_VALIDATION_ERROR, "counters uri has no valid database number");
        c->db = (int)v;
    } else if (*s != '\0' && strcmp(s, "/") != 0) {
        return app_err_set(err, APP_VALIDATION_ERROR, "counters uri is malformed");
    }
    return 0;
}

counters *counters_redis_new(const char *uri, const app_clock *clock, bool fail_open, app_err *err)
{
    redis_counters *c = xcalloc(1, sizeof *c);
    c->super.ops = &redis_ops;
    c->clock = clock;
    c->lost_tail = &c->lost;
    c->barriers_tail = &c->barriers;
    atomic_init(&c->next_seq, 1);
    atomic_init(&c->degraded, false);
    atomic_init(&c->passed, false);
    if (parse_uri(c, uri, err) != 0) {
        free(c);
        return NULL;
    }
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(c->token, sizeof c->token, rnd, sizeof rnd);
    for (int i = 0; i < NSCRIPTS; i++)
        sha1_hex(SCRIPTS[i], strlen(SCRIPTS[i]), c->sha[i]);
    char why[128];
    c->ctx = connect_redis(c, why, sizeof why);
    if (c->ctx == NULL && !fail_open) {
        app_err_set(err, APP_COUNTERS_UNAVAILABLE, "counters unavailable: redis at %s:%d: %s", c->host, c->port, why);
        free(c);
        return NULL;
    }
    /* Open mode starts without Redis too: it decides alone until the thread connects. */
    c->retry_at_ms = mono_ms();
    if (fail_open)
        c->alone = counters_local_new(clock);
    c->batch = xcalloc(1, sizeof *c->batch);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0) {
        app_err_set(err, APP_INTERNAL_ERROR, "cannot create the counters' wake-up descriptor");
        if (c->ctx != NULL)
            redisFree(c->ctx);
        counters_free(c->alone);
        batch_free(c->batch);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->done_cv, NULL);
    if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
        app_err_set(err, APP_INTERNAL_ERROR, "cannot start the counters' connection thread");
        if (c->ctx != NULL)
            redisFree(c->ctx);
        counters_free(c->alone);
        batch_free(c->batch);
        close(c->wake_fd);
        pthread_cond_destroy(&c->done_cv);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return &c->super;
}
