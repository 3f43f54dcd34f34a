// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { useI18n } from '../i18n';
import type { PeriodUsage } from '../types';
import { usageLevel } from '../usage';
import { Gauge } from './Gauge';

export function PeriodCard({
  title,
  period,
  mode,
  timeZone,
  testId,
}: {
  title: string;
  period: PeriodUsage;
  mode: 'block' | 'overage';
  timeZone: string;
  testId: string;
}) {
  const i18n = useI18n();
  const headingId = useId();
  const level = usageLevel(period.used, period.limit);
  const resets = i18n.dateTime(period.resets_at, timeZone);
  return (
    <section className={`card period period--${level}`} aria-labelledby={headingId} data-testid={testId}>
      <h2 id={headingId}>{title}</h2>
      <dl className="stats">
        <div className="stat stat--main">
          <dt>{i18n.t('used')}</dt>
          <dd data-testid={`${testId}-used`}>{i18n.number(period.used)}</dd>
        </div>
        <div className="stat">
          <dt>{i18n.t('limit')}</dt>
          <dd data-testid={`${testId}-limit`}>
            {period.limit === null ? i18n.t('unlimited') : i18n.number(period.limit)}
          </dd>
        </div>
        <div className="stat">
          <dt>{i18n.t('remaining')}</dt>
          <dd data-testid={`${testId}-remaining`}>
            {period.remaining === null ? i18n.t('unlimited') : i18n.number(period.remaining)}
          </dd>
        </div>
        <div className={`stat${period.overage > 0 ? ' stat--alert' : ''}`}>
          <dt>{i18n.t('overage')}</dt>
          <dd data-testid={`${testId}-overage`}>{i18n.number(period.overage)}</dd>
        </div>
        <div className={`stat${period.blocked > 0 ? ' stat--alert' : ''}`}>
          <dt>{i18n.t('blocked')}</dt>
          <dd data-testid={`${testId}-blocked`}>{i18n.number(period.blocked)}</dd>
        </div>
      </dl>
      {period.limit !== null ? (
        <Gauge label={i18n.t('gaugeLabel', { period: title })} used={period.used} limit={period.limit} />
      ) : (
        <p className="muted">{i18n.t('noLimitPeriod')}</p>
      )}
      {level === 'danger' && (
        <p className="period__hint period__hint--danger">
          {i18n.t(mode === 'block' ? 'dangerBlock' : 'dangerOverage', { time: resets })}
        </p>
      )}
      {level === 'warning' && <p className="period__hint">{i18n.t('warningHint')}</p>}
      <p className="muted period__reset">
        <span aria-hidden="true">↻ </span>
        {i18n.t('resetsAt', { time: resets })}
      </p>
    </section>
  );
}
