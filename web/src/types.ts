// SPDX-License-Identifier: AGPL-3.0-or-later
// The API's shapes, taken from src/generated/openapi.ts (generated from docs/openapi.yaml by
// `npm run types:generate`, checked current by `npm run typecheck`). Only what the contract leaves
// loose is narrowed here, and request bodies are partials since most of their fields are optional.
import type { components, operations } from './generated/openapi';

type Schemas = components['schemas'];

export type Totals = Schemas['Totals'];
export type PeriodUsage = Schemas['PeriodUsage'];
export type CredentialUsage = Schemas['UsageSummary']['credentials'][number];

/** `overage_cap` is only sent in overage mode; `cumulative.since` always is. */
export type UsageSummary = Omit<Schemas['UsageSummary'], 'overage_cap' | 'cumulative'> & {
  overage_cap?: number | null;
  cumulative: Totals & { since: string };
};

export type HistoryDay = Schemas['UsageHistory']['days'][number];
/** `credential` is null when the history covers every key. */
export type UsageHistory = Omit<Schemas['UsageHistory'], 'credential'> & { credential?: string | null };

export type UsageAlert = Schemas['UsageAlert'];
export type UsageAlerts = Schemas['UsageAlerts'];

export type ErrorBody = Schemas['Error']['error'];

export type Account = Schemas['Account'];
export type AccountStatus = Account['status'];
export type Limits = Schemas['Limits'];
export type LimitMode = Limits['limit_mode'];
// openapi-typescript leaves the members of an allOf optional; the server sends them all.
export type Plan = Required<Schemas['Plan']>;
/** `overrides` holds only the limits the contract sets itself; the others follow the plan. */
export type Contract = Omit<Schemas['Contract'], 'overrides' | 'effective'> & {
  overrides: Partial<Limits>;
  effective: Required<Schemas['Contract']['effective']>;
};
export type Credential = Required<Schemas['Credential']>;
/** `details` is any object (before and after of the changed fields). */
export type AuditEvent = Omit<Schemas['AuditEvent'], 'details'> & { details: Record<string, unknown> };
/**
 * The server's recomputation of the whole chain: `first_broken_seq` and `reason` (the server's
 * English) are null when it is valid.
 */
export type AuditVerification = operations['verifyAudit']['responses'][200]['content']['application/json']['data'];

/** A page of a list: pass next_cursor back as cursor; null on the last page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The answer to issuing or rotating a key: the full key, shown this once. */
export type IssuedCredential = Credential & { api_key: string; previous?: Credential };

export type LimitsInput = Partial<Limits>;
export type PlanInput = LimitsInput & { code: string; name: string; metered?: boolean };
export type PlanPatch = LimitsInput & { name?: string; metered?: boolean };
export interface ContractInput {
  plan_code: string;
  timezone?: string;
  overrides?: LimitsInput;
}
