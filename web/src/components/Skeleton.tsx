// SPDX-License-Identifier: AGPL-3.0-or-later
import { useI18n } from '../i18n';

export function SkeletonBlock({ height = '1rem', width = '100%' }: { height?: string; width?: string }) {
  return <div className="skeleton" style={{ height, width }} aria-hidden="true" />;
}

/** Placeholder shapes of the usage view while the first answer is awaited. */
export function UsageSkeleton() {
  const i18n = useI18n();
  return (
    <div className="usage" aria-busy="true" data-testid="usage-skeleton">
      <p role="status" className="visually-hidden">
        {i18n.t('loading')}
      </p>
      <div className="card">
        <SkeletonBlock height="1.5rem" width="40%" />
        <SkeletonBlock height="1rem" width="70%" />
      </div>
      <div className="grid-2">
        {[0, 1].map((k) => (
          <div className="card" key={k}>
            <SkeletonBlock height="1.25rem" width="30%" />
            <SkeletonBlock height="2.5rem" width="50%" />
            <SkeletonBlock height="0.75rem" />
            <SkeletonBlock height="1rem" width="60%" />
          </div>
        ))}
      </div>
      <div className="card">
        <SkeletonBlock height="1.25rem" width="25%" />
        <SkeletonBlock height="14rem" />
      </div>
    </div>
  );
}

/** The 30-day chart's place while its data or its code loads. */
export function HistorySkeleton() {
  const i18n = useI18n();
  return (
    <section className="card" aria-busy="true" data-testid="history-skeleton">
      <p role="status" className="visually-hidden">
        {i18n.t('historyLoading')}
      </p>
      <SkeletonBlock height="1.25rem" width="25%" />
      <SkeletonBlock height="14rem" />
    </section>
  );
}

/** Rows of a table being loaded; `label` is said to screen readers. */
export function TableSkeleton({ label, rows = 4 }: { label: string; rows?: number }) {
  return (
    <div aria-busy="true" data-testid="table-skeleton">
      <p role="status" className="visually-hidden">
        {label}
      </p>
      {Array.from({ length: rows }, (_, i) => (
        <SkeletonBlock key={i} height="1.6rem" />
      ))}
    </div>
  );
}
