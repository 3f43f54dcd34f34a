// SPDX-License-Identifier: AGPL-3.0-or-later
// Usage, for both views: a customer's own account ('self'), or any account for an operator.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { fetchAlerts, fetchHistory, fetchSummary, type UsageTarget } from '../api';
import { useSession } from '../session';
import type { UsageSummary } from '../types';
import { historyRange } from '../usage';
import { keys } from './keys';

export function useUsageSummary(account: UsageTarget, opts: { enabled?: boolean } = {}) {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.usageSummary(who, account),
    queryFn: ({ signal }) => fetchSummary(caller, account, signal),
    enabled: opts.enabled ?? true,
  });
}

/** The usage alerts of the current and previous day and month. */
export function useUsageAlerts(account: UsageTarget) {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.usageAlerts(who, account),
    queryFn: ({ signal }) => fetchAlerts(caller, account, signal),
  });
}

/** The 30 days of the summary's contract time zone; waits for the summary. */
export function useUsageHistory(account: UsageTarget, summary: UsageSummary | undefined) {
  const { caller, who } = useSession();
  const range = summary ? historyRange(summary) : null;
  return useQuery({
    queryKey: keys.usageHistory(who, account, range?.from, range?.to),
    queryFn: ({ signal }) => fetchHistory(caller, range!, account, signal),
    enabled: range !== null,
    placeholderData: keepPreviousData,
  });
}
