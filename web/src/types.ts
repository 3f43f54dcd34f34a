// SPDX-License-Identifier: AGPL-3.0-or-later
// Shapes of /v1/b2b/usage/summary and /v1/b2b/usage/history (docs/openapi.yaml).

export interface Totals {
  used: number;
  overage: number;
  blocked: number;
}

export interface PeriodUsage extends Totals {
  period_start: string;
  period_end: string;
  /** null means unlimited */
  limit: number | null;
  /** null when unlimited */
  remaining: number | null;
  resets_at: string;
}

export interface CredentialUsage {
  key_id: string;
  label: string;
  status: 'active' | 'revoked';
  last_used_at: string | null;
  daily: Totals;
  monthly: Totals;
}

export interface UsageSummary {
  account: { id: number; name: string };
  plan: { code: string; name: string };
  mode: 'block' | 'overage';
  overage_cap?: number | null;
  timezone: string;
  metered: boolean;
  daily: PeriodUsage;
  monthly: PeriodUsage;
  cumulative: Totals & { since: string };
  credentials: CredentialUsage[];
}

export interface HistoryDay {
  date: string;
  requests: number;
  overage: number;
  blocked: number;
}

export interface UsageHistory {
  from: string;
  to: string;
  timezone: string;
  credential?: string | null;
  days: HistoryDay[];
  totals: { requests: number; overage: number; blocked: number };
}

export interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
  request_id: string;
}
