// SPDX-License-Identifier: AGPL-3.0-or-later
// The signed-in caller, for the query hooks: they read the secret and who is asking from here.
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import type { Caller } from './api';
import { callerId } from './auth';

export interface Session {
  caller: Caller;
  /** The first element of every query and mutation key of this session. */
  who: string;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ caller, children }: { caller: Caller; children: ReactNode }) {
  const value = useMemo(() => ({ caller, who: callerId(caller) }), [caller]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession() outside a signed-in view');
  return s;
}
