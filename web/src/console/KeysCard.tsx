// SPDX-License-Identifier: AGPL-3.0-or-later
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { ScrollTable } from '../components/ScrollTable';
import { TableSkeleton } from '../components/Skeleton';
import { SmallButton } from '../components/SmallButton';
import { serverFieldErrors } from '../fields';
import { useI18n } from '../i18n';
import { useCredentials, useIssueCredential, useRevokeCredential, useRotateCredential } from '../queries/accounts';
import { useUsageSummary } from '../queries/usage';
import type { Credential, IssuedCredential } from '../types';

/** Grace periods offered for the old key of a rotation, in seconds (the API allows 0 to 30 days). */
export const GRACE_CHOICES = [0, 3600, 86400, 7 * 86400, 30 * 86400] as const;
const DEFAULT_GRACE = 86400;

export function graceLabel(i18n: ReturnType<typeof useI18n>, seconds: number): string {
  if (seconds === 0) return i18n.t('graceNone');
  if (seconds % 86400 === 0) return i18n.plural('graceDays', seconds / 86400);
  return i18n.plural('graceHours', seconds / 3600);
}

/** Copies with the Clipboard API, else through a selected text area (older or insecure pages). */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

/** A new key, shown this once: copy it, then it is gone from the page and from memory. */
function NewKeyPanel({ issued, onDone }: { issued: IssuedCredential; onDone: () => void }) {
  const i18n = useI18n();
  const headingId = useId();
  const inputId = useId();
  const warnId = useId();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [copied, setCopied] = useState<boolean | null>(null);
  useEffect(() => headingRef.current?.focus(), []);
  return (
    <section className="new-key notice notice--warning" aria-labelledby={headingId} data-testid="new-key">
      <h4 id={headingId} ref={headingRef} tabIndex={-1}>
        {i18n.t('newKeyTitle', { label: issued.label || issued.key_id })}
      </h4>
      <p id={warnId} className="new-key__warning">
        <span aria-hidden="true">⚠ </span>
        {i18n.t('newKeyWarning')}
      </p>
      <label htmlFor={inputId}>{i18n.t('newKeyLabel')}</label>
      <div className="new-key__row">
        <input
          id={inputId}
          className="input"
          readOnly
          value={issued.api_key}
          aria-describedby={warnId}
          onFocus={(e) => e.currentTarget.select()}
          data-testid="new-key-value"
        />
        <button
          type="button"
          className="button"
          onClick={() => void copyText(issued.api_key).then(setCopied)}
          data-testid="copy-key"
        >
          {i18n.t('copyKey')}
        </button>
      </div>
      <p role="status" className="new-key__status" data-testid="copy-status">
        {copied === true ? i18n.t('keyCopied') : copied === false ? i18n.t('keyCopyFailed') : ''}
      </p>
      {issued.previous && (
        <p data-testid="rotated-previous">
          {issued.previous.expires_at
            ? i18n.t('rotatedPreviousUntil', {
                id: issued.previous.key_id,
                time: i18n.dateTime(issued.previous.expires_at, 'UTC'),
              })
            : i18n.t('rotatedPrevious', { id: issued.previous.key_id })}
        </p>
      )}
      <button type="button" className="button button--secondary" onClick={onDone}>
        {i18n.t('newKeyDone')}
      </button>
    </section>
  );
}

export function KeysCard({ accountId }: { accountId: number }) {
  const i18n = useI18n();
  const headingId = useId();
  const labelRef = useRef<HTMLInputElement | null>(null);
  const credsQ = useCredentials(accountId);
  const usageQ = useUsageSummary(accountId);
  const issue = useIssueCredential(accountId);
  const rotate = useRotateCredential();
  const revoke = useRevokeCredential();
  const [label, setLabel] = useState('');
  const [shown, setShown] = useState<IssuedCredential | null>(null);
  const [dialog, setDialog] = useState<{ kind: 'rotate' | 'revoke'; cred: Credential } | null>(null);
  const [grace, setGrace] = useState<number>(DEFAULT_GRACE);
  const graceId = useId();
  const fieldErrors = serverFieldErrors(i18n, issue.error);
  const usageByKey = new Map((usageQ.data?.credentials ?? []).map((c) => [c.key_id, c]));
  const tz = usageQ.data?.timezone ?? 'UTC';

  // The key leaves the mutation's state at once (reset), so this component holds the only copy.
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setShown(null);
    issue.mutate(label.trim(), {
      onSuccess: (c) => {
        setShown(c);
        setLabel('');
        issue.reset();
      },
    });
  };

  const closeDialog = () => {
    setDialog(null);
    rotate.reset();
    revoke.reset();
  };

  const confirmDialog = () => {
    if (!dialog) return;
    if (dialog.kind === 'revoke') {
      revoke.mutate(dialog.cred.key_id, { onSuccess: closeDialog });
    } else {
      rotate.mutate(
        { keyId: dialog.cred.key_id, graceSeconds: grace },
        {
          onSuccess: (c) => {
            setShown(c);
            closeDialog();
          },
        },
      );
    }
  };

  const creds = credsQ.data;
  const active = creds?.filter((c) => c.status === 'active').length ?? 0;

  return (
    <section className="card" aria-labelledby={headingId} data-testid="keys-card">
      <h3 id={headingId}>{i18n.t('credentialsTitle')}</h3>
      {shown && (
        <NewKeyPanel
          issued={shown}
          onDone={() => {
            setShown(null);
            labelRef.current?.focus();
          }}
        />
      )}
      <form onSubmit={submit} noValidate className="inline-form">
        <Field label={i18n.t('keyLabel')} hint={i18n.t('keyLabelHint')} error={fieldErrors['label']} testId="issue-label">
          {(p) => (
            <input
              {...p}
              ref={labelRef}
              className="input input--text"
              value={label}
              maxLength={128}
              onChange={(e) => setLabel(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="button" aria-disabled={issue.isPending || undefined}>
          {issue.isPending ? i18n.t('working') : i18n.t('issueKey')}
        </button>
      </form>
      {issue.error && <ErrorNotice error={issue.error} fieldsShown={'label' in fieldErrors} />}

      {credsQ.error && <ErrorNotice error={credsQ.error} onRetry={() => void credsQ.refetch()} />}
      {!creds && !credsQ.error && <TableSkeleton label={i18n.t('keysLoading')} rows={2} />}
      {creds && (
        <>
          <p className="muted" data-testid="keys-count">
            {i18n.plural('activeKeys', active)}
          </p>
          {creds.length === 0 ? (
            <p className="empty">{i18n.t('noCredentials')}</p>
          ) : (
            <ScrollTable
              label={i18n.t('credentialsTitle')}
              testId="keys-table"
              columns={[
                { key: 'keyId', label: i18n.t('colKeyId') },
                { key: 'label', label: i18n.t('colLabel') },
                { key: 'status', label: i18n.t('colStatus') },
                { key: 'created', label: i18n.t('colCreated') },
                { key: 'expires', label: i18n.t('colExpires') },
                { key: 'lastUsed', label: i18n.t('colLastUsed') },
                { key: 'today', label: i18n.t('colToday'), numeric: true },
                { key: 'month', label: i18n.t('colMonth'), numeric: true },
                { key: 'actions', label: i18n.t('colActions'), hidden: true },
              ]}
            >
              {creds.map((c) => {
                const u = usageByKey.get(c.key_id);
                return (
                  <tr key={c.key_id} data-testid={`key-row-${c.key_id}`}>
                    <th scope="row">
                      <code>{c.key_id}</code>
                    </th>
                    <td>{c.label || <span className="muted">—</span>}</td>
                    <td>
                      <span className={`pill pill--${c.status}`}>{i18n.t(`keyStatus_${c.status}`)}</span>
                    </td>
                    <td>{i18n.dateTime(c.created_at, tz)}</td>
                    <td>{c.expires_at ? i18n.dateTime(c.expires_at, tz) : <span className="muted">{i18n.t('never')}</span>}</td>
                    <td>{c.last_used_at ? i18n.dateTime(c.last_used_at, tz) : i18n.t('never')}</td>
                    <td className="num">{u ? i18n.number(u.daily.used) : '—'}</td>
                    <td className="num">{u ? i18n.number(u.monthly.used) : '—'}</td>
                    <td className="actions">
                      {c.status === 'active' && (
                        <>
                          <SmallButton
                            aria-label={i18n.t('rotateNamed', { id: c.key_id })}
                            onClick={() => {
                              setGrace(DEFAULT_GRACE);
                              setDialog({ kind: 'rotate', cred: c });
                            }}
                          >
                            {i18n.t('rotate')}
                          </SmallButton>
                          <SmallButton
                            variant="danger-outline"
                            aria-label={i18n.t('revokeNamed', { id: c.key_id })}
                            onClick={() => setDialog({ kind: 'revoke', cred: c })}
                          >
                            {i18n.t('revoke')}
                          </SmallButton>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </ScrollTable>
          )}
        </>
      )}

      {dialog?.kind === 'revoke' && (
        <ConfirmDialog
          title={i18n.t('revokeTitle', { id: dialog.cred.key_id })}
          confirmLabel={i18n.t('revoke')}
          danger
          busy={revoke.isPending}
          error={revoke.error}
          onConfirm={confirmDialog}
          onCancel={closeDialog}
        >
          <p>{i18n.t('revokeBody', { label: dialog.cred.label || dialog.cred.key_id })}</p>
        </ConfirmDialog>
      )}
      {dialog?.kind === 'rotate' && (
        <ConfirmDialog
          title={i18n.t('rotateTitle', { id: dialog.cred.key_id })}
          confirmLabel={i18n.t('rotate')}
          busy={rotate.isPending}
          error={rotate.error}
          onConfirm={confirmDialog}
          onCancel={closeDialog}
        >
          <p>{i18n.t('rotateBody')}</p>
          <div className="field">
            <label htmlFor={graceId}>{i18n.t('gracePeriod')}</label>
            <select id={graceId} className="input input--text" value={grace} onChange={(e) => setGrace(Number(e.target.value))}>
              {GRACE_CHOICES.map((g) => (
                <option key={g} value={g}>
                  {graceLabel(i18n, g)}
                </option>
              ))}
            </select>
          </div>
        </ConfirmDialog>
      )}
    </section>
  );
}
