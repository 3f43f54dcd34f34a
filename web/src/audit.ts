// SPDX-License-Identifier: AGPL-3.0-or-later
// The audit trail's vocabulary. Verifying the chain is the server's job (GET /v1/admin/audit/verify,
// src/queries/audit.ts): it recomputes each event's hash from fields the API does not list in full.

/** The actions the server records (src/services/admin.c), for the filter. */
export const AUDIT_ACTIONS = [
  'account.create',
  'account.suspend',
  'account.activate',
  'contract.put',
  'credential.issue',
  'credential.rotate',
  'credential.revoke',
  'plan.create',
  'plan.update',
] as const;
