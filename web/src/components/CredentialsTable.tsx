// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { useI18n } from '../i18n';
import type { CredentialUsage, Totals } from '../types';

function TotalsCell({ totals }: { totals: Totals }) {
  const i18n = useI18n();
  return (
    <>
      <span className="num">{i18n.number(totals.used)}</span>
      {totals.overage > 0 && (
        <span className="cell-note cell-note--warning">{i18n.t('withOverage', { n: i18n.number(totals.overage) })}</span>
      )}
      {totals.blocked > 0 && (
        <span className="cell-note cell-note--danger">{i18n.t('withBlocked', { n: i18n.number(totals.blocked) })}</span>
      )}
    </>
  );
}

export function CredentialsTable({ credentials, timeZone }: { credentials: CredentialUsage[]; timeZone: string }) {
  const i18n = useI18n();
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{i18n.t('credentialsTitle')}</h2>
      {credentials.length === 0 ? (
        <p>{i18n.t('noCredentials')}</p>
      ) : (
        // The wrapper scrolls on narrow screens; it is focusable so keyboards can scroll it too.
        // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex
        <div className="table-scroll" role="region" aria-labelledby={headingId} tabIndex={0}>
          <table className="table" data-testid="credentials-table">
            <caption className="visually-hidden">{i18n.t('credentialsCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{i18n.t('colKeyId')}</th>
                <th scope="col">{i18n.t('colLabel')}</th>
                <th scope="col">{i18n.t('colStatus')}</th>
                <th scope="col" className="num">
                  {i18n.t('colToday')}
                </th>
                <th scope="col" className="num">
                  {i18n.t('colMonth')}
                </th>
                <th scope="col">{i18n.t('colLastUsed')}</th>
              </tr>
            </thead>
            <tbody>
              {credentials.map((c) => (
                <tr key={c.key_id}>
                  <th scope="row">
                    <code>{c.key_id}</code>
                  </th>
                  <td>{c.label || '—'}</td>
                  <td>
                    <span className={`pill pill--${c.status}`}>
                      {i18n.tMaybe(`keyStatus_${c.status}`, c.status)}
                    </span>
                  </td>
                  <td className="num">
                    <TotalsCell totals={c.daily} />
                  </td>
                  <td className="num">
                    <TotalsCell totals={c.monthly} />
                  </td>
                  <td>{c.last_used_at ? i18n.dateTime(c.last_used_at, timeZone) : i18n.t('never')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
