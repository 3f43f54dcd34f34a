// SPDX-License-Identifier: AGPL-3.0-or-later
import { useState } from 'react';
import { ApiError, fetchUsageExport, NETWORK_ERROR, saveFile } from '../api';
import { useI18n } from '../i18n';
import { useSession } from '../session';
import { ErrorNotice } from './ErrorNotice';

/**
 * "Download CSV" for the chart's range: GET /v1/b2b/usage/export with the caller's key, saved
 * under the file name the server gives. Fetched rather than linked, since a link cannot carry the
 * X-API-Key header (and the key never goes into a URL).
 */
export function DownloadCsvButton({ range }: { range: { from: string; to: string } }) {
  const i18n = useI18n();
  const { caller } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);

  const download = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      saveFile(await fetchUsageExport(caller, range));
    } catch (e) {
      setError(e instanceof Error ? e : new ApiError({ status: 0, code: NETWORK_ERROR, message: String(e) }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="download">
      <button
        type="button"
        className="button button--secondary"
        onClick={() => void download()}
        aria-disabled={busy || undefined}
        aria-label={i18n.t('downloadCsvLabel', { from: i18n.day(range.from, 'long'), to: i18n.day(range.to, 'long') })}
        data-testid="download-csv"
      >
        {busy ? i18n.t('downloading') : i18n.t('downloadCsv')}
      </button>
      {error && <ErrorNotice error={error} onRetry={() => void download()} />}
    </div>
  );
}
