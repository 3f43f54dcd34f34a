// SPDX-License-Identifier: AGPL-3.0-or-later
// Pure rules of the usage view, kept apart so the tests can read them plainly.
import type { PeriodUsage, UsageSummary } from './types';

export type Level = 'ok' | 'warning' | 'danger';

export const WARNING_RATIO = 0.8;
export const DANGER_RATIO = 1;

/** Share of the limit used; null when unlimited. A limit of 0 counts as reached. */
export function usageRatio(used: number, limit: number | null): number | null {
  if (limit === null) return null;
  if (limit <= 0) return 1;
  return used / limit;
}

/** "warning" from 80% of the limit, "danger" from 100%. */
export function usageLevel(used: number, limit: number | null): Level {
  const r = usageRatio(used, limit);
  if (r === null) return 'ok';
  if (r >= DANGER_RATIO) return 'danger';
  if (r >= WARNING_RATIO) return 'warning';
  return 'ok';
}

export type StatusKey = 'status_ok' | 'status_warning' | 'status_danger' | 'status_over';

export function statusKey(p: Pick<PeriodUsage, 'used' | 'limit'>): StatusKey {
  const level = usageLevel(p.used, p.limit);
  if (level === 'danger') return p.limit !== null && p.used > p.limit ? 'status_over' : 'status_danger';
  return level === 'warning' ? 'status_warning' : 'status_ok';
}

/** A new account: nothing served and nothing refused since the contract started. */
export function isEmptyAccount(s: UsageSummary): boolean {
  return s.cumulative.used === 0 && s.cumulative.blocked === 0 && s.cumulative.overage === 0;
}

/** YYYY-MM-DD of an instant in an IANA time zone. */
export function ymdInZone(instant: Date, timeZone: string): string {
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' });
  }
  const parts = Object.fromEntries(f.formatToParts(instant).map((p) => [p.type, p.value]));
  return `${parts['year']}-${parts['month']}-${parts['day']}`;
}

export function addDays(ymd: string, days: number): string {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return t.toISOString().slice(0, 10);
}

export const HISTORY_DAYS = 30;

/** The last 30 calendar days of the contract's time zone, today included. */
export function historyRange(s: UsageSummary): { from: string; to: string } {
  const start = new Date(s.daily.period_start);
  const to = Number.isNaN(start.getTime()) ? ymdInZone(new Date(), s.timezone) : ymdInZone(start, s.timezone);
  return { from: addDays(to, -(HISTORY_DAYS - 1)), to };
}
