// SPDX-License-Identifier: AGPL-3.0-or-later
// Every query key starts with who is asking (src/auth.ts callerId), so one role's answers can never
// be served to the other, and a sign-out can tell its own queries from a previous session's.
import type { AuditFilter, UsageTarget } from '../api';
import type { AccountStatus } from '../types';

export const keys = {
  usage: (who: string, account: UsageTarget) => [who, 'usage', account] as const,
  usageSummary: (who: string, account: UsageTarget) => [who, 'usage', account, 'summary'] as const,
  usageHistory: (who: string, account: UsageTarget, from: string | undefined, to: string | undefined) =>
    [who, 'usage', account, 'history', from, to] as const,
  usageAlerts: (who: string, account: UsageTarget) => [who, 'usage', account, 'alerts'] as const,

  accounts: (who: string) => [who, 'accounts'] as const,
  accountsPage: (who: string, status: AccountStatus | null, cursor: string | null) =>
    [who, 'accounts', 'page', status, cursor] as const,
  accountsAll: (who: string, status: AccountStatus | null) => [who, 'accounts', 'all', status] as const,
  account: (who: string, id: number) => [who, 'account', id] as const,
  contract: (who: string, id: number) => [who, 'account', id, 'contract'] as const,
  credentials: (who: string, id: number) => [who, 'account', id, 'credentials'] as const,

  plans: (who: string) => [who, 'plans'] as const,

  audit: (who: string) => [who, 'audit'] as const,
  auditEvents: (who: string, f: AuditFilter) => [who, 'audit', 'events', f.accountId ?? null, f.action ?? null] as const,
  auditVerification: (who: string) => [who, 'audit', 'verification'] as const,
};

/** The session a query or mutation key belongs to. */
export function keyOwner(key: readonly unknown[] | undefined): string | null {
  const first = key?.[0];
  return typeof first === 'string' ? first : null;
}
