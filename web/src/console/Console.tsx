// SPDX-License-Identifier: AGPL-3.0-or-later
import { useEffect, useRef, type ReactNode } from 'react';
import { useI18n, type MessageKey } from '../i18n';
import { AccountPage } from './AccountPage';
import { AccountsPage } from './AccountsPage';
import { AuditPage } from './AuditPage';
import { PlansPage } from './PlansPage';
import { routeHref, useRoute, type Route } from './route';

const NAV: { page: 'accounts' | 'plans' | 'audit'; label: MessageKey }[] = [
  { page: 'accounts', label: 'navAccounts' },
  { page: 'plans', label: 'navPlans' },
  { page: 'audit', label: 'navAudit' },
];

/** The operator's console: accounts, plans and the audit trail, one page at a time. */
export function Console() {
  const i18n = useI18n();
  const route = useRoute();
  const section = route.page === 'account' ? 'accounts' : route.page;
  return (
    <div className="console" data-testid="console">
      <nav className="console-nav" aria-label={i18n.t('consoleNav')}>
        <ul>
          {NAV.map((n) => (
            <li key={n.page}>
              <a href={routeHref({ page: n.page })} aria-current={section === n.page ? 'page' : undefined}>
                {i18n.t(n.label)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <Page route={route} />
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'account':
      return <AccountPage key={route.id} id={route.id} />;
    case 'plans':
      return <PlansPage />;
    case 'audit':
      return <AuditPage />;
    default:
      return <AccountsPage />;
  }
}

/**
 * A page's title, focused when the page opens so that a screen reader announces where a link led
 * (the console changes pages without reloading).
 */
export function PageHeading({ children, testId }: { children: ReactNode; testId?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: false });
  }, []);
  return (
    <h2 ref={ref} tabIndex={-1} className="page-title" data-testid={testId}>
      {children}
    </h2>
  );
}
