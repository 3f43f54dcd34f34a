// SPDX-License-Identifier: AGPL-3.0-or-later
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useI18n } from '../i18n';
import { ErrorNotice } from './ErrorNotice';

export type SignInNotice = { kind: 'signedOut' } | { kind: 'unauthorized'; error: Error };

export function SignIn({ notice, onSignIn }: { notice: SignInNotice | null; onSignIn: (key: string) => void }) {
  const i18n = useI18n();
  const headingId = useId();
  const inputId = useId();
  const hintId = useId();
  const errorId = useId();
  const [value, setValue] = useState('');
  const [show, setShow] = useState(false);
  const [missing, setMissing] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);

  // Coming back here after a sign-out or a refused key: move focus to the heading so that
  // keyboard and screen-reader users land on the message.
  useEffect(() => {
    if (notice) headingRef.current?.focus();
  }, [notice]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const key = value.trim();
    if (key === '') {
      setMissing(true);
      return;
    }
    setMissing(false);
    setValue('');
    onSignIn(key);
  };

  return (
    <section className="card signin" aria-labelledby={headingId}>
      <h2 id={headingId} ref={headingRef} tabIndex={-1}>
        {i18n.t('signInTitle')}
      </h2>
      {notice?.kind === 'unauthorized' && (
        <>
          <p className="notice notice--warning" data-testid="session-ended">
            {i18n.t('sessionEnded')}
          </p>
          <ErrorNotice error={notice.error} />
        </>
      )}
      {notice?.kind === 'signedOut' && (
        <p className="notice notice--info" role="status" data-testid="signed-out">
          {i18n.t('signedOutNotice')}
        </p>
      )}
      <p>{i18n.t('signInIntro')}</p>
      {/* No name on the input and no action: the key can never end up in a URL or a form post. */}
      <form onSubmit={submit} noValidate autoComplete="off">
        <div className="field">
          <label htmlFor={inputId}>{i18n.t('apiKeyLabel')}</label>
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
            {i18n.t('apiKeyHint')}
          </p>
          {missing && (
            <p id={errorId} className="field__error" role="alert">
              {i18n.t('keyRequired')}
            </p>
          )}
        </div>
        <div className="field field--inline">
          <input id={`${inputId}-show`} type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} />
          <label htmlFor={`${inputId}-show`}>{i18n.t('showKey')}</label>
        </div>
        <button type="submit" className="button">
          {i18n.t('signIn')}
        </button>
      </form>
    </section>
  );
}
