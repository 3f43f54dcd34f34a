// SPDX-License-Identifier: AGPL-3.0-or-later
// The API key lives in memory and in this tab's sessionStorage only: never localStorage, never a
// URL, never a cookie. Closing the tab or signing out forgets it.

export const SESSION_KEY = 'starmeter.panel.apiKey';

function session(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the key stays in memory only
  }
}

export function loadApiKey(): string | null {
  const v = session()?.getItem(SESSION_KEY) ?? null;
  return v && v.trim() !== '' ? v : null;
}

export function saveApiKey(key: string): void {
  try {
    session()?.setItem(SESSION_KEY, key);
  } catch {
    // quota or privacy mode: memory only
  }
}

export function forgetApiKey(): void {
  try {
    session()?.removeItem(SESSION_KEY);
  } catch {
    // nothing stored
  }
}

/** sm_live_<key_id>_<secret> -> sm_live_<key_id>_•••• ; anything else keeps 4 characters. */
export function maskApiKey(key: string): string {
  const m = /^(sm_[a-z]+_[A-Za-z0-9]+_)(.+)$/.exec(key);
  if (m && m[1]) return `${m[1]}${'•'.repeat(8)}`;
  if (key.length <= 4) return '•'.repeat(8);
  return `${key.slice(0, 4)}${'•'.repeat(8)}`;
}
