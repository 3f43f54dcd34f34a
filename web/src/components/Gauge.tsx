// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { useI18n } from '../i18n';
import { statusKey, usageLevel, usageRatio } from '../usage';

const ICON = { ok: '✓', warning: '!', danger: '✕' } as const;

/** Share of a limit used, as an ARIA progressbar with a text status (never colour alone). */
export function Gauge({ label, used, limit }: { label: string; used: number; limit: number }) {
  const i18n = useI18n();
  const id = useId();
  const level = usageLevel(used, limit);
  const ratio = usageRatio(used, limit) ?? 0;
  const status = i18n.t(statusKey({ used, limit }));
  const width = `${Math.min(100, Math.max(0, ratio * 100))}%`;
  const valueText = i18n.t('gaugeValueText', {
    used: i18n.number(used),
    limit: i18n.number(limit),
    percent: i18n.percent(ratio),
    status,
  });
  return (
    <div className={`gauge gauge--${level}`} data-level={level}>
      <div className="gauge__head">
        <span id={`${id}-label`} className="gauge__label">
          {label}
        </span>
        <span className={`badge badge--${level}`} data-testid="gauge-status">
          <span aria-hidden="true" className="badge__icon">
            {ICON[level]}
          </span>{' '}
          {status} · {i18n.percent(ratio)}
        </span>
      </div>
      <div
        className="gauge__track"
        role="progressbar"
        aria-labelledby={`${id}-label`}
        aria-valuemin={0}
        aria-valuemax={limit}
        aria-valuenow={Math.min(used, limit)}
        aria-valuetext={valueText}
        data-level={level}
      >
        <div className="gauge__fill" style={{ width }} />
      </div>
    </div>
  );
}
