// SPDX-License-Identifier: AGPL-3.0-or-later
import { useQuery } from '@tanstack/react-query';
import { listAllAudit, verifyAudit, type AuditFilter } from '../api';
import { useSession } from '../session';
import { keys } from './keys';

/** The events the filter keeps, newest first (the API lists oldest first, so every page is read). */
export function useAuditEvents(filter: AuditFilter) {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.auditEvents(who, filter),
    queryFn: async ({ signal }) => (await listAllAudit(caller, filter, signal)).reverse(),
  });
}

/**
 * The whole chain verified by the server, which recomputes each event's hash (the API gives
 * times to the second, the hash covers them to the millisecond, so the browser could not).
 */
export function useAuditVerification() {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.auditVerification(who),
    queryFn: ({ signal }) => verifyAudit(caller, signal),
  });
}
