// SPDX-License-Identifier: AGPL-3.0-or-later
import { QueryClientProvider } from '@tanstack/react-query';
import { renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../api';
import { callerId } from '../auth';
import { createQueryClient } from '../queryClient';
import { SessionProvider } from '../session';
import { account, ADMIN_TOKEN, auditChain, contractFor, fakeAdmin } from '../test/fakeAdmin';
import { API_KEY, mockFetch, ok, summary } from '../test/fixtures';
import { useAccountsPage, useCreateAccount } from './accounts';
import { useAuditVerification } from './audit';
import { keys } from './keys';
import { useUsageSummary } from './usage';

const OPERATOR: Caller = { role: 'operator', token: ADMIN_TOKEN };
const CUSTOMER: Caller = { role: 'customer', apiKey: API_KEY };

function wrapper(caller: Caller) {
  const client = createQueryClient({ retry: false });
  const Wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <SessionProvider caller={caller}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  return { client, wrapper: Wrapper };
}

describe('who is asking', () => {
  it('names the customer by the public key id and the operator by a fingerprint, never the secret', () => {
    expect(callerId(CUSTOMER)).toBe('customer:AbCdEf123456');
    expect(callerId(OPERATOR)).toMatch(/^operator:[0-9a-f]{8}$/);
    expect(callerId(OPERATOR)).not.toContain(ADMIN_TOKEN);
    expect(callerId({ role: 'operator', token: `${ADMIN_TOKEN}x` })).not.toBe(callerId(OPERATOR));
  });

  it('puts it first in every query key', () => {
    const who = callerId(OPERATOR);
    for (const k of [
      keys.usageSummary(who, 3),
      keys.accountsPage(who, null, null),
      keys.contract(who, 3),
      keys.plans(who),
      keys.auditEvents(who, { accountId: 3 }),
      keys.auditVerification(who),
    ]) {
      expect(k[0]).toBe(who);
    }
  });
});

describe('usage hooks', () => {
  it("reads the customer's own usage through /v1/b2b with the key", async () => {
    const fetchFn = mockFetch({ summary: ok(summary()) });
    const { client, wrapper: w } = wrapper(CUSTOMER);
    const { result } = renderHook(() => useUsageSummary('self'), { wrapper: w });
    await waitFor(() => expect(result.current.data?.account.name).toBe('Acme Corp'));
    expect(fetchFn.mock.calls[0]![0]).toBe('/v1/b2b/usage/summary');
    expect(client.getQueryCache().getAll()[0]!.queryKey).toEqual(['customer:AbCdEf123456', 'usage', 'self', 'summary']);
  });

  it("reads any account's usage through the admin route with the token", async () => {
    const api = fakeAdmin({ accounts: [account(4, 'Initech')], contracts: [contractFor(account(4, 'Initech'))] });
    const { client, wrapper: w } = wrapper(OPERATOR);
    const { result } = renderHook(() => useUsageSummary(4), { wrapper: w });
    await waitFor(() => expect(result.current.data?.account.name).toBe('Initech'));
    expect(api.calls('GET', /usage$/)[0]!.headers['Authorization']).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(client.getQueryCache().getAll()[0]!.queryKey).toEqual([callerId(OPERATOR), 'usage', 4, 'summary']);
  });
});

describe('account hooks', () => {
  it('pages the list and refreshes it after a change', async () => {
    const api = fakeAdmin({ accounts: [account(1, 'Acme')] });
    const { wrapper: w } = wrapper(OPERATOR);
    const { result } = renderHook(() => ({ page: useAccountsPage(null, null), create: useCreateAccount() }), { wrapper: w });
    await waitFor(() => expect(result.current.page.data?.items).toHaveLength(1));
    expect(api.calls('GET', /accounts$/)[0]!.url.searchParams.get('limit')).toBe('20');
    result.current.create.mutate('Globex');
    await waitFor(() => expect(result.current.page.data?.items).toHaveLength(2));
    expect(api.calls('POST', /accounts$/)[0]!.body).toEqual({ name: 'Globex' });
  });
});

describe('audit hooks', () => {
  it('asks the server to verify the chain, cached under who is asking', async () => {
    const api = fakeAdmin({ audit: auditChain([{ action: 'plan.create' }, { action: 'account.create' }]) });
    const { client, wrapper: w } = wrapper(OPERATOR);
    const { result } = renderHook(() => useAuditVerification(), { wrapper: w });
    await waitFor(() => expect(result.current.data).toEqual({ valid: true, checked: 2, first_broken_seq: null, reason: null }));
    const calls = api.calls('GET', /^\/v1\/admin\/audit\/verify$/);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers['Authorization']).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(api.calls('GET', /^\/v1\/admin\/audit$/)).toHaveLength(0);
    expect(client.getQueryCache().getAll()[0]!.queryKey).toEqual([callerId(OPERATOR), 'audit', 'verification']);
  });
});
