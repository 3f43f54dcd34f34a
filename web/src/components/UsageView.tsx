// SPDX-License-Identifier: AGPL-3.0-or-later
import { lazy, Suspense, useId, type ReactNode } from 'react';
import { ApiError } from '../api';
import { useI18n } from '../i18n';
import { useUsageHistory, useUsageSummary } from '../queries/usage';
import { useSession } from '../session';
import type { UsageHistory, UsageSummary } from '../types';
import { isEmptyAccount } from '../usage';
import { AlertsCard } from './AlertsCard';
import { CredentialsTable } from './CredentialsTable';
import { DownloadCsvButton } from './DownloadCsv';
import { EmptyState } from './EmptyState';
import { ErrorNotice } from './ErrorNotice';
import { PeriodCard } from './PeriodCard';
import { HistorySkeleton, UsageSkeleton } from './Skeleton';

// recharts is most of the bundle: load it after the figures are on screen.
const HistoryChart = lazy(() => import('./HistoryChart'));

/** Today's and this month's gauges and the 30-day chart: the customer's view and the console's. */
export function UsageFigures({
  s,
  history,
  historyFailed,
  chartAction,
}: {
  s: UsageSummary;
  history: UsageHistory | undefined;
  historyFailed: boolean;
  /** Beside the chart's title (the customer's Download CSV). */
  chartAction?: ReactNode;
}) {
  const i18n = useI18n();
  return (
    <>
      <div className="grid-2">
        <PeriodCard title={i18n.t('today')} period={s.daily} mode={s.mode} timeZone={s.timezone} testId="daily" />
        <PeriodCard title={i18n.t('thisMonth')} period={s.monthly} mode={s.mode} timeZone={s.timezone} testId="monthly" />
      </div>
      {history ? (
        <Suspense fallback={<HistorySkeleton />}>
          <HistoryChart history={history} action={chartAction} />
        </Suspense>
      ) : historyFailed ? null : (
        <HistorySkeleton />
      )}
    </>
  );
}

export function ContractCard({ s }: { s: UsageSummary }) {
  const i18n = useI18n();
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} data-testid="contract">
      <h2 id={headingId}>{s.account.name}</h2>
      <dl className="facts">
        <div>
          <dt>{i18n.t('plan')}</dt>
          <dd data-testid="plan-name">
            {s.plan.name} <span className="muted">({s.plan.code})</span>
          </dd>
        </div>
        <div>
          <dt>{i18n.t('mode')}</dt>
          <dd data-testid="plan-mode">
            <span className={`pill pill--${s.mode}`}>{i18n.t(s.mode === 'block' ? 'mode_block' : 'mode_overage')}</span>
          </dd>
        </div>
        {s.mode === 'overage' && (
          <div>
            <dt>{i18n.t('overageCap')}</dt>
            <dd data-testid="overage-cap">
              {s.overage_cap === null || s.overage_cap === undefined ? i18n.t('noOverageCap') : i18n.number(s.overage_cap)}
            </dd>
          </div>
        )}
        <div>
          <dt>{i18n.t('timezone')}</dt>
          <dd>{s.timezone}</dd>
        </div>
      </dl>
      {!s.metered && <p className="notice notice--info">{i18n.t('notMetered')}</p>}
    </section>
  );
}

export function CumulativeCard({ s }: { s: UsageSummary }) {
  const i18n = useI18n();
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} data-testid="cumulative">
      <h2 id={headingId}>{i18n.t('cumulativeTitle')}</h2>
      <p className="muted">{i18n.t('cumulativeSince', { date: i18n.day(s.cumulative.since, 'long') })}</p>
      <dl className="stats">
        <div className="stat stat--main">
          <dt>{i18n.t('totalUsed')}</dt>
          <dd>{i18n.number(s.cumulative.used)}</dd>
        </div>
        <div className="stat">
          <dt>{i18n.t('totalOverage')}</dt>
          <dd>{i18n.number(s.cumulative.overage)}</dd>
        </div>
        <div className="stat">
          <dt>{i18n.t('totalBlocked')}</dt>
          <dd>{i18n.number(s.cumulative.blocked)}</dd>
        </div>
      </dl>
    </section>
  );
}

/** The customer's own usage. A refused key (401) ends the session: App watches for it. */
export function UsageView() {
  const i18n = useI18n();
  const { caller } = useSession();
  const apiKey = caller.role === 'customer' ? caller.apiKey : '';

  const summaryQ = useUsageSummary('self');
  const s = summaryQ.data;
  const historyQ = useUsageHistory('self', s);
  const unauthorized = [summaryQ.error, historyQ.error].some((e) => e instanceof ApiError && e.isUnauthorized);

  const refresh = () => {
    void summaryQ.refetch();
    if (s) void historyQ.refetch();
  };

  if (!s) {
    if (summaryQ.error && !unauthorized) {
      return (
        <div className="usage">
          <ErrorNotice error={summaryQ.error} onRetry={refresh} />
        </div>
      );
    }
    return <UsageSkeleton />;
  }

  const fetching = summaryQ.isFetching || historyQ.isFetching;
  const refreshError = summaryQ.error ?? historyQ.error;

  return (
    <div className="usage" data-testid="usage-view">
      <div className="toolbar">
        <p className="muted toolbar__status" data-testid="updated-at">
          {i18n.t('updatedAt', { time: i18n.time(new Date(summaryQ.dataUpdatedAt)) })} · {i18n.t('autoRefresh')}
        </p>
        <button type="button" className="button button--secondary" onClick={refresh} aria-disabled={fetching || undefined}>
          {fetching ? i18n.t('refreshing') : i18n.t('refresh')}
        </button>
      </div>

      {refreshError && !unauthorized && (
        <ErrorNotice error={refreshError} timeZone={s.timezone} stale onRetry={refresh} />
      )}

      {isEmptyAccount(s) && <EmptyState apiKey={apiKey} />}

      <ContractCard s={s} />

      <UsageFigures
        s={s}
        history={historyQ.data}
        historyFailed={historyQ.error !== null}
        chartAction={
          historyQ.data && <DownloadCsvButton range={{ from: historyQ.data.from, to: historyQ.data.to }} />
        }
      />

      {s.metered && <AlertsCard account="self" timeZone={s.timezone} />}

      <CredentialsTable credentials={s.credentials} timeZone={s.timezone} />
      <CumulativeCard s={s} />
    </div>
  );
}
