// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId, useMemo, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useI18n } from '../i18n';
import type { UsageHistory } from '../types';
import { ScrollTable } from './ScrollTable';

// Blue, amber and purple: told apart by most colour-vision deficiencies, and the legend, the
// text summary and the table say the same without colour.
export const SERIES_COLORS = { within: '#1d4ed8', overage: '#b45309', blocked: '#7e22ce' } as const;

const SERIES_ORDER: Record<string, number> = { within: 0, overage: 1, blocked: 2 };
const bySeries = (item: { dataKey?: unknown }) => SERIES_ORDER[String(item.dataKey)] ?? 9;

/** `action`: shown beside the title (the customer's Download CSV). */
export default function HistoryChart({ history, action }: { history: UsageHistory; action?: ReactNode }) {
  const i18n = useI18n();
  const headingId = useId();
  const summaryId = useId();

  const rows = useMemo(
    () =>
      history.days.map((d) => ({
        date: d.date,
        label: i18n.day(d.date),
        within: Math.max(0, d.requests - d.overage),
        overage: d.overage,
        blocked: d.blocked,
      })),
    [history.days, i18n],
  );

  const totals = history.totals;
  const busiest = history.days.reduce<{ date: string; n: number } | null>((best, d) => {
    const n = d.requests + d.blocked;
    return n > 0 && (!best || n > best.n) ? { date: d.date, n } : best;
  }, null);
  const hasCalls = totals.requests + totals.blocked > 0;

  const summary = [
    i18n.t('historySummary', {
      from: i18n.day(history.from, 'long'),
      to: i18n.day(history.to, 'long'),
      requests: i18n.number(totals.requests),
      overage: i18n.number(totals.overage),
      blocked: i18n.number(totals.blocked),
    }),
    busiest ? i18n.t('historyBusiest', { date: i18n.day(busiest.date, 'long'), n: i18n.number(busiest.n) }) : '',
  ]
    .filter(Boolean)
    .join(' ');

  const fmt = (v: unknown) => (typeof v === 'number' ? i18n.number(v) : String(v));

  return (
    <section className="card" aria-labelledby={headingId}>
      <div className="card__head">
        <h2 id={headingId}>{i18n.t('historyTitle')}</h2>
        {action}
      </div>
      <p id={summaryId} data-testid="history-summary">
        {summary}
      </p>
      {hasCalls ? (
        <div
          className="chart"
          role="img"
          aria-label={i18n.t('historyChartLabel')}
          aria-describedby={summaryId}
          data-testid="history-chart"
        >
          <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: 640, height: 280 }}>
            <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer={false}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#d4d4d8" />
              <XAxis dataKey="label" tick={{ fontSize: 12, fill: '#3f3f46' }} interval="preserveStartEnd" minTickGap={12} />
              <YAxis allowDecimals={false} tickFormatter={fmt} tick={{ fontSize: 12, fill: '#3f3f46' }} width={56} />
              <Tooltip formatter={fmt} itemSorter={bySeries} cursor={{ fill: 'rgba(29, 78, 216, 0.08)' }} />
              <Legend itemSorter={bySeries} />
              <Bar dataKey="within" stackId="calls" name={i18n.t('series_within')} fill={SERIES_COLORS.within} isAnimationActive={false} />
              <Bar dataKey="overage" stackId="calls" name={i18n.t('series_overage')} fill={SERIES_COLORS.overage} isAnimationActive={false} />
              <Bar dataKey="blocked" stackId="calls" name={i18n.t('series_blocked')} fill={SERIES_COLORS.blocked} isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </div>
      ) : (
        <p className="muted">{i18n.t('historyNoCalls')}</p>
      )}
      <details className="history-table">
        <summary>{i18n.t('showTable')}</summary>
        <ScrollTable
          label={i18n.t('historyTitle')}
          testId="history-table"
          caption={summary}
          columns={[
            { key: 'date', label: i18n.t('colDate') },
            { key: 'requests', label: i18n.t('colRequests'), numeric: true },
            { key: 'overage', label: i18n.t('colOverage'), numeric: true },
            { key: 'blocked', label: i18n.t('colBlocked'), numeric: true },
          ]}
          footer={
            <tr>
              <th scope="row">{i18n.t('total')}</th>
              <td className="num">{i18n.number(totals.requests)}</td>
              <td className="num">{i18n.number(totals.overage)}</td>
              <td className="num">{i18n.number(totals.blocked)}</td>
            </tr>
          }
        >
          {[...history.days].reverse().map((d) => (
            <tr key={d.date}>
              <th scope="row">{i18n.day(d.date, 'long')}</th>
              <td className="num">{i18n.number(d.requests)}</td>
              <td className="num">{i18n.number(d.overage)}</td>
              <td className="num">{i18n.number(d.blocked)}</td>
            </tr>
          ))}
        </ScrollTable>
      </details>
    </section>
  );
}
