// SPDX-License-Identifier: AGPL-3.0-or-later
import { focusManager } from '@tanstack/react-query';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { SESSION_KEY } from './auth';
import { createQueryClient, REFRESH_MS } from './queryClient';
import { API_KEY, apiError, callsTo, emptySummary, history, mockFetch, ok, period, summary } from './test/fixtures';

function renderApp({ signedIn = true } = {}) {
  if (signedIn) window.sessionStorage.setItem(SESSION_KEY, API_KEY);
  const queryClient = createQueryClient({ retry: false });
  const utils = render(<App queryClient={queryClient} />);
  return { ...utils, queryClient };
}

const card = (testId: string) => within(screen.getByTestId(testId));

describe('usage view', () => {
  it('lists the usage alerts the server raised, newest first, and says when there are none', async () => {
    mockFetch({
      summary: ok(summary()),
      history: ok(history()),
      alerts: ok({
        thresholds: [80, 100],
        alerts: [
          { period: 'month', period_start: '2026-11-01', current: true, threshold: 80, used: 16000, limit: 20000, at: '2026-11-24T10:00:00Z' },
          { period: 'day', period_start: '2026-11-23', current: false, threshold: 100, used: 1000, limit: 1000, at: '2026-11-23T18:30:00Z' },
        ],
      }),
    });
    renderApp();
    const items = await within(await screen.findByTestId('alerts')).findAllByTestId('alert');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('80% of the monthly limit reached');
    expect(items[0]).toHaveTextContent('16,000 of 20,000 calls');
    expect(items[1]).toHaveTextContent('100% of the daily limit reached (previous period)');
  });

  it('names the thresholds while none is reached, and says when alerts are off', async () => {
    mockFetch({ summary: ok(summary()), history: ok(history()) });
    const { unmount } = renderApp();
    expect(await screen.findByTestId('alerts-empty')).toHaveTextContent('You are alerted at 80%, 100% of each limit.');
    unmount();
    mockFetch({ summary: ok(summary()), history: ok(history()), alerts: ok({ thresholds: [], alerts: [] }) });
    renderApp();
    expect(await screen.findByTestId('alerts-empty')).toHaveTextContent('Alerts are turned off for this contract.');
  });

  it('shows skeletons while the first answer is awaited', () => {
    mockFetch({ summary: () => new Promise<Response>(() => {}) });
    renderApp();
    expect(screen.getByTestId('usage-skeleton')).toHaveAttribute('aria-busy', 'true');
    expect(screen.getByRole('status')).toHaveTextContent('Loading usage…');
  });

  it('shows used, limit, remaining and overage for today and the month, formatted for the locale', async () => {
    mockFetch({ summary: ok(summary()), history: ok(history()) });
    renderApp();
    expect(await screen.findByTestId('daily-used')).toHaveTextContent('120');
    expect(screen.getByTestId('daily-limit')).toHaveTextContent('1,000');
    expect(screen.getByTestId('daily-remaining')).toHaveTextContent('880');
    expect(screen.getByTestId('daily-overage')).toHaveTextContent('0');
    expect(screen.getByTestId('monthly-used')).toHaveTextContent('12,345');
    expect(screen.getByTestId('monthly-limit')).toHaveTextContent('20,000');
    expect(screen.getByTestId('monthly-remaining')).toHaveTextContent('7,655');
    expect(screen.getByRole('heading', { level: 2, name: 'Acme Corp' })).toBeInTheDocument();
    expect(screen.getByTestId('plan-name')).toHaveTextContent('Gold (gold)');
    expect(screen.getByTestId('plan-mode')).toHaveTextContent('Calls are refused (block mode)');
    expect(screen.getByTestId('cumulative')).toHaveTextContent('45,678');

    const today = screen.getByRole('progressbar', { name: 'Today: usage of the limit' });
    expect(today).toHaveAttribute('aria-valuenow', '120');
    expect(today).toHaveAttribute('aria-valuemin', '0');
    expect(today).toHaveAttribute('aria-valuemax', '1000');
    expect(today).toHaveAttribute('aria-valuetext', '120 of 1,000 calls (12%) — Within limit');
    expect(today).toHaveAttribute('data-level', 'ok');
  });

  it('shows the reset time in the contract time zone', async () => {
    const s = summary({ timezone: 'Europe/Paris' });
    s.daily = period({ used: 1, resets_at: '2026-11-24T23:00:00Z' });
    mockFetch({ summary: ok(s), history: ok(history()) });
    renderApp();
    // 23:00 UTC is midnight in Paris (UTC+1 in November)
    await screen.findByTestId('daily');
    expect(card('daily').getByText(/Resets Nov 25, 2026, 12:00 AM GMT\+1/)).toBeInTheDocument();
  });

  it('turns the gauge to "warning" at 80% with a text label', async () => {
    const s = summary();
    s.daily = period({ used: 800, limit: 1000 });
    mockFetch({ summary: ok(s), history: ok(history()) });
    renderApp();
    const bar = await screen.findByRole('progressbar', { name: /Today/ });
    expect(bar).toHaveAttribute('data-level', 'warning');
    expect(card('daily').getByTestId('gauge-status')).toHaveTextContent('Nearing the limit · 80%');
    expect(card('daily').getByText('80% or more of the limit is used.')).toBeInTheDocument();
    // just under the threshold stays ok
    expect(screen.getByRole('progressbar', { name: /This month/ })).toHaveAttribute('data-level', 'ok');
  });

  it('turns the gauge to "danger" at 100% and explains block mode', async () => {
    const s = summary();
    s.daily = period({ used: 1000, limit: 1000, remaining: 0, blocked: 3 });
    mockFetch({ summary: ok(s), history: ok(history()) });
    renderApp();
    const bar = await screen.findByRole('progressbar', { name: /Today/ });
    expect(bar).toHaveAttribute('data-level', 'danger');
    expect(card('daily').getByTestId('gauge-status')).toHaveTextContent('Limit reached · 100%');
    expect(card('daily').getByTestId('daily-remaining')).toHaveTextContent('0');
    expect(card('daily').getByTestId('daily-blocked')).toHaveTextContent('3');
    expect(card('daily').getByText(/New calls are refused \(HTTP 429\) until the limit resets/)).toBeInTheDocument();
  });

  it('shows overage in overage mode, past the limit', async () => {
    const s = summary({ mode: 'overage', overage_cap: 500 });
    s.daily = period({ used: 1200, limit: 1000, remaining: 0, overage: 200 });
    s.credentials[0]!.daily = { used: 1200, overage: 200, blocked: 0 };
    mockFetch({ summary: ok(s), history: ok(history()) });
    renderApp();
    expect(await screen.findByTestId('daily-overage')).toHaveTextContent('200');
    expect(screen.getByTestId('daily-used')).toHaveTextContent('1,200');
    expect(screen.getByTestId('plan-mode')).toHaveTextContent('Calls continue as overage');
    expect(screen.getByTestId('overage-cap')).toHaveTextContent('500');
    const bar = screen.getByRole('progressbar', { name: /Today/ });
    expect(bar).toHaveAttribute('data-level', 'danger');
    expect(bar).toHaveAttribute('aria-valuenow', '1000'); // clamped to the maximum...
    expect(bar).toHaveAttribute('aria-valuetext', expect.stringContaining('1,200 of 1,000 calls (120%)')); // ...the text tells all
    expect(card('daily').getByTestId('gauge-status')).toHaveTextContent('Over the limit');
    expect(card('daily').getByText(/New calls are served as overage/)).toBeInTheDocument();
    expect(within(screen.getByTestId('credentials-table')).getByText('overage: 200')).toBeInTheDocument();
  });

  it('shows an unlimited period without a gauge', async () => {
    const s = summary();
    s.monthly = period({ used: 5, limit: null, remaining: null });
    mockFetch({ summary: ok(s), history: ok(history()) });
    renderApp();
    expect(await screen.findByTestId('monthly-limit')).toHaveTextContent('Unlimited');
    expect(screen.getByTestId('monthly-remaining')).toHaveTextContent('Unlimited');
    expect(screen.queryByRole('progressbar', { name: /This month/ })).not.toBeInTheDocument();
  });

  it('lists the credentials with status, today, month and last use', async () => {
    mockFetch({ summary: ok(summary()), history: ok(history()) });
    renderApp();
    const table = await screen.findByTestId('credentials-table');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toHaveTextContent('AbCdEf123456');
    expect(rows[1]).toHaveTextContent('production');
    expect(rows[1]).toHaveTextContent('Active');
    expect(rows[1]).toHaveTextContent('12,345');
    expect(rows[1]).toHaveTextContent('Nov 24, 2026, 09:30 AM UTC');
    expect(rows[2]).toHaveTextContent('Revoked');
    expect(rows[2]).toHaveTextContent('Never');
  });

  it('draws the 30-day history with a text summary and a table alternative', async () => {
    const fetchFn = mockFetch({
      summary: ok(summary()),
      history: ok(history('2026-11-24', (i) => ({ requests: i === 29 ? 1500 : 10, overage: 0, blocked: i === 29 ? 2 : 0 }))),
    });
    renderApp();
    const table = await screen.findByTestId('history-table');
    expect(within(table).getAllByRole('row')).toHaveLength(32); // header, 30 days, total
    expect(within(table).getByRole('rowheader', { name: 'November 24, 2026' }).closest('tr')).toHaveTextContent('1,500');
    expect(screen.getByTestId('history-summary')).toHaveTextContent(
      'From October 26, 2026 to November 24, 2026. Calls served: 1,790 (as overage: 0). Refused: 2. Busiest day: November 24, 2026 (1,502).',
    );
    expect(screen.getByRole('img', { name: /Bar chart of calls per day/ })).toBeInTheDocument();
    expect(callsTo(fetchFn, '/v1/b2b/usage/history')[0]![0]).toBe('/v1/b2b/usage/history?from=2026-10-26&to=2026-11-24');
  });

  it('says so for a new account and shows a first call with the key masked', async () => {
    mockFetch({ summary: ok(emptySummary()), history: ok(history('2026-11-24', () => ({ requests: 0, overage: 0, blocked: 0 }))) });
    renderApp();
    const empty = await screen.findByTestId('empty-state');
    expect(within(empty).getByRole('heading', { name: 'No calls yet' })).toBeInTheDocument();
    const cmd = within(empty).getByTestId('first-call').textContent ?? '';
    expect(cmd).toContain('curl -H "X-API-Key: sm_live_AbCdEf123456_••••••••"');
    expect(cmd).toContain(`${window.location.origin}/v1/b2b/astrology/weekly-by-sign?sign=aries`);
    expect(document.body.textContent).not.toContain('s3cr3t');
    expect(await screen.findByText('No calls in this period.')).toBeInTheDocument();
  });
});

describe('errors', () => {
  it('shows a standardized error with its message, code and request_id', async () => {
    mockFetch({
      summary: apiError(503, 'store_unavailable', 'The store cannot be reached.', { requestId: '01a20cc5-dead-beef' }),
    });
    renderApp();
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The service is temporarily unavailable.');
    expect(within(alert).getByTestId('error-message')).toHaveTextContent('The store cannot be reached.');
    expect(within(alert).getByTestId('error-code')).toHaveTextContent('store_unavailable');
    expect(alert).toHaveTextContent('HTTP 503');
    expect(within(alert).getByTestId('error-request-id')).toHaveTextContent('01a20cc5-dead-beef');
    expect(alert).toHaveTextContent('If you contact support, quote the request ID.');
  });

  it('retries on demand after an error', async () => {
    let n = 0;
    mockFetch({
      summary: () => (++n === 1 ? apiError(500, 'internal_error', 'Internal error.') : ok(summary())),
      history: ok(history()),
    });
    renderApp();
    await userEvent.click(await screen.findByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('daily-used')).toHaveTextContent('120');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('sends a refused key (401) back to sign-in with the reason, and forgets it', async () => {
    mockFetch({ summary: apiError(401, 'revoked_api_key', 'The API key is revoked.', { requestId: 'rid-401' }) });
    const { queryClient } = renderApp();
    expect(await screen.findByTestId('session-ended')).toHaveTextContent('Your key was refused');
    expect(screen.getByLabelText('API key', { selector: 'input' })).toBeInTheDocument();
    expect(screen.getByTestId('error-code')).toHaveTextContent('revoked_api_key');
    expect(screen.getByTestId('error-message')).toHaveTextContent('The API key is revoked.');
    expect(screen.getByTestId('error-request-id')).toHaveTextContent('rid-401');
    expect(window.sessionStorage.getItem(SESSION_KEY)).toBeNull();
    expect(queryClient.getQueryCache().getAll()).toHaveLength(0);
    expect(screen.queryByRole('button', { name: 'Sign out' })).not.toBeInTheDocument();
  });

  it('shows when to retry after a 429 (Retry-After)', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true, now: new Date('2026-11-24T10:00:00Z') });
    mockFetch({
      summary: apiError(429, 'rate_limited', 'Rate limit of the credential reached.', {
        requestId: 'rid-429',
        details: { scope: 'credential', limit: 40, window_seconds: 2, retry_after_seconds: 7 },
        headers: { 'Retry-After': '7' },
      }),
    });
    renderApp();
    const retry = await screen.findByTestId('error-retry');
    expect(retry).toHaveTextContent(/Too many requests\. You can try again in 7 seconds \(at \d\d:\d\d:\d\d [AP]M\)\./);
    expect(screen.getByTestId('error-code')).toHaveTextContent('rate_limited');
    expect(screen.getByTestId('error-request-id')).toHaveTextContent('rid-429');
  });

  it('keeps the figures and shows the error when a refresh fails', async () => {
    let n = 0;
    mockFetch({
      summary: () => (++n === 1 ? ok(summary()) : apiError(503, 'store_unavailable', 'Store down.', { requestId: 'rid-503' })),
      history: ok(history()),
    });
    renderApp();
    expect(await screen.findByTestId('daily-used')).toHaveTextContent('120');
    await screen.findByTestId('history-table');
    await userEvent.click(await screen.findByRole('button', { name: 'Refresh' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('rid-503');
    expect(alert).toHaveTextContent('The figures below may be out of date.');
    expect(screen.getByTestId('daily-used')).toHaveTextContent('120');
  });
});

describe('sign-in and sign-out', () => {
  it('signs in with a key kept in sessionStorage only, never localStorage nor the URL', async () => {
    const setItem = vi.spyOn(Storage.prototype, 'setItem');
    const fetchFn = mockFetch({ summary: ok(summary()), history: ok(history()) });
    const user = userEvent.setup();
    renderApp({ signedIn: false });

    const input = screen.getByLabelText('API key', { selector: 'input' });
    expect(input).toHaveAttribute('type', 'password');
    expect(input).not.toHaveAttribute('name');
    await user.type(input, API_KEY);
    await user.keyboard('{Enter}');

    expect(await screen.findByTestId('daily-used')).toHaveTextContent('120');
    expect(window.sessionStorage.getItem(SESSION_KEY)).toBe(API_KEY);
    expect(window.localStorage.length).toBe(0);
    const localWrites = setItem.mock.contexts.filter((ctx) => ctx === window.localStorage);
    expect(localWrites).toHaveLength(0);
    for (const [url, init] of fetchFn.mock.calls) {
      expect(String(url)).not.toContain(API_KEY);
      expect((init?.headers as Record<string, string>)['X-API-Key']).toBe(API_KEY);
    }
    expect(window.location.href).not.toContain(API_KEY);
  });

  it('refuses an empty key with a message', async () => {
    const fetchFn = mockFetch({});
    renderApp({ signedIn: false });
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Enter an API key.');
    expect(screen.getByLabelText('API key', { selector: 'input' })).toHaveAttribute('aria-invalid', 'true');
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it('sign-out forgets the key and clears the query cache', async () => {
    mockFetch({ summary: ok(summary()), history: ok(history()) });
    const { queryClient } = renderApp();
    await screen.findByTestId('daily-used');
    expect(queryClient.getQueryCache().getAll().length).toBeGreaterThan(0);
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByTestId('signed-out')).toHaveTextContent('You are signed out.');
    expect(window.sessionStorage.getItem(SESSION_KEY)).toBeNull();
    expect(window.localStorage.length).toBe(0);
    expect(queryClient.getQueryCache().getAll()).toHaveLength(0);
    expect(screen.queryByText('Acme Corp')).not.toBeInTheDocument();
  });
});

describe('refresh', () => {
  it('refetches every 30 seconds and on window focus', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const fetchFn = mockFetch({ summary: ok(summary()), history: ok(history()) });
    renderApp();
    await screen.findByTestId('daily-used');
    const before = callsTo(fetchFn, '/v1/b2b/usage/summary').length;

    await act(() => vi.advanceTimersByTimeAsync(REFRESH_MS + 100));
    await waitFor(() => expect(callsTo(fetchFn, '/v1/b2b/usage/summary').length).toBe(before + 1));

    act(() => {
      focusManager.setFocused(false);
      focusManager.setFocused(true);
    });
    await waitFor(() => expect(callsTo(fetchFn, '/v1/b2b/usage/summary').length).toBe(before + 2));
    focusManager.setFocused(undefined);
  });
});

describe('language', () => {
  it('defaults to the browser language and switches between French and English', async () => {
    vi.spyOn(window.navigator, 'languages', 'get').mockReturnValue(['fr-FR', 'fr']);
    vi.spyOn(window.navigator, 'language', 'get').mockReturnValue('fr-FR');
    mockFetch({ summary: ok(summary()), history: ok(history()) });
    renderApp();
    expect(await screen.findByRole('heading', { level: 2, name: 'Aujourd’hui' })).toBeInTheDocument();
    // French grouping uses a narrow no-break space
    expect(screen.getByTestId('monthly-used').textContent).toBe('12\u202f345');
    expect(document.documentElement.lang).toBe('fr');

    await userEvent.selectOptions(screen.getByLabelText('Langue'), 'en');
    expect(await screen.findByRole('heading', { level: 2, name: 'Today' })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe('en');
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeInTheDocument();
  });
});
