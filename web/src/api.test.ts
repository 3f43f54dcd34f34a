// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it, vi } from 'vitest';
import { ApiError, fetchHistory, fetchSummary, type Caller } from './api';
import { API_KEY, apiError, mockFetch, ok, summary } from './test/fixtures';

const CUSTOMER: Caller = { role: 'customer', apiKey: API_KEY };

describe('api client', () => {
  it('sends the key in the X-API-Key header only, to a relative URL', async () => {
    const fetchFn = mockFetch({ summary: ok(summary()) });
    const s = await fetchSummary(CUSTOMER);
    expect(s.account.name).toBe('Acme Corp');
    const [url, init] = fetchFn.mock.calls[0]!;
    expect(url).toBe('/v1/b2b/usage/summary');
    expect(String(url)).not.toContain(API_KEY);
    expect((init?.headers as Record<string, string>)['X-API-Key']).toBe(API_KEY);
    expect(init?.credentials).toBe('omit');
  });

  it('asks the history for a date range', async () => {
    const fetchFn = mockFetch({ history: ok({ days: [], totals: {} }) });
    await fetchHistory(CUSTOMER, { from: '2026-10-26', to: '2026-11-24' });
    expect(fetchFn.mock.calls[0]![0]).toBe('/v1/b2b/usage/history?from=2026-10-26&to=2026-11-24');
  });

  it('turns the error envelope into an ApiError with code, message, details and request_id', async () => {
    mockFetch({
      summary: apiError(429, 'rate_limited', 'Too many calls.', {
        requestId: 'rid-429',
        details: { scope: 'credential', retry_after_seconds: 3 },
        headers: { 'Retry-After': '4' },
      }),
    });
    const err = await fetchSummary(CUSTOMER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limited');
    expect(e.message).toBe('Too many calls.');
    expect(e.requestId).toBe('rid-429');
    expect(e.details['scope']).toBe('credential');
    expect(e.retryAfterSeconds).toBe(4); // the header wins over details
  });

  it('falls back to details.retry_after_seconds without a Retry-After header', async () => {
    mockFetch({ summary: apiError(429, 'rate_limited', 'Slow down.', { details: { retry_after_seconds: 9 } }) });
    const e = (await fetchSummary(CUSTOMER).catch((x: unknown) => x)) as ApiError;
    expect(e.retryAfterSeconds).toBe(9);
  });

  it('reports a body that is not the envelope as unexpected_response with the header request id', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502, headers: { 'X-Request-Id': 'rid-502' } })),
    );
    const e = (await fetchSummary(CUSTOMER).catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('unexpected_response');
    expect(e.status).toBe(502);
    expect(e.requestId).toBe('rid-502');
  });

  it('reports a network failure as network_error', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const e = (await fetchSummary(CUSTOMER).catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('network_error');
    expect(e.status).toBe(0);
  });
});
