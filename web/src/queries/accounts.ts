// SPDX-License-Identifier: AGPL-3.0-or-later
// Accounts, their contracts and their keys (operator only).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  createAccount,
  fetchAllPages,
  getAccount,
  getContract,
  issueCredential,
  listAccounts,
  listCredentials,
  PAGE_MAX,
  putContract,
  revokeCredential,
  rotateCredential,
  setAccountStatus,
} from '../api';
import { useSession } from '../session';
import type { AccountStatus, ContractInput } from '../types';
import { keys } from './keys';

export const ACCOUNTS_PAGE_SIZE = 20;

/** One page of the list, as the API pages it. */
export function useAccountsPage(status: AccountStatus | null, cursor: string | null, enabled = true) {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.accountsPage(who, status, cursor),
    queryFn: ({ signal }) => listAccounts(caller, { status, cursor, limit: ACCOUNTS_PAGE_SIZE }, signal),
    placeholderData: keepPreviousData,
    enabled,
  });
}

/** Every account, for a search (the API has no search parameter). */
export function useAllAccounts(status: AccountStatus | null, enabled: boolean) {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.accountsAll(who, status),
    queryFn: ({ signal }) =>
      fetchAllPages((cursor) => listAccounts(caller, { status, cursor, limit: PAGE_MAX }, signal)),
    enabled,
  });
}

export function useAccount(id: number) {
  const { caller, who } = useSession();
  return useQuery({ queryKey: keys.account(who, id), queryFn: ({ signal }) => getAccount(caller, id, signal) });
}

export function useContract(id: number) {
  const { caller, who } = useSession();
  return useQuery({ queryKey: keys.contract(who, id), queryFn: ({ signal }) => getContract(caller, id, signal) });
}

export function useCredentials(id: number) {
  const { caller, who } = useSession();
  return useQuery({
    queryKey: keys.credentials(who, id),
    queryFn: ({ signal }) => listCredentials(caller, id, signal),
  });
}

/**
 * After a change, everything this session shows may have moved (lists, usage, the audit trail).
 * Not awaited: the caller's own onSuccess runs at once, before the refetches remount anything.
 */
export function useRefreshAll() {
  const qc = useQueryClient();
  const { who } = useSession();
  return () => {
    void qc.invalidateQueries({ queryKey: [who] });
  };
}

export function useCreateAccount() {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'account', 'create'],
    mutationFn: (name: string) => createAccount(caller, name),
    onSuccess: refresh,
  });
}

export function useSetAccountStatus() {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'account', 'status'],
    mutationFn: (v: { id: number; status: AccountStatus }) => setAccountStatus(caller, v.id, v.status),
    onSuccess: refresh,
  });
}

export function usePutContract(id: number) {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'account', id, 'contract'],
    mutationFn: (c: ContractInput) => putContract(caller, id, c),
    onSuccess: refresh,
  });
}

// A new key is in the answer of these two: gcTime 0 lets the mutation cache drop it as soon as
// the component has taken it (it calls reset()), so it is held in one place only.
export function useIssueCredential(id: number) {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'account', id, 'credential', 'issue'],
    mutationFn: (label: string) => issueCredential(caller, id, label),
    onSuccess: refresh,
    gcTime: 0,
  });
}

export function useRotateCredential() {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'credential', 'rotate'],
    mutationFn: (v: { keyId: string; graceSeconds: number }) => rotateCredential(caller, v.keyId, v.graceSeconds),
    onSuccess: refresh,
    gcTime: 0,
  });
}

export function useRevokeCredential() {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'credential', 'revoke'],
    mutationFn: (keyId: string) => revokeCredential(caller, keyId),
    onSuccess: refresh,
  });
}
