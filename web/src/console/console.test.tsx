// SPDX-License-Identifier: AGPL-3.0-or-later
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { OPERATOR_SESSION_KEY, SESSION_KEY } from '../auth';
import { createQueryClient } from '../queryClient';
import { API_KEY, apiError } from '../test/fixtures';
import { account, ADMIN_TOKEN, auditChain, contractFor, fakeAdmin, plan } from '../test/fakeAdmin';

function renderConsole({ hash = '#/accounts', signedIn = true } = {}) {
  if (signedIn) window.sessionStorage.setItem(OPERATOR_SESSION_KEY, ADMIN_TOKEN);
  window.history.replaceState(null, '', `/${hash}`);
  const queryClient = createQueryClient({ retry: false });
  const utils = render(<App queryClient={queryClient} />);
  return { ...utils, queryClient };
}

const acme = account(1, 'Acme Corp');
const globex = account(2, 'Globex', 'suspended');

describe('operator sign-in', () => {
  it('signs in with the admin token, kept in sessionStorage only, sent as a bearer token', async () => {
    window.sessionStorage.setItem(SESSION_KEY, API_KEY); // a customer's key from before: forgotten
    window.sessionStorage.removeItem(SESSION_KEY);
    const api = fakeAdmin({ accounts: [acme] });
    const user = userEvent.setup();
    const { queryClient } = renderConsole({ signedIn: false });

    await user.click(screen.getByLabelText('The operator, with the admin token'));
    const input = screen.getByLabelText('Admin token', { selector: 'input' });
    expect(input).toHaveAttribute('type', 'password');
    expect(input).not.toHaveAttribute('name');
    await user.type(input, ADMIN_TOKEN);
    await user.keyboard('{Enter}');

    expect(await screen.findByRole('heading', { level: 1, name: /Operator console/ })).toBeInTheDocument();
    expect(await screen.findByRole('link', { name: 'Acme Corp' })).toHaveAttribute('href', '#/accounts/1');
    expect(window.sessionStorage.getItem(OPERATOR_SESSION_KEY)).toBe(ADMIN_TOKEN);
    expect(window.sessionStorage.getItem(SESSION_KEY)).toBeNull();
    expect(window.localStorage.length).toBe(0);
    for (const [url, init] of api.fetch.mock.calls) {
      expect(String(url)).not.toContain(ADMIN_TOKEN);
      const h = init?.headers as Record<string, string>;
      expect(h['Authorization']).toBe(`Bearer ${ADMIN_TOKEN}`);
      expect(h['X-API-Key']).toBeUndefined();
      expect(init?.credentials).toBe('omit');
    }
    // every cached answer says who asked, never with the token itself
    const owners = queryClient.getQueryCache().getAll().map((q) => q.queryKey[0]);
    expect(owners.length).toBeGreaterThan(0);
    expect(new Set(owners)).toEqual(new Set([expect.stringMatching(/^operator:[0-9a-f]{8}$/)]));
    expect(JSON.stringify(queryClient.getQueryCache().getAll().map((q) => q.queryKey))).not.toContain(ADMIN_TOKEN);
  });

  it('sends a refused token (401) back to the operator sign-in with the code and request id', async () => {
    window.sessionStorage.setItem(OPERATOR_SESSION_KEY, 'not-the-token-at-all');
    fakeAdmin({ accounts: [acme] });
    const { queryClient } = renderConsole({ signedIn: false });
    expect(await screen.findByTestId('session-ended')).toHaveTextContent('The admin token was refused');
    expect(screen.getByTestId('error-code')).toHaveTextContent('admin_auth_required');
    expect(screen.getByTestId('error-request-id')).toHaveTextContent('rid-admin-401');
    expect(screen.getByLabelText('Admin token', { selector: 'input' })).toBeInTheDocument();
    expect(window.sessionStorage.getItem(OPERATOR_SESSION_KEY)).toBeNull();
    expect(queryClient.getQueryCache().getAll()).toHaveLength(0);
  });

  it('forgets both secrets when a tab somehow holds both: the two views never mix', () => {
    window.sessionStorage.setItem(SESSION_KEY, API_KEY);
    fakeAdmin();
    renderConsole();
    expect(screen.getByLabelText('API key', { selector: 'input' })).toBeInTheDocument();
    expect(window.sessionStorage.getItem(SESSION_KEY)).toBeNull();
    expect(window.sessionStorage.getItem(OPERATOR_SESSION_KEY)).toBeNull();
  });
});

describe('accounts', () => {
  it("lists accounts with status, plan, today's and this month's use against the limits", async () => {
    const api = fakeAdmin({ accounts: [acme, globex], contracts: [contractFor(acme)] });
    api.state.used.set(1, 4);
    renderConsole();
    const row = await screen.findByTestId('account-row-1');
    await waitFor(() => expect(within(row).getByTestId('account-today')).toHaveTextContent('4 / 5'));
    expect(within(row).getByTestId('account-today')).toHaveTextContent('Nearing the limit');
    expect(within(row).getByTestId('account-plan')).toHaveTextContent('Gold');
    expect(within(row).getByTestId('account-month')).toHaveTextContent('4 / 100');
    expect(within(row).getByTestId('account-overage')).toHaveTextContent('0');
    const other = screen.getByTestId('account-row-2');
    expect(within(other).getByText('Suspended')).toBeInTheDocument();
    expect(await within(other).findByText('No contract')).toBeInTheDocument();
    expect(screen.getByTestId('accounts-count')).toHaveTextContent('Page 1: 2 accounts.');
  });

  it('says so when there are no accounts', async () => {
    fakeAdmin();
    renderConsole();
    expect(await screen.findByTestId('accounts-empty')).toHaveTextContent('No accounts yet');
  });

  it('pages with the cursor, and searches every page by name or id', async () => {
    const many = Array.from({ length: 45 }, (_, i) => account(i + 1, i === 41 ? 'Zéphyr Ltd' : `Customer ${i + 1}`));
    const api = fakeAdmin({ accounts: many });
    const user = userEvent.setup();
    renderConsole();
    await screen.findByTestId('account-row-1');
    expect(screen.getAllByRole('row')).toHaveLength(21);
    await user.click(screen.getByRole('button', { name: 'Next page' }));
    await screen.findByTestId('account-row-21');
    expect(api.calls('GET', /^\/v1\/admin\/accounts$/).some((c) => c.url.searchParams.get('cursor') === '20')).toBe(true);
    await user.click(screen.getByRole('button', { name: 'Previous page' }));
    await screen.findByTestId('account-row-1');

    await user.type(screen.getByLabelText('Search'), 'zephyr');
    expect(await screen.findByTestId('account-row-42')).toBeInTheDocument();
    expect(screen.getAllByRole('row')).toHaveLength(2);
    expect(screen.getByTestId('accounts-count')).toHaveTextContent('1 account matches.');
    await user.clear(screen.getByLabelText('Search'));
    await user.type(screen.getByLabelText('Search'), '#7');
    expect(await screen.findByTestId('account-row-7')).toBeInTheDocument();
    await user.clear(screen.getByLabelText('Search'));
    await user.type(screen.getByLabelText('Search'), 'nobody');
    expect(await screen.findByTestId('accounts-empty')).toHaveTextContent('No account matches');
  });

  it('creates an account, and shows a refused name next to the field in French', async () => {
    const api = fakeAdmin();
    api.on('POST', /^\/v1\/admin\/accounts$/, ({ body }) =>
      (body as { name: string }).name === 'x'.repeat(3)
        ? apiError(422, 'validation_error', 'The request is not valid.', {
            requestId: 'rid-422',
            details: { fields: [{ field: 'name', issue: 'must be at most 200 characters' }] },
          })
        : undefined,
    );
    const user = userEvent.setup();
    renderConsole();
    await user.selectOptions(screen.getByLabelText('Language'), 'fr');
    const name = await screen.findByLabelText('Nom');
    await user.click(screen.getByRole('button', { name: 'Créer le compte' }));
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('new-account-name-error')).toHaveTextContent('Obligatoire.');
    expect(api.calls('POST', /accounts$/)).toHaveLength(0);

    await user.type(name, 'xxx');
    await user.click(screen.getByRole('button', { name: 'Créer le compte' }));
    expect(await screen.findByTestId('new-account-name-error')).toHaveTextContent('Au plus 200 caractères.');
    expect(name).toHaveAccessibleDescription('Au plus 200 caractères.');
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('La requête n’était pas valide.');
    expect(within(alert).getByTestId('error-request-id')).toHaveTextContent('rid-422');

    await user.clear(name);
    await user.type(name, 'Initech');
    await user.click(screen.getByRole('button', { name: 'Créer le compte' }));
    expect(await screen.findByTestId('account-created')).toHaveTextContent('Compte « Initech » créé.');
    expect(await screen.findByRole('link', { name: 'Initech' })).toBeInTheDocument();
  });

  it('suspends only after a confirmation; Escape cancels and gives focus back', async () => {
    const api = fakeAdmin({ accounts: [acme] });
    const user = userEvent.setup();
    renderConsole();
    const button = await screen.findByRole('button', { name: 'Suspend Acme Corp' });
    await user.click(button);
    const dialog = screen.getByRole('alertdialog', { name: 'Suspend Acme Corp?' });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(button).toHaveFocus();
    expect(api.calls('PATCH', /accounts\/1$/)).toHaveLength(0);

    await user.click(button);
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Suspend' }));
    await waitFor(() => expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument());
    expect(api.calls('PATCH', /accounts\/1$/)[0]!.body).toEqual({ status: 'suspended' });
    expect(await screen.findByRole('button', { name: 'Reactivate Acme Corp' })).toBeInTheDocument();
  });

  it('shows a 429 with when to retry, a 403 and a 409 with what to do', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true, now: new Date('2026-11-24T10:00:00Z') });
    const api = fakeAdmin({ accounts: [acme] });
    let n = 0;
    api.on('GET', /^\/v1\/admin\/accounts$/, () => {
      n += 1;
      if (n === 1) return apiError(429, 'rate_limited', 'Slow down.', { headers: { 'Retry-After': '1' }, requestId: 'rid-429' });
      if (n === 2) return apiError(403, 'forbidden', 'Not for you.', { requestId: 'rid-403' });
      if (n === 3) return apiError(409, 'idempotency_conflict', 'Conflict.', { requestId: 'rid-409' });
      return undefined;
    });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    renderConsole();
    expect(await screen.findByTestId('error-retry')).toHaveTextContent(/try again in 1 second \(at /);
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('error-hint')).toHaveTextContent('You are signed in, but not allowed to do this.');
    expect(screen.getByTestId('error-request-id')).toHaveTextContent('rid-403');
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(screen.getByTestId('error-hint')).toHaveTextContent('This conflicts with another change.'));
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('link', { name: 'Acme Corp' })).toBeInTheDocument();
  });
});

describe("an account's page", () => {
  it('shows the contract, the usage gauges and the chart, and the audit trail', async () => {
    const api = fakeAdmin({
      accounts: [acme],
      contracts: [contractFor(acme)],
      audit: auditChain([{ action: 'account.create', account_id: 1 }, { action: 'contract.put', account_id: 1 }]),
    });
    api.state.used.set(1, 5);
    renderConsole({ hash: '#/accounts/1' });
    expect(await screen.findByRole('heading', { level: 2, name: 'Acme Corp' })).toHaveFocus();
    expect(await screen.findByTestId('effective-daily')).toHaveTextContent('5');
    const usage = screen.getByTestId('account-usage');
    const bar = await within(usage).findByRole('progressbar', { name: /Today/ });
    expect(bar).toHaveAttribute('data-level', 'danger');
    expect(await within(usage).findByTestId('history-table')).toBeInTheDocument();
    expect(await within(usage).findByTestId('alert')).toHaveTextContent('80% of the daily limit reached');
    const trail = screen.getByTestId('account-audit');
    expect(await within(trail).findByText('2 events.')).toBeInTheDocument();
    const rows = within(trail).getAllByTestId('audit-row');
    expect(rows[0]).toHaveAttribute('data-action', 'contract.put'); // newest first
    expect(api.calls('GET', /^\/v1\/admin\/audit$/)[0]!.url.searchParams.get('account_id')).toBe('1');
    expect(api.calls('GET', /usage$/)[0]!.url.pathname).toBe('/v1/admin/accounts/1/usage');
  });

  it('sets a contract, with the refused fields shown next to them', async () => {
    const api = fakeAdmin({ accounts: [acme] });
    api.on('PUT', /contract$/, ({ body }) =>
      (body as { timezone: string }).timezone === 'Mars/Olympus'
        ? apiError(422, 'validation_error', 'The request is not valid.', {
            details: {
              fields: [
                { field: 'timezone', issue: 'must be an IANA time zone such as Europe/Paris or UTC' },
                { field: 'overrides', issue: 'monthly_limit must be null or an integer from 0 to 1000000000000' },
              ],
            },
          })
        : undefined,
    );
    const user = userEvent.setup();
    renderConsole({ hash: '#/accounts/1' });
    expect(await screen.findByTestId('no-contract')).toBeInTheDocument();
    expect(await screen.findByTestId('usage-no-contract')).toBeInTheDocument();
    await user.click(await screen.findByRole('button', { name: 'Set the contract' }));
    expect(screen.getByTestId('contract-plan-error')).toHaveTextContent('Required.');

    await user.selectOptions(screen.getByLabelText('Plan'), 'gold');
    await user.clear(screen.getByLabelText('Time zone'));
    await user.type(screen.getByLabelText('Time zone'), 'Mars/Olympus');
    await user.type(screen.getByLabelText('Daily limit'), 'ten');
    await user.click(screen.getByRole('button', { name: 'Set the contract' }));
    expect(screen.getByTestId('contract-daily_limit-error')).toHaveTextContent('A whole number, 0 or more.');
    expect(api.calls('PUT', /contract$/)).toHaveLength(0);

    await user.clear(screen.getByLabelText('Daily limit'));
    await user.type(screen.getByLabelText('Daily limit'), '3');
    await user.click(screen.getByRole('button', { name: 'Set the contract' }));
    expect(await screen.findByTestId('contract-timezone-error')).toHaveTextContent('Not a time zone the server knows');
    expect(screen.getByLabelText('Time zone')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('contract-monthly_limit-error')).toHaveTextContent('A whole number from 0 to 1,000,000,000,000.');
    expect(api.calls('PUT', /contract$/)[0]!.body).toEqual({ plan_code: 'gold', timezone: 'Mars/Olympus', overrides: { daily_limit: 3 } });

    await user.clear(screen.getByLabelText('Time zone'));
    await user.type(screen.getByLabelText('Time zone'), 'Europe/Paris');
    await user.click(screen.getAllByRole('checkbox', { name: 'Unlimited' })[1]!);
    await user.click(screen.getByRole('button', { name: 'Set the contract' }));
    expect(await screen.findByTestId('contract-saved')).toBeInTheDocument();
    expect(api.calls('PUT', /contract$/)[1]!.body).toEqual({
      plan_code: 'gold',
      timezone: 'Europe/Paris',
      overrides: { daily_limit: 3, monthly_limit: null },
    });
    expect(await screen.findByTestId('effective-daily')).toHaveTextContent('3');
  });

  it('issues a key shown once with a warning and a copy button, then forgets it', async () => {
    fakeAdmin({ accounts: [acme], contracts: [contractFor(acme)] });
    const user = userEvent.setup(); // installs a clipboard stub on navigator
    const writeText = vi.spyOn(navigator.clipboard, 'writeText');
    const { queryClient } = renderConsole({ hash: '#/accounts/1' });
    await user.type(await screen.findByLabelText('Label'), 'production');
    await user.click(screen.getByRole('button', { name: 'Issue a key' }));
    const panel = await screen.findByTestId('new-key');
    expect(within(panel).getByRole('heading', { name: 'New key “production”' })).toHaveFocus();
    expect(panel).toHaveTextContent('it is shown this once and cannot be shown again');
    const key = (within(panel).getByTestId('new-key-value') as HTMLInputElement).value;
    expect(key).toMatch(/^sm_live_Key000000001_/);
    await user.click(within(panel).getByRole('button', { name: 'Copy the key' }));
    expect(writeText).toHaveBeenCalledWith(key);
    expect(within(panel).getByRole('status')).toHaveTextContent('The key is copied to the clipboard.');
    // the key is held by the panel only, not by the query or mutation caches
    await act(() => new Promise((r) => setTimeout(r, 10)));
    expect(JSON.stringify(queryClient.getMutationCache().getAll().map((m) => m.state.data))).not.toContain(key);
    expect(JSON.stringify(queryClient.getQueryCache().getAll().map((q) => q.state.data))).not.toContain(key);
    expect(await screen.findByTestId('key-row-Key000000001')).toHaveTextContent('production');
    await user.click(within(panel).getByRole('button', { name: 'I have stored it' }));
    expect(screen.queryByTestId('new-key')).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain(key);
  });

  it('rotates with the chosen grace period and revokes after a confirmation', async () => {
    const api = fakeAdmin({ accounts: [acme], contracts: [contractFor(acme)] });
    const user = userEvent.setup();
    renderConsole({ hash: '#/accounts/1' });
    await user.click(await screen.findByRole('button', { name: 'Issue a key' }));
    await user.click(await screen.findByRole('button', { name: 'I have stored it' }));

    await user.click(await screen.findByRole('button', { name: 'Rotate key Key000000001' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Rotate key Key000000001?' });
    const grace = within(dialog).getByLabelText('The old key keeps working');
    expect(grace).toHaveDisplayValue('For 1 day');
    await user.selectOptions(grace, 'For 1 hour');
    await user.click(within(dialog).getByRole('button', { name: 'Rotate' }));
    expect(await screen.findByTestId('rotated-previous')).toHaveTextContent('The previous key Key000000001 keeps working until');
    expect(api.calls('POST', /rotate$/)[0]!.body).toEqual({ grace_seconds: 3600 });
    await user.click(screen.getByRole('button', { name: 'I have stored it' }));

    await user.click(await screen.findByRole('button', { name: 'Revoke key Key000000002' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Revoke key Key000000002?' });
    expect(confirm).toHaveTextContent('This cannot be undone.');
    await user.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(api.calls('DELETE', /credentials/)).toHaveLength(0);
    await user.click(screen.getByRole('button', { name: 'Revoke key Key000000002' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(within(screen.getByTestId('key-row-Key000000002')).getByText('Revoked')).toBeInTheDocument());
    expect(api.calls('DELETE', /credentials\/Key000000002$/)).toHaveLength(1);
  });
});

describe('plans', () => {
  it('lists, creates (checking the code first) and edits plans', async () => {
    const api = fakeAdmin({ plans: [plan()] });
    const user = userEvent.setup();
    renderConsole({ hash: '#/plans' });
    const row = await screen.findByTestId('plan-row-gold');
    expect(row).toHaveTextContent('Gold');
    expect(screen.getByTestId('plans-count')).toHaveTextContent('1 plan.');

    await user.click(screen.getByRole('button', { name: 'New plan' }));
    const form = screen.getByTestId('plan-form');
    await user.type(within(form).getByLabelText('Code'), 'Bad Code');
    await user.type(within(form).getByLabelText('Name'), 'Silver');
    await user.click(within(form).getByRole('button', { name: 'Create the plan' }));
    expect(within(form).getByTestId('plan-code-error')).toHaveTextContent('1 to 64 of a-z');
    await user.clear(within(form).getByLabelText('Code'));
    await user.type(within(form).getByLabelText('Code'), 'gold');
    await user.click(within(form).getByRole('button', { name: 'Create the plan' }));
    expect(await within(form).findByTestId('plan-code-error')).toHaveTextContent('A plan with the code “gold” already exists.');
    await user.clear(within(form).getByLabelText('Code'));
    await user.type(within(form).getByLabelText('Code'), 'silver');
    await user.type(within(form).getByLabelText('Daily limit'), '1000');
    await user.click(within(form).getByRole('button', { name: 'Create the plan' }));
    expect(await screen.findByTestId('plan-saved')).toHaveTextContent('Plan “Silver” created.');
    expect(api.calls('POST', /plans$/).at(-1)!.body).toMatchObject({ code: 'silver', name: 'Silver', daily_limit: 1000, monthly_limit: null });
    expect(await screen.findByTestId('plan-row-silver')).toBeInTheDocument();
    expect(screen.getByTestId('plans-count')).toHaveTextContent('2 plans.');

    await user.click(screen.getByRole('button', { name: 'Edit Gold' }));
    const edit = screen.getByTestId('plan-form');
    expect(within(edit).getByLabelText('Code')).toHaveAttribute('readonly');
    await user.clear(within(edit).getByLabelText('Daily limit'));
    await user.type(within(edit).getByLabelText('Daily limit'), '7');
    await user.click(within(edit).getByRole('button', { name: 'Save the plan' }));
    expect(await screen.findByTestId('plan-saved')).toHaveTextContent('Plan “Gold” saved');
    const patch = api.calls('PATCH', /plans\/gold$/)[0]!.body as Record<string, unknown>;
    expect(patch['daily_limit']).toBe(7);
    expect(patch).not.toHaveProperty('code');
  });
});

describe('audit', () => {
  it('lists events newest first, filters by account and action, and shows the server’s verification valid', async () => {
    const api = fakeAdmin({
      audit: auditChain([
        { action: 'plan.create', target: 'plan:gold' },
        { action: 'account.create', account_id: 1 },
        { action: 'account.suspend', account_id: 1 },
      ]),
    });
    const user = userEvent.setup();
    renderConsole({ hash: '#/audit' });
    const result = await screen.findByTestId('chain-result');
    expect(result).toHaveAttribute('data-valid', 'true');
    expect(result).toHaveTextContent('Valid: 3 events checked, each one’s hash recomputed by the server.');
    const rows = await screen.findAllByTestId('audit-row');
    expect(rows.map((r) => r.getAttribute('data-action'))).toEqual(['account.suspend', 'account.create', 'plan.create']);
    expect(rows[0]).toHaveTextContent('Account suspended');
    expect(rows.some((r) => r.hasAttribute('data-broken'))).toBe(false);
    // the server verifies; the trail is read once, for the list
    expect(api.calls('GET', /^\/v1\/admin\/audit\/verify$/)[0]!.headers['Authorization']).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(api.calls('GET', /^\/v1\/admin\/audit$/)).toHaveLength(1);
    expect(screen.queryByText(/cannot|impossible/i)).toBeNull();

    await user.type(screen.getByLabelText('Account ID'), '1');
    await user.selectOptions(screen.getByLabelText('Action'), 'account.create');
    await user.click(screen.getByRole('button', { name: 'Filter' }));
    await waitFor(() => expect(screen.getAllByTestId('audit-row')).toHaveLength(1));
    const last = api.calls('GET', /^\/v1\/admin\/audit$/).at(-1)!.url.searchParams;
    expect(last.get('account_id')).toBe('1');
    expect(last.get('action')).toBe('account.create');
    expect(screen.getByTestId('audit-count')).toHaveTextContent('1 event.');
  });

  it('names the first altered event with the server’s reason, and shows it in the list', async () => {
    const events = auditChain(Array.from({ length: 30 }, () => ({ action: 'account.create' })));
    const api = fakeAdmin({ audit: events });
    api.state.audit[1]!.details = { after: { status: 'suspended' } }; // the row changed after it was hashed
    const user = userEvent.setup();
    renderConsole({ hash: '#/audit' });
    const r = await screen.findByTestId('chain-result');
    expect(r).toHaveAttribute('data-valid', 'false');
    expect(r).toHaveAttribute('data-broken-seq', '2');
    expect(r).toHaveTextContent('Broken at event #2: the chain does not hold from there on.');
    expect(within(r).getByTestId('chain-reason')).toHaveTextContent(
      'The server’s reason: its content does not match its hash (the row was altered)',
    );
    expect(r).toHaveTextContent('2 events checked.');

    // newest first, 25 a page: event 2 is on the second page until asked for
    await screen.findAllByTestId('audit-row');
    expect(screen.queryByText('Broken here')).toBeNull();
    await user.click(within(r).getByRole('button', { name: 'Show event #2 in the list' }));
    const row = await screen.findByRole('row', { name: /Broken here/ });
    expect(row).toHaveAttribute('data-broken', 'true');
    expect(within(row).getByRole('rowheader')).toHaveTextContent('2 Broken here');
    expect(row).toHaveFocus();
  });

  it('says so when the first broken event is not in the list', async () => {
    const events = auditChain([{ action: 'plan.create' }, { action: 'account.create' }, { action: 'contract.put' }]);
    fakeAdmin({ audit: [events[0]!, events[2]!] });
    renderConsole({ hash: '#/audit' });
    const r = await screen.findByTestId('chain-result');
    expect(r).toHaveAttribute('data-valid', 'false');
    expect(r).toHaveTextContent('Broken at event #2');
    expect(within(r).getByTestId('chain-reason')).toHaveTextContent('expected event 2, found 3: events are missing');
    await screen.findAllByTestId('audit-row');
    expect(r).toHaveTextContent('Event #2 is not among the events listed below.');
    expect(within(r).queryByRole('button')).toBeNull();
  });

  it('shows a failed verification as an error with a retry, and the list still', async () => {
    const api = fakeAdmin({ audit: auditChain([{ action: 'plan.create' }]) });
    let down = true;
    api.on('GET', /^\/v1\/admin\/audit\/verify$/, () =>
      down ? apiError(503, 'service_unavailable', 'The store is unavailable.') : undefined,
    );
    const user = userEvent.setup();
    renderConsole({ hash: '#/audit' });
    const chain = screen.getByTestId('audit-chain');
    expect(await within(chain).findByTestId('error-code')).toHaveTextContent('service_unavailable');
    expect(screen.queryByTestId('chain-result')).toBeNull();
    expect(await screen.findAllByTestId('audit-row')).toHaveLength(1);
    down = false;
    await user.click(within(chain).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('chain-result')).toHaveTextContent('Valid: 1 event checked, its hash recomputed by the server.');
  });

  it('says it in French, the server’s reason quoted in English', async () => {
    const api = fakeAdmin({ audit: auditChain([{ action: 'plan.create' }, { action: 'account.create' }]) });
    api.state.audit[0]!.target = 'plan:silver';
    const user = userEvent.setup();
    renderConsole({ hash: '#/audit' });
    await screen.findByTestId('chain-result');
    await user.selectOptions(screen.getByLabelText('Language'), 'fr');
    const r = await screen.findByTestId('chain-result');
    expect(r).toHaveTextContent('Rompue à l’événement n° 1 : la chaîne ne tient plus à partir de là.');
    expect(r).toHaveTextContent('1 événement vérifié.');
    const reason = within(r).getByTestId('chain-reason');
    expect(reason).toHaveTextContent('Raison donnée par le serveur (en anglais) : its content does not match its hash');
    expect(reason.querySelector('q')).toHaveAttribute('lang', 'en');
    await user.click(within(r).getByRole('button', { name: 'Afficher l’événement n° 1 dans la liste' }));
    expect(await screen.findByRole('row', { name: /Rupture ici/ })).toHaveFocus();
  });

  it('shows an empty trail as valid', async () => {
    fakeAdmin();
    renderConsole({ hash: '#/audit' });
    expect(await screen.findByTestId('chain-result')).toHaveTextContent('Valid: the trail holds no event yet.');
  });
});
