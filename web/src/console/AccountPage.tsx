// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId, useState } from 'react';
import { ApiError } from '../api';
import { AlertsCard } from '../components/AlertsCard';
import { ErrorNotice } from '../components/ErrorNotice';
import { UsageSkeleton } from '../components/Skeleton';
import { CumulativeCard, UsageFigures } from '../components/UsageView';
import { useI18n } from '../i18n';
import { useAccount, useSetAccountStatus } from '../queries/accounts';
import { useUsageHistory, useUsageSummary } from '../queries/usage';
import { StatusDialog } from './AccountsPage';
import { AuditTable } from './AuditPage';
import { PageHeading } from './Console';
import { ContractCard } from './ContractCard';
import { KeysCard } from './KeysCard';
import { routeHref } from './route';

export function AccountPage({ id }: { id: number }) {
  const i18n = useI18n();
  const accountQ = useAccount(id);
  const [confirm, setConfirm] = useState(false);
  const setStatus = useSetAccountStatus();
  const a = accountQ.data;

  return (
    <div className="page" data-testid="account-page">
      <p className="breadcrumb">
        <a href={routeHref({ page: 'accounts' })}>{i18n.t('navAccounts')}</a> <span aria-hidden="true">›</span>
      </p>
      <PageHeading testId="account-title">{a ? a.name : i18n.t('accountN', { id: i18n.number(id) })}</PageHeading>
      {accountQ.error && <ErrorNotice error={accountQ.error} onRetry={() => void accountQ.refetch()} />}
      {a && (
        <>
          <section className="card account-head" aria-label={i18n.t('accountFacts')}>
            <dl className="facts">
              <div>
                <dt>{i18n.t('colStatus')}</dt>
                <dd data-testid="account-status">
                  <span className={`pill pill--${a.status}`}>{i18n.t(`accountStatus_${a.status}`)}</span>
                </dd>
              </div>
              <div>
                <dt>{i18n.t('accountId')}</dt>
                <dd>{a.id}</dd>
              </div>
              <div>
                <dt>{i18n.t('createdAt')}</dt>
                <dd>{i18n.dateTime(a.created_at, 'UTC')}</dd>
              </div>
            </dl>
            <button
              type="button"
              className={`button ${a.status === 'active' ? 'button--danger-outline' : 'button--secondary'}`}
              onClick={() => setConfirm(true)}
            >
              {i18n.t(a.status === 'active' ? 'suspend' : 'reactivate')}
            </button>
          </section>
          {confirm && (
            <StatusDialog
              account={a}
              to={a.status === 'active' ? 'suspended' : 'active'}
              busy={setStatus.isPending}
              error={setStatus.error}
              onCancel={() => {
                setConfirm(false);
                setStatus.reset();
              }}
              onConfirm={() =>
                setStatus.mutate(
                  { id, status: a.status === 'active' ? 'suspended' : 'active' },
                  {
                    onSuccess: () => {
                      setConfirm(false);
                      setStatus.reset();
                    },
                  },
                )
              }
            />
          )}
          <ContractCard accountId={id} />
          <AccountUsage accountId={id} />
          <KeysCard accountId={id} />
          <AccountAudit accountId={id} />
        </>
      )}
    </div>
  );
}

/** The customer's gauges and chart, fetched through the admin routes. */
function AccountUsage({ accountId }: { accountId: number }) {
  const i18n = useI18n();
  const headingId = useId();
  const summaryQ = useUsageSummary(accountId);
  const s = summaryQ.data;
  const historyQ = useUsageHistory(accountId, s);
  const noContract = summaryQ.error instanceof ApiError && summaryQ.error.status === 404;
  return (
    <section className="usage" aria-labelledby={headingId} data-testid="account-usage">
      <div className="toolbar">
        <h3 id={headingId}>{i18n.t('usageTitle')}</h3>
        {s && (
          <button
            type="button"
            className="button button--secondary"
            onClick={() => {
              void summaryQ.refetch();
              void historyQ.refetch();
            }}
            aria-disabled={summaryQ.isFetching || undefined}
          >
            {summaryQ.isFetching ? i18n.t('refreshing') : i18n.t('refresh')}
          </button>
        )}
      </div>
      {noContract ? (
        <p className="card muted" data-testid="usage-no-contract">
          {i18n.t('usageNoContract')}
        </p>
      ) : summaryQ.error ? (
        <ErrorNotice error={summaryQ.error} stale={s !== undefined} onRetry={() => void summaryQ.refetch()} />
      ) : null}
      {s ? (
        <>
          <UsageFigures s={s} history={historyQ.data} historyFailed={historyQ.error !== null} />
          {s.metered && <AlertsCard account={accountId} timeZone={s.timezone} />}
          <CumulativeCard s={s} />
        </>
      ) : (
        !summaryQ.error && <UsageSkeleton />
      )}
    </section>
  );
}

function AccountAudit({ accountId }: { accountId: number }) {
  const i18n = useI18n();
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} data-testid="account-audit">
      <h3 id={headingId}>{i18n.t('accountAuditTitle')}</h3>
      <AuditTable filter={{ accountId }} showAccount={false} pageSize={10} />
    </section>
  );
}
