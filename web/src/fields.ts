// SPDX-License-Identifier: AGPL-3.0-or-later
// Field errors: the server's 422 `details.fields` (English) turned into the panel's language, and
// the checks a form makes before sending.
import { ApiError } from './api';
import type { I18n, MessageKey, Vars } from './i18n';

/** Translated messages by field name; nested fields as "overrides.daily_limit". */
export type FieldErrors = Record<string, string>;

const range = (i18n: I18n, m: RegExpExecArray): Vars => ({ min: i18n.number(Number(m[1])), max: i18n.number(Number(m[2])) });

// The issues the server words (src/services/jbody.c, admin.c, the stores), as message keys.
const ISSUES: readonly [RegExp, MessageKey, (m: RegExpExecArray, i18n: I18n) => Vars][] = [
  [/^is required$/, 'issue_required', () => ({})],
  [/^must be an integer from (-?\d+) to (-?\d+)$/, 'issue_intRange', (m, i) => range(i, m)],
  [/^must be null or an integer from (-?\d+) to (-?\d+)$/, 'issue_intRange', (m, i) => range(i, m)],
  [/^must be one of: (.+)$/, 'issue_oneOf', (m) => ({ values: m[1]! })],
  [/^must be at most (\d+) characters$/, 'issue_maxChars', (m) => ({ n: m[1]! })],
  [/^must be a non-empty string/, 'issue_required', () => ({})],
  [/^must not contain control characters$/, 'issue_controlChars', () => ({})],
  [/^must be 1 to 64 of a-z/, 'issue_planCode', () => ({})],
  [/^must be an IANA time zone/, 'issue_timezone', () => ({})],
  [/^no plan has code "(.*)"$/, 'issue_noPlan', (m) => ({ code: m[1]! })],
  [/^a plan with code "(.*)" already exists$/, 'issue_planExists', (m) => ({ code: m[1]! })],
  [/^must be in the future$/, 'issue_future', () => ({})],
  [/^is not a known field$/, 'issue_unknownField', () => ({})],
  [/^must be true or false$/, 'issue_boolean', () => ({})],
  [/^must be (a string|an object|a JSON object)$/, 'issue_type', () => ({})],
];

export function translateIssue(i18n: I18n, issue: string): string {
  for (const [re, key, vars] of ISSUES) {
    const m = re.exec(issue);
    if (m) return i18n.t(key, vars(m, i18n));
  }
  return i18n.t('issue_other');
}

/** "overrides" + "daily_limit must be ..." names the nested field. */
function splitNested(field: string, issue: string): { field: string; issue: string } {
  if (field === 'overrides') {
    const m = /^([a-z_]+) (.+)$/.exec(issue);
    if (m) return { field: `overrides.${m[1]}`, issue: m[2]! };
  }
  return { field, issue };
}

/** The 422's fields, translated; {} for any other error. */
export function serverFieldErrors(i18n: I18n, error: unknown): FieldErrors {
  if (!(error instanceof ApiError) || error.status !== 422) return {};
  const out: FieldErrors = {};
  for (const f of error.fields) {
    const { field, issue } = splitNested(f.field, f.issue);
    out[field] ??= translateIssue(i18n, issue);
  }
  return out;
}

/**
 * Alert thresholds typed as "80, 100": up to 5 distinct whole percentages from 1 to 100, sorted;
 * '' is an empty list (alerts off). Anything else is an error.
 */
export function parseThresholds(raw: string): { ok: true; value: number[] } | { ok: false } {
  const parts = raw.split(/[\s,;]+/).filter((p) => p !== '');
  if (parts.length > 5 || parts.some((p) => !/^\d{1,3}$/.test(p))) return { ok: false };
  const values = parts.map(Number);
  if (values.some((v) => v < 1 || v > 100) || new Set(values).size !== values.length) return { ok: false };
  return { ok: true, value: values.sort((a, b) => a - b) };
}

/** An optional whole number: '' is null; anything but digits is an error. */
export function parseCount(raw: string): { ok: true; value: number | null } | { ok: false } {
  const s = raw.trim();
  if (s === '') return { ok: true, value: null };
  if (!/^\d{1,15}$/.test(s)) return { ok: false };
  return { ok: true, value: Number(s) };
}
