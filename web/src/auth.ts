// SPDX-License-Identifier: AGPL-3.0-or-later
// The customer's API key and the operator's admin token live in memory and in this tab's
// sessionStorage only: never localStorage, never a URL, never a cookie. Closing the tab or
// signing out forgets them, and signing in as one role forgets the other's secret.
import type { Caller } from './api';

export const SESSION_KEY = 'starmeter.panel.apiKey';
export const OPERATOR_SESSION_KEY = 'starmeter.panel.adminToken';

function session(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the secret stays in memory only
  }
}

function load(name: string): string | null {
  const v = session()?.getItem(name) ?? null;
  return v && v.trim() !== '' ? v : null;
}

function save(name: string, value: string): void {
  try {
    session()?.setItem(name, value);
  } catch {
    // quota or privacy mode: memory only
  }
}

function forget(name: string): void {
  try {
    session()?.removeItem(name);
  } catch {
    // nothing stored
  }
}

export const loadApiKey = (): string | null => load(SESSION_KEY);
export const saveApiKey = (key: string): void => save(SESSION_KEY, key);
export const forgetApiKey = (): void => forget(SESSION_KEY);

export const loadAdminToken = (): string | null => load(OPERATOR_SESSION_KEY);
export const saveAdminToken = (token: string): void => save(OPERATOR_SESSION_KEY, token);
export const forgetAdminToken = (): void => forget(OPERATOR_SESSION_KEY);

/** The caller this tab was signed in as; none when both secrets are stored, since they never mix. */
export function loadCaller(): Caller | null {
  const apiKey = loadApiKey();
  const token = loadAdminToken();
  if (apiKey && token) {
    forgetApiKey();
    forgetAdminToken();
    return null;
  }
  if (token) return { role: 'operator', token };
  if (apiKey) return { role: 'customer', apiKey };
  return null;
}

export function saveCaller(caller: Caller): void {
  if (caller.role === 'customer') {
    forgetAdminToken();
    saveApiKey(caller.apiKey);
  } else {
    forgetApiKey();
    saveAdminToken(caller.token);
  }
}

export function forgetCaller(): void {
  forgetApiKey();
  forgetAdminToken();
}

/** 32-bit FNV-1a as 8 hex digits: tells two tokens apart without keeping either. */
function fingerprint(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i += 1) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Who is asking, as the first element of every query key: "customer:<key_id>" (the public part
 * of the key) or "operator:<fingerprint>". Never the secret itself.
 */
export function callerId(caller: Caller): string {
  if (caller.role === 'operator') return `operator:${fingerprint(caller.token)}`;
  const m = /^sm_[a-z]+_([A-Za-z0-9]+)_/.exec(caller.apiKey);
  return `customer:${m?.[1] ?? fingerprint(caller.apiKey)}`;
}

/** sm_live_<key_id>_<secret> -> sm_live_<key_id>_•••• ; anything else keeps 4 characters. */
export function maskApiKey(key: string): string {
  const m = /^(sm_[a-z]+_[A-Za-z0-9]+_)(.+)$/.exec(key);
  if (m && m[1]) return `${m[1]}${'•'.repeat(8)}`;
  if (key.length <= 4) return '•'.repeat(8);
  return `${key.slice(0, 4)}${'•'.repeat(8)}`;
}
