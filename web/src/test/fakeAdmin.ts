// SPDX-License-Identifier: AGPL-3.0-or-later
// An in-memory admin API for the console's tests: the routes of src/api/routes.c over plain
// arrays, the same envelopes and error codes, and a way to make any route fail.
import { vi } from 'vitest';
import type { Account, AuditEvent, AuditVerification, Contract, Credential, Plan } from '../types';
import { apiError, history, ok, period, summary } from './fixtures';

export const ADMIN_TOKEN = 'admintoken-0123456789';

type Handler = (req: { method: string; url: URL; body: unknown }) => Response | Promise<Response> | undefined;

export function plan(over: Partial<Plan> = {}): Plan {
  return {
    code: 'gold',
    name: 'Gold',
    metered: true,
    daily_limit: 5,
    monthly_limit: 100,
    limit_mode: 'block',
    overage_cap: null,
    rate_per_second: 50,
    burst: 100,
    credential_rate_per_second: 20,
    credential_burst: 40,
    alert_thresholds: [80, 100],
    created_at: '2026-11-01T00:00:00Z',
    updated_at: '2026-11-01T00:00:00Z',
    ...over,
  };
}

function hex(n: number): string {
  return n.toString(16).padStart(64, '0');
}

export function auditChain(actions: { action: string; account_id?: number | null; target?: string }[]): AuditEvent[] {
  return actions.map((a, i) => ({
    seq: i + 1,
    at: `2026-11-24T10:${String(i).padStart(2, '0')}:00Z`,
    actor: 'admin',
    action: a.action,
    target: a.target ?? 'account:1',
    account_id: a.account_id ?? null,
    details: { after: { status: 'active' } },
    request_id: `rid-${i + 1}`,
    prev_hash: i === 0 ? '0'.repeat(64) : hex(i),
    hash: hex(i + 1),
  }));
}

export function fakeAdmin(init: { accounts?: Account[]; plans?: Plan[]; contracts?: Contract[]; audit?: AuditEvent[] } = {}) {
  const state = {
    accounts: init.accounts ?? [],
    plans: init.plans ?? [plan()],
    contracts: new Map<number, Contract>((init.contracts ?? []).map((c) => [c.account_id, c])),
    credentials: [] as Credential[],
    audit: init.audit ?? [],
    /** today's use per account id */
    used: new Map<number, number>(),
  };
  // What each event held when the fake was made: a later change to state.audit is a tampered row,
  // as a hash recomputed on the server would show (src/services/admin.c audit_verify).
  const sealed = new Map(state.audit.map((e) => [e.seq, JSON.stringify(e)]));
  const verifyAudit = () => {
    let prevHash = '0'.repeat(64);
    let expect = 1;
    let checked = 0;
    const broken = (seq: number, reason: string) =>
      ok({ valid: false, checked, first_broken_seq: seq, reason } satisfies AuditVerification);
    for (const e of state.audit) {
      checked += 1;
      if (e.seq !== expect) return broken(expect, `expected event ${expect}, found ${e.seq}: events are missing`);
      if (e.prev_hash !== prevHash) return broken(e.seq, `its prev_hash is not the hash of event ${e.seq - 1}`);
      if (sealed.get(e.seq) !== JSON.stringify(e)) return broken(e.seq, 'its content does not match its hash (the row was altered)');
      prevHash = e.hash;
      expect += 1;
    }
    return ok({ valid: true, checked, first_broken_seq: null, reason: null } satisfies AuditVerification);
  };
  const overrides: { method: string; path: RegExp; handler: Handler }[] = [];
  let keyN = 0;

  const contractOf = (id: number) => state.contracts.get(id);
  const page = <T>(items: T[], url: URL, idOf: (t: T) => number) => {
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const after = Number(url.searchParams.get('cursor') ?? 0);
    const rest = items.filter((t) => idOf(t) > after).slice(0, limit);
    const last = rest[rest.length - 1];
    return ok({ items: rest, next_cursor: rest.length === limit && last ? String(idOf(last)) : null });
  };

  const routes: { method: string; path: RegExp; handler: (m: RegExpExecArray, url: URL, body: unknown) => Response }[] = [
    {
      method: 'GET',
      path: /^\/v1\/admin\/accounts$/,
      handler: (_m, url) => {
        const status = url.searchParams.get('status');
        return page(
          state.accounts.filter((a) => !status || a.status === status),
          url,
          (a) => a.id,
        );
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/admin\/accounts$/,
      handler: (_m, _u, body) => {
        const name = (body as { name?: string }).name ?? '';
        if (name === '') return apiError(422, 'validation_error', 'The request is not valid.', { details: { fields: [{ field: 'name', issue: 'is required' }] } });
        const a: Account = { id: state.accounts.length + 1, name, status: 'active', created_at: '2026-11-24T10:00:00Z' };
        state.accounts.push(a);
        return ok(a);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/admin\/accounts\/(\d+)$/,
      handler: (m) => {
        const a = state.accounts.find((x) => x.id === Number(m[1]));
        return a ? ok(a) : apiError(404, 'not_found', 'no account has that id');
      },
    },
    {
      method: 'PATCH',
      path: /^\/v1\/admin\/accounts\/(\d+)$/,
      handler: (m, _u, body) => {
        const a = state.accounts.find((x) => x.id === Number(m[1]));
        if (!a) return apiError(404, 'not_found', 'no account has that id');
        a.status = (body as { status: Account['status'] }).status;
        return ok(a);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/admin\/accounts\/(\d+)\/contract$/,
      handler: (m) => {
        const c = contractOf(Number(m[1]));
        return c ? ok(c) : apiError(404, 'not_found', 'account has no contract');
      },
    },
    {
      method: 'PUT',
      path: /^\/v1\/admin\/accounts\/(\d+)\/contract$/,
      handler: (m, _u, body) => {
        const b = body as { plan_code: string; timezone?: string; overrides?: Contract['overrides'] };
        const p = state.plans.find((x) => x.code === b.plan_code);
        if (!p) return apiError(422, 'validation_error', 'The request is not valid.', { details: { fields: [{ field: 'plan_code', issue: `no plan has code "${b.plan_code}"` }] } });
        const c: Contract = {
          account_id: Number(m[1]),
          plan_code: p.code,
          plan_name: p.name,
          timezone: b.timezone ?? state.contracts.get(Number(m[1]))?.timezone ?? 'UTC',
          overrides: b.overrides ?? {},
          effective: { ...p, ...b.overrides, metered: p.metered } as Contract['effective'],
          starts_at: '2026-11-24T10:00:00Z',
          updated_at: `2026-11-24T10:00:0${state.contracts.size}Z`,
        };
        state.contracts.set(c.account_id, c);
        return ok(c);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/admin\/accounts\/(\d+)\/credentials$/,
      handler: (m) => ok({ items: state.credentials.filter((c) => c.account_id === Number(m[1])) }),
    },
    {
      method: 'POST',
      path: /^\/v1\/admin\/accounts\/(\d+)\/credentials$/,
      handler: (m, _u, body) => {
        keyN += 1;
        const key_id = `Key${String(keyN).padStart(9, '0')}`;
        const c: Credential = {
          key_id,
          account_id: Number(m[1]),
          label: (body as { label?: string }).label ?? '',
          status: 'active',
          created_at: '2026-11-24T10:00:00Z',
          expires_at: null,
          revoked_at: null,
          last_used_at: null,
        };
        state.credentials.push(c);
        return ok({ ...c, api_key: `sm_live_${key_id}_SECRETsecretSECRETsecret${keyN}` });
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/admin\/credentials\/(\w+)\/rotate$/,
      handler: (m, _u, body) => {
        const old = state.credentials.find((c) => c.key_id === m[1]);
        if (!old) return apiError(404, 'not_found', 'no such key');
        const grace = (body as { grace_seconds?: number }).grace_seconds ?? 86400;
        old.expires_at = new Date(Date.parse('2026-11-24T10:00:00Z') + grace * 1000).toISOString().replace('.000', '');
        keyN += 1;
        const key_id = `Key${String(keyN).padStart(9, '0')}`;
        const c: Credential = { ...old, key_id, expires_at: null };
        state.credentials.push(c);
        return ok({ ...c, api_key: `sm_live_${key_id}_ROTATEDrotated${keyN}`, previous: old });
      },
    },
    {
      method: 'DELETE',
      path: /^\/v1\/admin\/credentials\/(\w+)$/,
      handler: (m) => {
        const c = state.credentials.find((x) => x.key_id === m[1]);
        if (!c) return apiError(404, 'not_found', 'no such key');
        c.status = 'revoked';
        c.revoked_at = '2026-11-24T11:00:00Z';
        return ok(c);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/admin\/accounts\/(\d+)\/usage$/,
      handler: (m) => {
        const id = Number(m[1]);
        const c = contractOf(id);
        const a = state.accounts.find((x) => x.id === id);
        if (!c || !a) return apiError(404, 'not_found', 'account has no contract');
        const used = state.used.get(id) ?? 0;
        return ok(
          summary({
            account: { id, name: a.name },
            plan: { code: c.plan_code, name: c.plan_name },
            daily: period({ used, limit: c.effective.daily_limit }),
            monthly: period({ used, limit: c.effective.monthly_limit }),
            cumulative: { used, overage: 0, blocked: 0, since: '2026-11-24' },
            credentials: state.credentials
              .filter((k) => k.account_id === id)
              .map((k) => ({
                key_id: k.key_id,
                label: k.label,
                status: k.status,
                last_used_at: null,
                daily: { used, overage: 0, blocked: 0 },
                monthly: { used, overage: 0, blocked: 0 },
              })),
          }),
        );
      },
    },
    { method: 'GET', path: /^\/v1\/admin\/accounts\/(\d+)\/usage\/history$/, handler: () => ok(history()) },
    {
      method: 'GET',
      path: /^\/v1\/admin\/accounts\/(\d+)\/usage\/alerts$/,
      handler: () =>
        ok({
          thresholds: [80, 100],
          alerts: [
            { period: 'day', period_start: '2026-11-24', current: true, threshold: 80, used: 800, limit: 1000, at: '2026-11-24T09:00:00Z' },
          ],
        }),
    },
    { method: 'GET', path: /^\/v1\/admin\/plans$/, handler: (_m, url) => page(state.plans, url, (p) => state.plans.indexOf(p) + 1) },
    {
      method: 'POST',
      path: /^\/v1\/admin\/plans$/,
      handler: (_m, _u, body) => {
        const b = body as Plan;
        if (state.plans.some((p) => p.code === b.code))
          return apiError(422, 'validation_error', 'The request is not valid.', {
            details: { fields: [{ field: 'code', issue: `a plan with code "${b.code}" already exists` }] },
          });
        const p = plan(b);
        state.plans.push(p);
        return ok(p);
      },
    },
    {
      method: 'PATCH',
      path: /^\/v1\/admin\/plans\/([\w-]+)$/,
      handler: (m, _u, body) => {
        const p = state.plans.find((x) => x.code === m[1]);
        if (!p) return apiError(404, 'not_found', 'no such plan');
        Object.assign(p, body);
        return ok(p);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/admin\/audit$/,
      handler: (_m, url) => {
        const acc = url.searchParams.get('account_id');
        const action = url.searchParams.get('action');
        return page(
          state.audit.filter((e) => (!acc || e.account_id === Number(acc)) && (!action || e.action === action)),
          url,
          (e) => e.seq,
        );
      },
    },
    { method: 'GET', path: /^\/v1\/admin\/audit\/verify$/, handler: () => verifyAudit() },
  ];

  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const url = new URL(raw, 'http://panel.test');
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const headers = (init?.headers ?? {}) as Record<string, string>;
    for (const o of overrides) {
      if (o.method === method && o.path.test(url.pathname)) {
        const r = await o.handler({ method, url, body });
        if (r) return r;
      }
    }
    if (headers['Authorization'] !== `Bearer ${ADMIN_TOKEN}`) {
      return apiError(401, 'admin_auth_required', 'A valid admin bearer token is required.', { requestId: 'rid-admin-401' });
    }
    for (const r of routes) {
      const m = r.method === method ? r.path.exec(url.pathname) : null;
      if (m) return r.handler(m, url, body);
    }
    return apiError(404, 'not_found', 'No such resource.');
  });
  vi.stubGlobal('fetch', fn);

  return {
    fetch: fn,
    state,
    /** Answer `method path` with handler first (return undefined to fall through). */
    on(method: string, path: RegExp, handler: Handler) {
      overrides.push({ method, path, handler });
    },
    calls(method: string, path: RegExp) {
      return fn.mock.calls
        .filter(([input, init]) => (init?.method ?? 'GET') === method && path.test(new URL(String(input), 'http://panel.test').pathname))
        .map(([input, init]) => ({
          url: new URL(String(input), 'http://panel.test'),
          body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
          headers: (init?.headers ?? {}) as Record<string, string>,
        }));
    },
  };
}

export function account(id: number, name: string, status: Account['status'] = 'active'): Account {
  return { id, name, status, created_at: '2026-11-20T09:00:00Z' };
}

export function contractFor(a: Account, p: Plan = plan()): Contract {
  return {
    account_id: a.id,
    plan_code: p.code,
    plan_name: p.name,
    timezone: 'UTC',
    overrides: {},
    effective: { ...p, metered: p.metered },
    starts_at: '2026-11-20T09:00:00Z',
    updated_at: '2026-11-20T09:00:00Z',
  };
}
