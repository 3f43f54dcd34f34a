// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { maskApiKey } from '../auth';
import { useI18n } from '../i18n';

export function firstCallCommand(origin: string, maskedKey: string): string {
  return `curl -H "X-API-Key: ${maskedKey}" "${origin}/v1/b2b/astrology/weekly-by-sign?sign=aries"`;
}

/** A new account: says so, and shows how to make a first call (the key masked). */
export function EmptyState({ apiKey }: { apiKey: string }) {
  const i18n = useI18n();
  const headingId = useId();
  const origin = typeof window !== 'undefined' ? window.location.origin : '';
  return (
    <section className="card card--info" aria-labelledby={headingId} data-testid="empty-state">
      <h2 id={headingId}>{i18n.t('emptyTitle')}</h2>
      <p>{i18n.t('emptyBody')}</p>
      <pre className="code-block" data-testid="first-call">
        <code>{firstCallCommand(origin, maskApiKey(apiKey))}</code>
      </pre>
      <p className="muted">{i18n.t('emptyKeyNote')}</p>
    </section>
  );
}
