// SPDX-License-Identifier: AGPL-3.0-or-later
// The console's pages live in the URL's fragment (#/accounts/12): the back button and links work,
// and the server serves index.html whatever the fragment. Nothing secret ever goes there.
import { useEffect, useState } from 'react';

export type Route = { page: 'accounts' } | { page: 'account'; id: number } | { page: 'plans' } | { page: 'audit' };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'accounts' && parts[1] && /^\d{1,15}$/.test(parts[1])) return { page: 'account', id: Number(parts[1]) };
  if (parts[0] === 'plans') return { page: 'plans' };
  if (parts[0] === 'audit') return { page: 'audit' };
  return { page: 'accounts' };
}

export function routeHref(r: Route): string {
  return r.page === 'account' ? `#/accounts/${r.id}` : `#/${r.page}`;
}

export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parseRoute(hash);
}

export function navigate(r: Route): void {
  window.location.hash = routeHref(r);
}
