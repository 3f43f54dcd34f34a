// SPDX-License-Identifier: AGPL-3.0-or-later
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import { ApiError, type Caller } from './api';
import { callerId, forgetCaller, loadCaller, saveCaller } from './auth';
import { SignIn, type Role, type SignInNotice } from './components/SignIn';
import { UsageView } from './components/UsageView';
import { Console } from './console/Console';
import { detectLang, I18nProvider, LANGS, makeI18n, type Lang } from './i18n';
import { keyOwner } from './queries/keys';
import { SessionProvider } from './session';

const LANG_KEY = 'starmeter.panel.lang';

function initialLang(): Lang {
  try {
    const saved = window.sessionStorage.getItem(LANG_KEY);
    if (saved === 'en' || saved === 'fr') return saved;
  } catch {
    // storage disabled
  }
  return detectLang();
}

export function App({ queryClient }: { queryClient: QueryClient }) {
  const [lang, setLang] = useState<Lang>(initialLang);
  const [caller, setCaller] = useState<Caller | null>(loadCaller);
  const [notice, setNotice] = useState<SignInNotice | null>(null);
  const [signInRole, setSignInRole] = useState<Role>('customer');
  const langId = useId();
  const i18n = useMemo(() => makeI18n(lang), [lang]);
  const operator = caller?.role === 'operator';

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = i18n.t(operator ? 'consoleTitle' : 'appTitle');
  }, [lang, i18n, operator]);

  const changeLang = (l: Lang) => {
    setLang(l);
    try {
      window.sessionStorage.setItem(LANG_KEY, l);
    } catch {
      // memory only
    }
  };

  // Signing in as either role forgets the other's secret and every cached answer: the customer's
  // view and the console never share anything.
  const signIn = useCallback(
    (c: Caller) => {
      queryClient.clear();
      saveCaller(c);
      setNotice(null);
      setCaller(c);
    },
    [queryClient],
  );

  // Read by the callbacks below without making them change on every sign-in.
  const callerRef = useRef(caller);
  useEffect(() => {
    callerRef.current = caller;
  }, [caller]);

  const signOut = useCallback(
    (reason: SignInNotice) => {
      const was = callerRef.current;
      if (was) setSignInRole(was.role);
      callerRef.current = null;
      forgetCaller();
      setCaller(null);
      void queryClient.cancelQueries();
      queryClient.clear();
      setNotice(reason);
      if (window.location.hash) window.history.replaceState(null, '', window.location.pathname + window.location.search);
    },
    [queryClient],
  );

  // A 401 on any query or mutation of this session (a revoked key, a wrong or changed admin token)
  // ends it: back to sign-in with the reason.
  const who = caller ? callerId(caller) : null;
  useEffect(() => {
    const current = () => (callerRef.current ? callerId(callerRef.current) : null);
    const check = (owner: string | null, error: unknown, role: Role) => {
      if (!(error instanceof ApiError) || !error.isUnauthorized || owner === null || owner !== current()) return;
      // Not from inside the cache's own notification: sign out once it has finished.
      setTimeout(() => {
        if (current() === owner) signOut({ kind: 'unauthorized', error, role });
      }, 0);
    };
    const unsubQ = queryClient.getQueryCache().subscribe((e) => {
      if (e.type === 'updated' && e.action.type === 'error') {
        check(keyOwner(e.query.queryKey), e.action.error, roleOf(keyOwner(e.query.queryKey)));
      }
    });
    const unsubM = queryClient.getMutationCache().subscribe((e) => {
      if (e.type === 'updated' && e.action.type === 'error') {
        const owner = keyOwner(e.mutation.options.mutationKey);
        check(owner, e.action.error, roleOf(owner));
      }
    });
    return () => {
      unsubQ();
      unsubM();
    };
  }, [queryClient, signOut]);

  return (
    <QueryClientProvider client={queryClient}>
      <I18nProvider lang={lang}>
        <a className="skip-link" href="#main">
          {i18n.t('skipToContent')}
        </a>
        <header className={`topbar${operator ? ' topbar--console' : ''}`}>
          <div className="topbar__inner">
            <div>
              <h1 className="topbar__title">
                <span aria-hidden="true" className="logo">
                  ★
                </span>{' '}
                {i18n.t(operator ? 'consoleTitle' : 'appTitle')}
              </h1>
              <p className="topbar__subtitle">{i18n.t(operator ? 'consoleSubtitle' : 'appSubtitle')}</p>
            </div>
            <div className="topbar__actions">
              <div className="lang-switch">
                <label htmlFor={langId}>{i18n.t('language')}</label>
                <select id={langId} value={lang} onChange={(e) => changeLang(e.target.value as Lang)}>
                  {LANGS.map((l) => (
                    <option key={l} value={l} lang={l}>
                      {i18n.t(l === 'en' ? 'langName_en' : 'langName_fr')}
                    </option>
                  ))}
                </select>
              </div>
              {caller && (
                <button type="button" className="button button--ghost" onClick={() => signOut({ kind: 'signedOut' })}>
                  {i18n.t('signOut')}
                </button>
              )}
            </div>
          </div>
        </header>
        <main id="main" className="main" tabIndex={-1}>
          {caller ? (
            <SessionProvider key={who} caller={caller}>
              {caller.role === 'operator' ? <Console /> : <UsageView />}
            </SessionProvider>
          ) : (
            <SignIn notice={notice} role={signInRole} onRoleChange={setSignInRole} onSignIn={signIn} />
          )}
        </main>
      </I18nProvider>
    </QueryClientProvider>
  );
}

function roleOf(owner: string | null): Role {
  return owner?.startsWith('operator:') ? 'operator' : 'customer';
}
