// SPDX-License-Identifier: AGPL-3.0-or-later
// Answers shaped like the server's, and a fetch mock routing them by path (no network).
import { vi } from 'vitest';
import type { PeriodUsage, UsageHistory, UsageSummary } from '../types';
import { addDays } from '../usage';

export const API_KEY = 'sm_live_AbCdEf123456_s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3t';

export function period(p: Partial<PeriodUsage> = {}): PeriodUsage {
  const limit = p.limit === undefined ? 1000 : p.limit;
  const used = p.used ?? 0;
  return {
    period_start: '2026-11-24T00:00:00Z',
    period_end: '2026-11-25T00:00:00Z',
    used,
    limit,
    remaining: limit === null ? null : Math.max(0, limit - used),
    overage: 0,
    blocked: 0,
    resets_at: '2026-11-25T00:00:00Z',
    ...p,
  };
}

export function summary(over: Partial<UsageSummary> = {}): UsageSummary {
  return {
    account: { id: 7, name: 'Acme Corp' },
    plan: { code: 'gold', name: 'Gold' },
    mode: 'block',
    overage_cap: null,
    timezone: 'UTC',
    metered: true,
    daily: period({ used: 120 }),
    monthly: period({
      used: 12345,
      limit: 20000,
      period_start: '2026-11-01T00:00:00Z',
      period_end: '2026-12-01T00:00:00Z',
      resets_at: '2026-12-01T00:00:00Z',
    }),
    cumulative: { used: 45678, overage: 0, blocked: 0, since: '2026-01-15' },
    credentials: [
      {
        key_id: 'AbCdEf123456',
        label: 'production',
        status: 'active',
        last_used_at: '2026-11-24T09:30:00Z',
        daily: { used: 120, overage: 0, blocked: 0 },
        monthly: { used: 12345, overage: 0, blocked: 0 },
      },
      {
        key_id: 'ZyXwVu654321',
        label: 'old',
        status: 'revoked',
        last_used_at: null,
        daily: { used: 0, overage: 0, blocked: 0 },
        monthly: { used: 0, overage: 0, blocked: 0 },
      },
    ],
    ...over,
  };
}

export function emptySummary(): UsageSummary {
  const s = summary();
  return {
    ...s,
    daily: period({ used: 0 }),
    monthly: period({ used: 0, limit: 20000 }),
    cumulative: { used: 0, overage: 0, blocked: 0, since: '2026-11-24' },
    credentials: s.credentials.slice(0, 1).map((c) => ({
      ...c,
      last_used_at: null,
      daily: { used: 0, overage: 0, blocked: 0 },
      monthly: { used: 0, overage: 0, blocked: 0 },
    })),
  };
}

export function history(to = '2026-11-24', perDay = (i: number) => ({ requests: i, overage: 0, blocked: 0 })): UsageHistory {
  const from = addDays(to, -29);
  const days = Array.from({ length: 30 }, (_, i) => ({ date: addDays(from, i), ...perDay(i) }));
  const totals = days.reduce(
    (t, d) => ({ requests: t.requests + d.requests, overage: t.overage + d.overage, blocked: t.blocked + d.blocked }),
    { requests: 0, overage: 0, blocked: 0 },
  );
  return { from, to, timezone: 'UTC', credential: null, days, totals };
}

export function ok(data: unknown): Response {
  return new Response(JSON.stringify({ data, meta: { request_id: 'req-ok-1' } }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

export function apiError(
  status: number,
  code: string,
  message: string,
  opts: { requestId?: string; details?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Response {
  const request_id = opts.requestId ?? '01a20cc5-2b76-7f64-ba5b-776218505f28';
  return new Response(JSON.stringify({ error: { code, message, details: opts.details ?? {}, request_id } }), {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': request_id, ...opts.headers },
  });
}

type Route = Response | (() => Response | Promise<Response>);

/**
 * A vi.fn() fetch answering /v1/b2b/usage/summary, /history and /alerts from the given routes
 * (alerts: none reached, unless given).
 */
export function mockFetch(routes: { summary?: Route; history?: Route; alerts?: Route }) {
  const fn = vi.fn(async (input: RequestInfo | URL, _init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const pick = url.startsWith('/v1/b2b/usage/summary')
      ? routes.summary
      : url.startsWith('/v1/b2b/usage/history')
        ? routes.history
        : url.startsWith('/v1/b2b/usage/alerts')
          ? (routes.alerts ?? ok({ thresholds: [80, 100], alerts: [] }))
          : undefined;
    if (!pick) return apiError(404, 'not_found', 'No such resource.');
    const res = typeof pick === 'function' ? await pick() : pick.clone();
    return res;
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

export function callsTo(fn: ReturnType<typeof mockFetch>, prefix: string) {
  return fn.mock.calls.filter(([input]) => String(input).startsWith(prefix));
}
