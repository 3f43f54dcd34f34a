// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { useI18n } from '../i18n';
import type { CredentialUsage, Totals } from '../types';
import { ScrollTable } from './ScrollTable';

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
        <ScrollTable
          labelledBy={headingId}
          testId="credentials-table"
          caption={i18n.t('credentialsCaption')}
          columns={[
            { key: 'keyId', label: i18n.t('colKeyId') },
            { key: 'label', label: i18n.t('colLabel') },
            { key: 'status', label: i18n.t('colStatus') },
            { key: 'today', label: i18n.t('colToday'), numeric: true },
            { key: 'month', label: i18n.t('colMonth'), numeric: true },
            { key: 'lastUsed', label: i18n.t('colLastUsed') },
          ]}
        >
          {credentials.map((c) => (
            <tr key={c.key_id}>
              <th scope="row">
                <code>{c.key_id}</code>
              </th>
              <td>{c.label || '—'}</td>
              <td>
                <span className={`pill pill--${c.status}`}>{i18n.tMaybe(`keyStatus_${c.status}`, c.status)}</span>
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
        </ScrollTable>
      )}
    </section>
  );
}
