// SPDX-License-Identifier: AGPL-3.0-or-later
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { Caller } from '../api';
import { useI18n } from '../i18n';
import { ErrorNotice } from './ErrorNotice';

export type Role = Caller['role'];
export type SignInNotice = { kind: 'signedOut' } | { kind: 'unauthorized'; error: Error; role?: Role };

const TEXT = {
  customer: {
    title: 'signInTitle',
    intro: 'signInIntro',
    label: 'apiKeyLabel',
    hint: 'apiKeyHint',
    show: 'showKey',
    required: 'keyRequired',
    ended: 'sessionEnded',
  },
  operator: {
    title: 'operatorSignInTitle',
    intro: 'operatorSignInIntro',
    label: 'adminTokenLabel',
    hint: 'adminTokenHint',
    show: 'showToken',
    required: 'tokenRequired',
    ended: 'operatorSessionEnded',
  },
} as const;

/**
 * The customer signs in with an API key, the operator with the admin token: one form, two roles,
 * never both at once.
 */
export function SignIn({
  notice,
  role,
  onRoleChange,
  onSignIn,
}: {
  notice: SignInNotice | null;
  role: Role;
  onRoleChange: (r: Role) => void;
  onSignIn: (caller: Caller) => void;
}) {
  const i18n = useI18n();
  const headingId = useId();
  const inputId = useId();
  const hintId = useId();
  const errorId = useId();
  const roleName = useId();
  const [value, setValue] = useState('');
  const [show, setShow] = useState(false);
  const [missing, setMissing] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const text = TEXT[role];

  // Coming back here after a sign-out or a refused key: move focus to the heading so that
  // keyboard and screen-reader users land on the message.
  useEffect(() => {
    if (notice) headingRef.current?.focus();
  }, [notice]);

  const switchRole = (r: Role) => {
    setValue('');
    setMissing(false);
    onRoleChange(r);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const secret = value.trim();
    if (secret === '') {
      setMissing(true);
      return;
    }
    setMissing(false);
    setValue('');
    onSignIn(role === 'customer' ? { role, apiKey: secret } : { role, token: secret });
  };

  return (
    <section className="card signin" aria-labelledby={headingId}>
      <h2 id={headingId} ref={headingRef} tabIndex={-1}>
        {i18n.t(text.title)}
      </h2>
      {notice?.kind === 'unauthorized' && (
        <>
          <p className="notice notice--warning" data-testid="session-ended">
            {i18n.t(TEXT[notice.role ?? 'customer'].ended)}
          </p>
          <ErrorNotice error={notice.error} />
        </>
      )}
      {notice?.kind === 'signedOut' && (
        <p className="notice notice--info" role="status" data-testid="signed-out">
          {i18n.t('signedOutNotice')}
        </p>
      )}
      <fieldset className="role-switch">
        <legend>{i18n.t('signInAs')}</legend>
        {(['customer', 'operator'] as const).map((r) => (
          <div className="field--inline" key={r}>
            <input
              type="radio"
              id={`${roleName}-${r}`}
              name={roleName}
              value={r}
              checked={role === r}
              onChange={() => switchRole(r)}
            />
            <label htmlFor={`${roleName}-${r}`}>{i18n.t(r === 'customer' ? 'roleCustomer' : 'roleOperator')}</label>
          </div>
        ))}
      </fieldset>
      <p>{i18n.t(text.intro)}</p>
      {/* No name on the input and no action: the secret can never end up in a URL or a form post. */}
      <form onSubmit={submit} noValidate autoComplete="off">
        <div className="field">
          <label htmlFor={inputId}>{i18n.t(text.label)}</label>
          <input
            id={inputId}
            type={show ? 'text' : 'password'}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            aria-describedby={missing ? `${hintId} ${errorId}` : hintId}
            aria-invalid={missing || undefined}
            aria-required="true"
            className="input"
          />
          <p id={hintId} className="muted field__hint">
            {i18n.t(text.hint)}
          </p>
          {missing && (
            <p id={errorId} className="field__error" role="alert">
              {i18n.t(text.required)}
            </p>
          )}
        </div>
        <div className="field field--inline">
          <input id={`${inputId}-show`} type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} />
          <label htmlFor={`${inputId}-show`}>{i18n.t(text.show)}</label>
        </div>
        <button type="submit" className="button">
          {i18n.t('signIn')}
        </button>
      </form>
    </section>
  );
}
