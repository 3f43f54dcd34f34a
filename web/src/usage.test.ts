// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { maskApiKey } from './auth';
import { summary } from './test/fixtures';
import { addDays, historyRange, statusKey, usageLevel, ymdInZone } from './usage';

describe('usage thresholds', () => {
  it.each([
    [0, 1000, 'ok'],
    [799, 1000, 'ok'],
    [800, 1000, 'warning'],
    [999, 1000, 'warning'],
    [1000, 1000, 'danger'],
    [1500, 1000, 'danger'],
    [4, 5, 'warning'],
    [5, 5, 'danger'],
    [0, 0, 'danger'],
    [123456, null, 'ok'],
  ] as const)('%i of %s is %s', (used, limit, level) => {
    expect(usageLevel(used, limit)).toBe(level);
  });

  it('tells a reached limit from an exceeded one', () => {
    expect(statusKey({ used: 1000, limit: 1000 })).toBe('status_danger');
    expect(statusKey({ used: 1001, limit: 1000 })).toBe('status_over');
    expect(statusKey({ used: 850, limit: 1000 })).toBe('status_warning');
    expect(statusKey({ used: 10, limit: null })).toBe('status_ok');
  });
});

describe('history range', () => {
  it('is the last 30 days of the contract time zone, today included', () => {
    expect(historyRange(summary())).toEqual({ from: '2026-10-26', to: '2026-11-24' });
  });

  it("takes today's date in the contract's zone, not UTC", () => {
    const s = summary({ timezone: 'Europe/Paris' });
    s.daily.period_start = '2026-11-23T23:00:00Z'; // midnight in Paris
    expect(historyRange(s).to).toBe('2026-11-24');
    expect(ymdInZone(new Date('2026-11-23T23:30:00Z'), 'UTC')).toBe('2026-11-23');
  });

  it('adds days across months and years', () => {
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });
});

describe('maskApiKey', () => {
  it('keeps the public key id and hides the secret', () => {
    const masked = maskApiKey('sm_live_AbCdEf123456_s3cr3tS3CR3T');
    expect(masked).toBe('sm_live_AbCdEf123456_••••••••');
    expect(masked).not.toContain('s3cr3t');
  });

  it('hides other shapes too', () => {
    expect(maskApiKey('abcdefghijkl')).toBe('abcd••••••••');
    expect(maskApiKey('abc')).toBe('••••••••');
  });
});
