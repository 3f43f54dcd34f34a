// SPDX-License-Identifier: AGPL-3.0-or-later
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { dispositionFilename } from '../api';
import { SESSION_KEY } from '../auth';
import { makeI18n } from '../i18n';
import { createQueryClient } from '../queryClient';
import { API_KEY, apiError, history, ok, summary } from '../test/fixtures';

const CSV = 'date,key_id,label,requests,overage,blocked\r\n2026-11-24,AbCdEf123456,"\'=x",3,0,0\r\n';

/** Summary and history as usual; the export answers `exportAnswer`. */
function mockApi(exportAnswer: () => Response) {
  const fn = vi.fn(async (input: RequestInfo | URL, _init?: RequestInit) => {
    const url = String(input);
    if (url.startsWith('/v1/b2b/usage/summary')) return ok(summary());
    if (url.startsWith('/v1/b2b/usage/history')) return ok(history());
    if (url.startsWith('/v1/b2b/usage/export')) return exportAnswer();
    return apiError(404, 'not_found', 'No such resource.');
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

function renderApp() {
  window.sessionStorage.setItem(SESSION_KEY, API_KEY);
  return render(<App queryClient={createQueryClient({ retry: false })} />);
}

describe('Download CSV', () => {
  const saved: { href: string; download: string }[] = [];
  let blobs: Blob[];
  beforeEach(() => {
    saved.length = 0;
    blobs = [];
    // jsdom has no object URLs and does not navigate on a click: both are watched instead.
    URL.createObjectURL = vi.fn((b: Blob) => {
      blobs.push(b);
      return `blob:test/${blobs.length}`;
    });
    URL.revokeObjectURL = vi.fn();
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push({ href: this.href, download: this.download });
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('fetches the chart’s range with the key in a header and saves it under the server’s file name', async () => {
    const fn = mockApi(
      () =>
        new Response(CSV, {
          status: 200,
          headers: {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition': 'attachment; filename="starmeter-usage-2026-10-26-2026-11-24.csv"',
          },
        }),
    );
    renderApp();
    const button = await screen.findByRole('button', { name: /Download the calls from .* as a CSV file/ });
    expect(button).toHaveTextContent('Download CSV');
    // Beside the chart: in the card whose title is the chart's.
    const chartCard = screen.getByRole('heading', { name: 'Last 30 days' }).closest('section')!;
    expect(within(chartCard).getByTestId('download-csv')).toBe(button);

    await userEvent.click(button);
    await waitFor(() => expect(saved).toHaveLength(1));
    const call = fn.mock.calls.find(([u]) => String(u).startsWith('/v1/b2b/usage/export'))!;
    expect(call[0]).toBe('/v1/b2b/usage/export?from=2026-10-26&to=2026-11-24&format=csv');
    expect(String(call[0])).not.toContain(API_KEY);
    expect((call[1]?.headers as Record<string, string>)['X-API-Key']).toBe(API_KEY);
    expect(call[1]?.credentials).toBe('omit');
    expect(saved[0]).toEqual({ href: 'blob:test/1', download: 'starmeter-usage-2026-10-26-2026-11-24.csv' });
    expect(await blobs[0]!.text()).toBe(CSV);
    await waitFor(() => expect(URL.revokeObjectURL).toHaveBeenCalledWith('blob:test/1'));
    expect(button).toHaveTextContent('Download CSV');
  });

  it('shows the server’s error and saves nothing when the export is refused', async () => {
    mockApi(() => apiError(429, 'rate_limited', 'Too many calls.', { headers: { 'Retry-After': '2' } }));
    renderApp();
    await userEvent.click(await screen.findByTestId('download-csv'));
    expect(await screen.findByText(/Too many calls\./)).toBeInTheDocument();
    expect(saved).toHaveLength(0);
  });

  it('takes only a plain file name from Content-Disposition', () => {
    expect(dispositionFilename('attachment; filename="starmeter-usage-2026-11.csv"')).toBe('starmeter-usage-2026-11.csv');
    expect(dispositionFilename('attachment; filename="../../etc/passwd"')).toBeNull();
    expect(dispositionFilename(null)).toBeNull();
  });

  it('speaks French too', () => {
    const fr = makeI18n('fr');
    expect(fr.t('downloadCsv')).toBe('Télécharger en CSV');
    expect(fr.t('downloading')).toBe('Téléchargement…');
    expect(fr.t('downloadCsvLabel', { from: 'a', to: 'b' })).toContain('CSV');
  });
});
