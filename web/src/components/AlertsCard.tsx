// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { useI18n } from '../i18n';
import { useUsageAlerts } from '../queries/usage';
import type { UsageTarget } from '../api';

/**
 * The usage.threshold alerts of the current and previous day and month, newest first, as the
 * server raised them (once per period and threshold). A card of its own: a failure here never
 * hides the figures.
 */
export function AlertsCard({ account, timeZone }: { account: UsageTarget; timeZone: string }) {
  const i18n = useI18n();
  const headingId = useId();
  const q = useUsageAlerts(account);
  const data = q.data;
  const list = (pcts: number[]) => pcts.map((p) => `${i18n.number(p)}%`).join(', ');
  return (
    <section className="card" aria-labelledby={headingId} data-testid="alerts">
      <h2 id={headingId}>{i18n.t('alertsTitle')}</h2>
      {!data ? (
        q.error ? (
          <p className="muted" data-testid="alerts-failed">
            {i18n.t('alertsFailed')}
          </p>
        ) : null
      ) : data.alerts.length === 0 ? (
        <p className="muted" data-testid="alerts-empty">
          {data.thresholds.length === 0
            ? i18n.t('alertsOff')
            : i18n.t('alertsNone', { thresholds: list(data.thresholds) })}
        </p>
      ) : (
        <ul className="alerts">
          {data.alerts.map((a) => (
            <li key={`${a.period}-${a.period_start}-${a.threshold}`} data-testid="alert" data-current={a.current}>
              <strong>
                {i18n.t(a.period === 'month' ? 'alertMonth' : 'alertDay', { threshold: i18n.number(a.threshold) })}
              </strong>
              {!a.current && <span className="muted"> ({i18n.t('alertPrevious')})</span>}
              <span className="muted">
                {' — '}
                {i18n.t('alertFigures', {
                  used: i18n.number(a.used),
                  limit: i18n.number(a.limit),
                  at: i18n.dateTime(a.at, timeZone),
                })}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
