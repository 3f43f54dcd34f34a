// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import { parseCount, parseThresholds, serverFieldErrors, translateIssue } from '../fields';
import { makeI18n } from '../i18n';
import { account } from '../test/fakeAdmin';
import { matchesSearch } from './AccountsPage';
import { describeChanges } from './AuditPage';
import { graceLabel } from './KeysCard';
import { parseRoute, routeHref } from './route';

const en = makeI18n('en', 'en');
const fr = makeI18n('fr', 'fr');

describe('plurals through Intl.PluralRules', () => {
  it.each([
    [en, 0, '0 accounts match.'],
    [en, 1, '1 account matches.'],
    [en, 2, '2 accounts match.'],
    [fr, 0, '0 compte correspond.'],
    [fr, 1, '1 compte correspond.'],
    [fr, 2, '2 comptes correspondent.'],
    [fr, 1500, '1\u202f500 comptes correspondent.'],
  ] as const)('%#: %i', (i18n, n, text) => {
    expect(i18n.plural('accountsFound', n)).toBe(text);
  });

  it('falls back to the "other" form for a category the language does not spell out', () => {
    // French has a "many" category (1 000 000); the dictionary gives "one" and "other"
    expect(new Intl.PluralRules('fr').select(1_000_000)).toBe('many');
    expect(fr.plural('eventsCount', 1_000_000)).toBe('1\u202f000\u202f000 événements.');
  });

  it('words grace periods', () => {
    expect(graceLabel(en, 0)).toBe('No longer: stop it now');
    expect(graceLabel(en, 3600)).toBe('For 1 hour');
    expect(graceLabel(en, 86400)).toBe('For 1 day');
    expect(graceLabel(fr, 7 * 86400)).toBe('Pendant 7 jours');
  });
});

describe('field errors by code, not by the server’s English', () => {
  it.each([
    ['is required', 'Obligatoire.'],
    ['must be an integer from 1 to 200', 'Un nombre entier de 1 à 200.'],
    ['must be one of: active, suspended', 'L’une des valeurs : active, suspended.'],
    ['no plan has code "gold"', 'Aucun forfait n’a le code « gold ».'],
    ['something new the server says', 'Cette valeur a été refusée.'],
  ])('"%s"', (issue, text) => {
    expect(translateIssue(fr, issue)).toBe(text);
  });

  it('names nested override fields', () => {
    const e = new ApiError({
      status: 422,
      code: 'validation_error',
      message: 'The request is not valid.',
      details: { fields: [{ field: 'overrides', issue: 'daily_limit must be null or an integer from 0 to 10' }, { field: 'plan_code', issue: 'is required' }] },
    });
    expect(serverFieldErrors(en, e)).toEqual({ 'overrides.daily_limit': 'A whole number from 0 to 10.', plan_code: 'Required.' });
    expect(serverFieldErrors(en, new ApiError({ status: 500, code: 'internal_error', message: 'x' }))).toEqual({});
  });

  it('reads counts', () => {
    expect(parseCount('')).toEqual({ ok: true, value: null });
    expect(parseCount(' 42 ')).toEqual({ ok: true, value: 42 });
    expect(parseCount('-1').ok).toBe(false);
    expect(parseCount('1.5').ok).toBe(false);
  });
});

describe('audit trail', () => {
  it('shows changes as before → after', () => {
    expect(describeChanges({ before: { status: 'active' }, after: { status: 'suspended' } })).toEqual(['status: active → suspended']);
    expect(describeChanges({ after: { label: 'p', expires_at: null } })).toEqual(['label: p', 'expires_at: ∅']);
    expect(describeChanges({ truncated: true })).toEqual(['{"truncated":true}']);
  });
});

describe('console rules', () => {
  it('routes by fragment', () => {
    expect(parseRoute('#/accounts/12')).toEqual({ page: 'account', id: 12 });
    expect(parseRoute('#/plans')).toEqual({ page: 'plans' });
    expect(parseRoute('#/audit')).toEqual({ page: 'audit' });
    expect(parseRoute('')).toEqual({ page: 'accounts' });
    expect(parseRoute('#/accounts/abc')).toEqual({ page: 'accounts' });
    expect(routeHref({ page: 'account', id: 3 })).toBe('#/accounts/3');
  });

  it('searches names without case or accents, and ids', () => {
    const a = account(42, 'Zéphyr Ltd');
    expect(matchesSearch(a, 'zephyr')).toBe(true);
    expect(matchesSearch(a, 'ZÉPH')).toBe(true);
    expect(matchesSearch(a, '42')).toBe(true);
    expect(matchesSearch(a, '#42')).toBe(true);
    expect(matchesSearch(a, '4')).toBe(false);
    expect(matchesSearch(a, 'acme')).toBe(false);
  });
});

describe('every error code of the contract has its words', () => {
  it('in English and French', async () => {
    const { readFileSync } = await import('node:fs');
    const { resolve } = await import('node:path');
    const generated = readFileSync(resolve(process.cwd(), 'src/generated/openapi.ts'), 'utf8');
    const m = /code: ("missing_api_key"[^;]+);/.exec(generated);
    const codes = [...(m?.[1] ?? '').matchAll(/"([a-z_]+)"/g)].map((x) => x[1]!);
    expect(codes.length).toBeGreaterThan(15);
    for (const i18n of [en, fr]) {
      for (const code of codes) expect(i18n.tMaybe(`err_${code}`, 'MISSING'), `${i18n.lang} err_${code}`).not.toBe('MISSING');
    }
  });
});

describe('alert thresholds typed by an operator', () => {
  it.each([
    ['80, 100', [80, 100]],
    ['100,80', [80, 100]],
    ['', []],
    ['  5 ; 50   95 ', [5, 50, 95]],
    ['1,2,3,4,100', [1, 2, 3, 4, 100]],
  ])('%j is %j', (raw, want) => {
    expect(parseThresholds(raw)).toEqual({ ok: true, value: want });
  });
  it.each(['0', '101', '80,80', '1,2,3,4,5,6', '80%', '-5', '8.5', 'eighty'])('%j is refused', (raw) => {
    expect(parseThresholds(raw).ok).toBe(false);
  });
});
