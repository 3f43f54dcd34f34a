// SPDX-License-Identifier: AGPL-3.0-or-later
import { useMutation, useQuery } from '@tanstack/react-query';
import { createPlan, listAllPlans, patchPlan } from '../api';
import { useSession } from '../session';
import type { PlanInput, PlanPatch } from '../types';
import { useRefreshAll } from './accounts';
import { keys } from './keys';

export function usePlans() {
  const { caller, who } = useSession();
  return useQuery({ queryKey: keys.plans(who), queryFn: ({ signal }) => listAllPlans(caller, signal) });
}

export function useCreatePlan() {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'plan', 'create'],
    mutationFn: (p: PlanInput) => createPlan(caller, p),
    onSuccess: refresh,
  });
}

export function usePatchPlan() {
  const { caller, who } = useSession();
  const refresh = useRefreshAll();
  return useMutation({
    mutationKey: [who, 'plan', 'patch'],
    mutationFn: (v: { code: string; patch: PlanPatch }) => patchPlan(caller, v.code, v.patch),
    // A plan's limits reach every account on it: usage and contracts are refreshed too.
    onSuccess: refresh,
  });
}
