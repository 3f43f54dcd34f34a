// SPDX-License-Identifier: AGPL-3.0-or-later
import type { UseQueryResult } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { AuditFilter } from '../api';
import { AUDIT_ACTIONS } from '../audit';
import { ErrorNotice } from '../components/ErrorNotice';
import { ScrollTable } from '../components/ScrollTable';
import { TableSkeleton } from '../components/Skeleton';
import { SmallButton } from '../components/SmallButton';
import { parseCount } from '../fields';
import { useI18n, type I18n } from '../i18n';
import { useAuditEvents, useAuditVerification } from '../queries/audit';
import type { AuditEvent, AuditVerification } from '../types';
import { PageHeading } from './Console';
import { routeHref } from './route';

export function actionLabel(i18n: I18n, action: string): string {
  return i18n.tMaybe(`action_${action.replace('.', '_')}`, action);
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** {before, after} as "field: before → after" lines; anything else as JSON. */
export function describeChanges(details: Record<string, unknown>): string[] {
  const before = (details['before'] ?? {}) as Record<string, unknown>;
  const after = (details['after'] ?? {}) as Record<string, unknown>;
  if (typeof before !== 'object' || typeof after !== 'object' || (!('before' in details) && !('after' in details))) {
    return Object.keys(details).length ? [JSON.stringify(details)] : [];
  }
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.map((k) =>
    k in before && k in after ? `${k}: ${show(before[k])} → ${show(after[k])}` : k in after ? `${k}: ${show(after[k])}` : `${k}: ${show(before[k])} → ∅`,
  );
}

/**
 * The events a filter keeps, newest first, a page at a time. `brokenSeq` marks the first event the
 * server's verification refused; each new `reveal` turns to its page and moves the focus to it.
 */
export function AuditTable({
  filter,
  showAccount = true,
  pageSize = 25,
  brokenSeq = null,
  reveal = 0,
}: {
  filter: AuditFilter;
  showAccount?: boolean;
  pageSize?: number;
  brokenSeq?: number | null;
  reveal?: number;
}) {
  const i18n = useI18n();
  const q = useAuditEvents(filter);
  const [page, setPage] = useState(0);
  const [revealed, setRevealed] = useState(reveal);
  const focusedFor = useRef(reveal);
  const brokenRow = useRef<HTMLTableRowElement>(null);
  const events = q.data;
  if (reveal !== revealed && events) {
    setRevealed(reveal);
    const i = events.findIndex((e) => e.seq === brokenSeq);
    if (i >= 0) setPage(Math.floor(i / pageSize));
  }
  useEffect(() => {
    if (reveal === focusedFor.current) return;
    focusedFor.current = reveal;
    brokenRow.current?.focus();
  }, [reveal]);
  if (q.error && !events) return <ErrorNotice error={q.error} onRetry={() => void q.refetch()} />;
  if (!events) return <TableSkeleton label={i18n.t('auditLoading')} />;
  const pages = Math.max(1, Math.ceil(events.length / pageSize));
  const current = Math.min(page, pages - 1);
  const rows = events.slice(current * pageSize, (current + 1) * pageSize);
  return (
    <div data-testid="audit-events">
      {q.error && <ErrorNotice error={q.error} stale onRetry={() => void q.refetch()} />}
      <p className="muted" role="status" data-testid="audit-count">
        {i18n.plural('eventsCount', events.length)}
      </p>
      {events.length === 0 ? (
        <p className="empty" data-testid="audit-empty">
          {i18n.t('auditNone')}
        </p>
      ) : (
        <ScrollTable
          label={i18n.t('auditTableLabel')}
          testId="audit-table"
          className="table--audit"
          caption={i18n.t('auditCaption')}
          columns={[
            { key: 'seq', label: '#' },
            { key: 'when', label: i18n.t('colWhen') },
            { key: 'action', label: i18n.t('colAction') },
            { key: 'target', label: i18n.t('colTarget') },
            ...(showAccount ? [{ key: 'account', label: i18n.t('account') }] : []),
            { key: 'actor', label: i18n.t('colActor') },
            { key: 'changes', label: i18n.t('colChanges') },
            { key: 'requestId', label: i18n.t('errorRequestId') },
          ]}
        >
          {rows.map((e: AuditEvent) => (
            <tr
              key={e.seq}
              ref={e.seq === brokenSeq ? brokenRow : undefined}
              tabIndex={e.seq === brokenSeq ? -1 : undefined}
              className={e.seq === brokenSeq ? 'audit-row--broken' : undefined}
              data-testid="audit-row"
              data-action={e.action}
              data-broken={e.seq === brokenSeq || undefined}
            >
              <th scope="row">
                {e.seq}
                {e.seq === brokenSeq && (
                  <>
                    {' '}
                    <span className="pill pill--broken">{i18n.t('chainBrokenHere')}</span>
                  </>
                )}
              </th>
              <td>{i18n.dateTime(e.at, 'UTC')}</td>
              <td>
                {actionLabel(i18n, e.action)} <code className="cell-note muted">{e.action}</code>
              </td>
              <td>
                <code>{e.target}</code>
              </td>
              {showAccount && (
                <td>
                  {e.account_id !== null ? (
                    <a href={routeHref({ page: 'account', id: e.account_id })}>#{e.account_id}</a>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              )}
              <td>{i18n.tMaybe(`actor_${e.actor}`, e.actor)}</td>
              <td>
                <ul className="changes">
                  {describeChanges(e.details).map((line) => (
                    <li key={line}>
                      <code>{line}</code>
                    </li>
                  ))}
                </ul>
              </td>
              <td>{e.request_id ? <code className="selectable">{e.request_id}</code> : <span className="muted">—</span>}</td>
            </tr>
          ))}
        </ScrollTable>
      )}
      {pages > 1 && (
        <div className="pager">
          <button type="button" className="button button--secondary" disabled={current === 0} onClick={() => setPage(current - 1)}>
            {i18n.t('newerEvents')}
          </button>
          <span className="muted">{i18n.t('pageOf', { n: i18n.number(current + 1), total: i18n.number(pages) })}</span>
          <button
            type="button"
            className="button button--secondary"
            disabled={current >= pages - 1}
            onClick={() => setPage(current + 1)}
          >
            {i18n.t('olderEvents')}
          </button>
        </div>
      )}
    </div>
  );
}

/**
 * The server's verification of the whole chain: valid, or the first event that does not hold and
 * why. `onShow` is given when that event is in the list below.
 */
function ChainStatus({
  q,
  onShow,
}: {
  q: UseQueryResult<AuditVerification>;
  onShow?: () => void;
}) {
  const i18n = useI18n();
  const headingId = useId();
  const r = q.data;
  const seq = r?.first_broken_seq ?? null;
  return (
    <section className="card" aria-labelledby={headingId} data-testid="audit-chain">
      <h3 id={headingId}>{i18n.t('chainTitle')}</h3>
      {q.error && <ErrorNotice error={q.error} stale={Boolean(r)} onRetry={() => void q.refetch()} />}
      {!r && !q.error && <TableSkeleton label={i18n.t('chainChecking')} rows={1} />}
      {r && (
        <div
          className={`notice ${r.valid ? 'notice--success' : 'notice--error'}`}
          data-testid="chain-result"
          data-valid={String(r.valid)}
          data-broken-seq={seq ?? undefined}
        >
          <p className={r.valid ? undefined : 'notice__title'}>
            <span aria-hidden="true">{r.valid ? '✓ ' : '✕ '}</span>
            {r.valid
              ? r.checked === 0
                ? i18n.t('chainEmpty')
                : i18n.plural('chainValid', r.checked)
              : i18n.t('chainBroken', { seq: seq ?? '?' })}
          </p>
          {!r.valid && (
            <>
              {r.reason && (
                <p data-testid="chain-reason">
                  {i18n.t('chainReason')}{' '}
                  <q lang="en">{r.reason}</q>
                </p>
              )}
              <p className="muted">{i18n.plural('chainChecked', r.checked)}</p>
              {seq !== null &&
                (onShow ? (
                  <SmallButton onClick={onShow}>{i18n.t('chainShowEvent', { seq })}</SmallButton>
                ) : (
                  <p className="muted">{i18n.t('chainNotListed', { seq })}</p>
                ))}
            </>
          )}
        </div>
      )}
      <p className="muted">{i18n.t('chainNote')}</p>
    </section>
  );
}

export function AuditPage() {
  const i18n = useI18n();
  const [filter, setFilter] = useState<AuditFilter>({});
  const [accountText, setAccountText] = useState('');
  const [action, setAction] = useState('');
  const [accountError, setAccountError] = useState(false);
  const accountId = useId();
  const actionId = useId();
  const listId = useId();
  const verification = useAuditVerification();
  const events = useAuditEvents(filter);
  const [reveal, setReveal] = useState(0);
  const brokenSeq = verification.data?.first_broken_seq ?? null;
  const listed = brokenSeq !== null && Boolean(events.data?.some((e) => e.seq === brokenSeq));

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const n = parseCount(accountText);
    if (!n.ok || n.value === 0) {
      setAccountError(true);
      return;
    }
    setAccountError(false);
    setFilter({ accountId: n.value, action: action || null });
  };

  return (
    <div className="page" data-testid="audit-page">
      <PageHeading>{i18n.t('auditTitle')}</PageHeading>
      <ChainStatus q={verification} onShow={listed ? () => setReveal((n) => n + 1) : undefined} />
      <section className="card" aria-labelledby={listId}>
        <h3 id={listId}>{i18n.t('auditEventsTitle')}</h3>
        <form className="filters" role="search" onSubmit={apply} noValidate aria-label={i18n.t('auditFilters')}>
          <div className="field">
            <label htmlFor={accountId}>{i18n.t('filterAccount')}</label>
            <input
              id={accountId}
              className="input input--number"
              inputMode="numeric"
              value={accountText}
              onChange={(e) => setAccountText(e.target.value)}
              aria-invalid={accountError || undefined}
              aria-describedby={accountError ? `${accountId}-error` : undefined}
            />
            {accountError && (
              <p id={`${accountId}-error`} className="field__error">
                {i18n.t('issue_accountId')}
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={actionId}>{i18n.t('filterAction')}</label>
            <select id={actionId} className="input input--text" value={action} onChange={(e) => setAction(e.target.value)}>
              <option value="">{i18n.t('allActions')}</option>
              {AUDIT_ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {actionLabel(i18n, a)}
                </option>
              ))}
            </select>
          </div>
          <div className="filters__actions">
            <button type="submit" className="button">
              {i18n.t('applyFilters')}
            </button>
            <button
              type="button"
              className="button button--secondary"
              onClick={() => {
                setAccountText('');
                setAction('');
                setAccountError(false);
                setFilter({});
              }}
            >
              {i18n.t('clearFilters')}
            </button>
          </div>
        </form>
        <AuditTable
          key={`${filter.accountId ?? ''}:${filter.action ?? ''}`}
          filter={filter}
          brokenSeq={brokenSeq}
          reveal={reveal}
        />
      </section>
    </div>
  );
}
