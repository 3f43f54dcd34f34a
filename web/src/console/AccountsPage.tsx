// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { ScrollTable } from '../components/ScrollTable';
import { TableSkeleton } from '../components/Skeleton';
import { SmallButton } from '../components/SmallButton';
import { serverFieldErrors } from '../fields';
import { useI18n } from '../i18n';
import { ACCOUNTS_PAGE_SIZE, useAccountsPage, useAllAccounts, useCreateAccount, useSetAccountStatus } from '../queries/accounts';
import { useUsageSummary } from '../queries/usage';
import type { Account, AccountStatus, PeriodUsage } from '../types';
import { statusKey, usageLevel } from '../usage';
import { PageHeading } from './Console';
import { routeHref } from './route';

/** Case and accent blind: "acme" finds "ÀCME Corp"; a number finds that id. */
export function matchesSearch(a: Account, search: string): boolean {
  const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  const q = fold(search.trim());
  if (q === '') return true;
  if (/^#?\d+$/.test(q) && String(a.id) === q.replace('#', '')) return true;
  return fold(a.name).includes(q);
}

export function AccountsPage() {
  const i18n = useI18n();
  const [status, setStatus] = useState<AccountStatus | null>(null);
  const [search, setSearch] = useState('');
  // The API pages by cursor: the stack of cursors that led to this page, for "previous".
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [searchPage, setSearchPage] = useState(0);
  const [confirm, setConfirm] = useState<{ account: Account; to: AccountStatus } | null>(null);
  const statusId = useId();
  const searchId = useId();
  const searching = search.trim() !== '';

  const pageQ = useAccountsPage(status, cursors[cursors.length - 1] ?? null, !searching);
  const allQ = useAllAccounts(status, searching);
  const setStatusM = useSetAccountStatus();

  const q = searching ? allQ : pageQ;
  const matches = searching ? (allQ.data ?? []).filter((a) => matchesSearch(a, search)) : null;
  const rows = matches
    ? matches.slice(searchPage * ACCOUNTS_PAGE_SIZE, (searchPage + 1) * ACCOUNTS_PAGE_SIZE)
    : (pageQ.data?.items ?? []);
  const pageNumber = searching ? searchPage + 1 : cursors.length;
  const hasPrev = pageNumber > 1;
  const hasNext = matches
    ? (searchPage + 1) * ACCOUNTS_PAGE_SIZE < matches.length
    : pageQ.data?.next_cursor != null && (pageQ.data?.items.length ?? 0) === ACCOUNTS_PAGE_SIZE;

  const resetPaging = () => {
    setCursors([null]);
    setSearchPage(0);
  };
  const next = () => {
    if (matches) setSearchPage((p) => p + 1);
    else if (pageQ.data?.next_cursor) setCursors((c) => [...c, pageQ.data!.next_cursor]);
  };
  const prev = () => {
    if (matches) setSearchPage((p) => Math.max(0, p - 1));
    else setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c));
  };

  return (
    <div className="page" data-testid="accounts-page">
      <PageHeading>{i18n.t('accountsTitle')}</PageHeading>
      <NewAccount />

      <section className="card" aria-labelledby={`${searchId}-h`}>
        <h3 id={`${searchId}-h`}>{i18n.t('accountsListTitle')}</h3>
        <div className="filters" role="search">
          <div className="field">
            <label htmlFor={searchId}>{i18n.t('searchAccounts')}</label>
            <input
              id={searchId}
              type="search"
              className="input input--text"
              value={search}
              onChange={(e) => {
                setSearch(e.target.value);
                resetPaging();
              }}
              aria-describedby={`${searchId}-hint`}
            />
            <p id={`${searchId}-hint`} className="muted field__hint">
              {i18n.t('searchAccountsHint')}
            </p>
          </div>
          <div className="field">
            <label htmlFor={statusId}>{i18n.t('colStatus')}</label>
            <select
              id={statusId}
              className="input input--text"
              value={status ?? ''}
              onChange={(e) => {
                setStatus(e.target.value === '' ? null : (e.target.value as AccountStatus));
                resetPaging();
              }}
            >
              <option value="">{i18n.t('statusAll')}</option>
              <option value="active">{i18n.t('accountStatus_active')}</option>
              <option value="suspended">{i18n.t('accountStatus_suspended')}</option>
            </select>
          </div>
        </div>

        {q.error && <ErrorNotice error={q.error} stale={q.data !== undefined} onRetry={() => void q.refetch()} />}
        {q.data === undefined && !q.error && <TableSkeleton label={i18n.t('accountsLoading')} />}
        {q.data !== undefined && (
          <>
            <p className="muted" role="status" data-testid="accounts-count">
              {matches
                ? i18n.plural('accountsFound', matches.length)
                : i18n.plural('accountsOnPage', rows.length, { page: i18n.number(pageNumber) })}
            </p>
            {rows.length === 0 ? (
              <p className="empty" data-testid="accounts-empty">
                {searching ? i18n.t('accountsNoMatch') : status ? i18n.t('accountsNoneWithStatus') : i18n.t('accountsNone')}
              </p>
            ) : (
              <ScrollTable
                label={i18n.t('accountsListTitle')}
                testId="accounts-table"
                columns={[
                  { key: 'account', label: i18n.t('account') },
                  { key: 'status', label: i18n.t('colStatus') },
                  { key: 'plan', label: i18n.t('plan') },
                  { key: 'today', label: i18n.t('today'), numeric: true },
                  { key: 'month', label: i18n.t('thisMonth'), numeric: true },
                  { key: 'overage', label: i18n.t('overage'), numeric: true },
                  { key: 'actions', label: i18n.t('colActions'), hidden: true },
                ]}
              >
                {rows.map((a) => (
                  <AccountRow key={a.id} account={a} onStatus={(to) => setConfirm({ account: a, to })} />
                ))}
              </ScrollTable>
            )}
            <div className="pager">
              <button type="button" className="button button--secondary" onClick={prev} disabled={!hasPrev}>
                {i18n.t('previousPage')}
              </button>
              <span className="muted">{i18n.t('pageN', { n: i18n.number(pageNumber) })}</span>
              <button type="button" className="button button--secondary" onClick={next} disabled={!hasNext}>
                {i18n.t('nextPage')}
              </button>
            </div>
          </>
        )}
      </section>

      {confirm && (
        <StatusDialog
          account={confirm.account}
          to={confirm.to}
          busy={setStatusM.isPending}
          error={setStatusM.error}
          onCancel={() => {
            setConfirm(null);
            setStatusM.reset();
          }}
          onConfirm={() =>
            setStatusM.mutate(
              { id: confirm.account.id, status: confirm.to },
              {
                onSuccess: () => {
                  setConfirm(null);
                  setStatusM.reset();
                },
              },
            )
          }
        />
      )}
    </div>
  );
}

/** Suspending cuts the account's keys off from the next request: ask first. */
export function StatusDialog({
  account,
  to,
  busy,
  error,
  onConfirm,
  onCancel,
}: {
  account: Account;
  to: AccountStatus;
  busy: boolean;
  error: Error | null;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const i18n = useI18n();
  const suspend = to === 'suspended';
  return (
    <ConfirmDialog
      title={i18n.t(suspend ? 'suspendTitle' : 'reactivateTitle', { name: account.name })}
      confirmLabel={i18n.t(suspend ? 'suspend' : 'reactivate')}
      danger={suspend}
      busy={busy}
      error={error}
      onConfirm={onConfirm}
      onCancel={onCancel}
    >
      <p>{i18n.t(suspend ? 'suspendBody' : 'reactivateBody')}</p>
    </ConfirmDialog>
  );
}

function UseCell({ p }: { p: PeriodUsage }) {
  const i18n = useI18n();
  const level = usageLevel(p.used, p.limit);
  return (
    <>
      {i18n.t('usedOfLimit', {
        used: i18n.number(p.used),
        limit: p.limit === null ? i18n.t('unlimited') : i18n.number(p.limit),
      })}
      {level !== 'ok' && (
        <span className={`cell-note cell-note--${level}`}>{i18n.t(statusKey(p))}</span>
      )}
    </>
  );
}

function AccountRow({ account, onStatus }: { account: Account; onStatus: (to: AccountStatus) => void }) {
  const i18n = useI18n();
  const usage = useUsageSummary(account.id);
  const s = usage.data;
  const noContract = usage.error instanceof ApiError && usage.error.status === 404;
  const usageCell = (render: () => ReactNode) =>
    s ? render() : usage.error ? <span className="muted">—</span> : <span className="muted">…</span>;
  return (
    <tr data-testid={`account-row-${account.id}`}>
      <th scope="row">
        <a href={routeHref({ page: 'account', id: account.id })}>{account.name}</a>{' '}
        <span className="muted">#{account.id}</span>
      </th>
      <td>
        <span className={`pill pill--${account.status}`}>{i18n.t(`accountStatus_${account.status}`)}</span>
      </td>
      <td data-testid="account-plan">
        {s ? s.plan.name : noContract ? <span className="muted">{i18n.t('noContract')}</span> : usageCell(() => null)}
      </td>
      <td className="num" data-testid="account-today">
        {usageCell(() => <UseCell p={s!.daily} />)}
      </td>
      <td className="num" data-testid="account-month">
        {usageCell(() => <UseCell p={s!.monthly} />)}
      </td>
      <td className="num" data-testid="account-overage">
        {usageCell(() => i18n.number(s!.monthly.overage))}
      </td>
      <td>
        <SmallButton
          onClick={() => onStatus(account.status === 'active' ? 'suspended' : 'active')}
          aria-label={i18n.t(account.status === 'active' ? 'suspendNamed' : 'reactivateNamed', { name: account.name })}
        >
          {i18n.t(account.status === 'active' ? 'suspend' : 'reactivate')}
        </SmallButton>
      </td>
    </tr>
  );
}

function NewAccount() {
  const i18n = useI18n();
  const headingId = useId();
  const [name, setName] = useState('');
  const [missing, setMissing] = useState(false);
  const [created, setCreated] = useState<Account | null>(null);
  const create = useCreateAccount();
  const fieldErrors = serverFieldErrors(i18n, create.error);
  const nameError = missing ? i18n.t('issue_required') : (fieldErrors['name'] ?? null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    if (name.trim() === '') {
      setMissing(true);
      return;
    }
    setMissing(false);
    create.mutate(name.trim(), {
      onSuccess: (a) => {
        setCreated(a);
        setName('');
      },
    });
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{i18n.t('newAccount')}</h3>
      <form onSubmit={submit} noValidate className="inline-form">
        <Field label={i18n.t('accountName')} error={nameError} testId="new-account-name">
          {(p) => (
            <input
              {...p}
              className="input input--text"
              value={name}
              maxLength={200}
              onChange={(e) => setName(e.target.value)}
              aria-required="true"
            />
          )}
        </Field>
        <button type="submit" className="button" aria-disabled={create.isPending || undefined}>
          {create.isPending ? i18n.t('working') : i18n.t('createAccount')}
        </button>
      </form>
      {create.error && <ErrorNotice error={create.error} fieldsShown={Object.keys(fieldErrors).length > 0} />}
      <div role="status">
        {created && (
          <p className="notice notice--success" data-testid="account-created">
            {i18n.t('accountCreated', { name: created.name })}{' '}
            <a href={routeHref({ page: 'account', id: created.id })}>{i18n.t('openAccount')}</a>
          </p>
        )}
      </div>
    </section>
  );
}
