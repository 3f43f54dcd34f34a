// SPDX-License-Identifier: AGPL-3.0-or-later
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useId, useMemo, useState } from 'react';
import type { ApiError } from './api';
import { forgetApiKey, loadApiKey, saveApiKey } from './auth';
import { SignIn, type SignInNotice } from './components/SignIn';
import { UsageView } from './components/UsageView';
import { detectLang, I18nProvider, LANGS, makeI18n, type Lang } from './i18n';

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
  const [apiKey, setApiKey] = useState<string | null>(loadApiKey);
  const [notice, setNotice] = useState<SignInNotice | null>(null);
  const langId = useId();
  const i18n = useMemo(() => makeI18n(lang), [lang]);

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = i18n.t('appTitle');
  }, [lang, i18n]);

  const changeLang = (l: Lang) => {
    setLang(l);
    try {
      window.sessionStorage.setItem(LANG_KEY, l);
    } catch {
      // memory only
    }
  };

  const signIn = useCallback(
    (key: string) => {
      queryClient.clear();
      saveApiKey(key);
      setNotice(null);
      setApiKey(key);
    },
    [queryClient],
  );

  const signOut = useCallback(
    (reason: SignInNotice) => {
      forgetApiKey();
      setApiKey(null);
      void queryClient.cancelQueries();
      queryClient.clear();
      setNotice(reason);
    },
    [queryClient],
  );

  const onUnauthorized = useCallback(
    (error: ApiError) => signOut({ kind: 'unauthorized', error }),
    [signOut],
  );

  return (
    <QueryClientProvider client={queryClient}>
      <I18nProvider lang={lang}>
        <a className="skip-link" href="#main">
          {i18n.t('skipToContent')}
        </a>
        <header className="topbar">
          <div className="topbar__inner">
            <div>
              <h1 className="topbar__title">
                <span aria-hidden="true" className="logo">
                  ★
                </span>{' '}
                {i18n.t('appTitle')}
              </h1>
              <p className="topbar__subtitle">{i18n.t('appSubtitle')}</p>
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
              {apiKey && (
                <button type="button" className="button button--ghost" onClick={() => signOut({ kind: 'signedOut' })}>
                  {i18n.t('signOut')}
                </button>
              )}
            </div>
          </div>
        </header>
        <main id="main" className="main" tabIndex={-1}>
          {apiKey ? (
            <UsageView key={apiKey} apiKey={apiKey} onUnauthorized={onUnauthorized} />
          ) : (
            <SignIn notice={notice} onSignIn={signIn} />
          )}
        </main>
      </I18nProvider>
    </QueryClientProvider>
  );
}
